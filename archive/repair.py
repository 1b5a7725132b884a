"""Repair WARC files left ``.open`` by a crawl that was killed: keep every whole record, drop the torn tail.

Our WARC files are gzip-per-record (one gzip member per WARC record) and written append-only, so a crash can
only damage the end of a file: a member cut short, or a member whose record is incomplete. ``repair_warc``
walks the members from the start, keeps each one that inflates completely (gzip CRC checked by zlib) into
exactly one complete WARC record (``WARC/1.x`` header, ``Content-Length`` bytes of block, the closing
``CRLF CRLF``, and a matching ``WARC-Block-Digest`` when there is one), truncates the file after the last good
member, and renames ``NAME.warc.gz.open`` to ``NAME.warc.gz`` so it is a finished file again (``warcio check``
passes). Record offsets written before the crash stay valid: nothing before the cut moves.

A file with no whole record at all is deleted. A finished ``NAME.warc.gz`` that already exists is never
overwritten (the ``.open`` file is left alone and reported). No Scrapy here; reads no settings.

    python -m archive.repair DIR_OR_FILE...
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from archive.fsutil import fsync_dir

logger = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"
_CHUNK = 1024 * 1024
_LENGTH_RE = re.compile(rb"^content-length:\s*(\d+)\s*$", re.I | re.M)
_DIGEST_RE = re.compile(rb"^warc-block-digest:\s*([a-z0-9-]+):(\S+)\s*$", re.I | re.M)


class RepairError(Exception):
    """A file that cannot be repaired safely (the message says why)."""


@dataclass(frozen=True)
class RepairResult:
    """What ``repair_warc`` did to one ``.open`` file."""

    source: Path  # the .open file
    path: Path | None  # the finished file, None when nothing whole was left (the file was deleted)
    records: int  # whole records kept
    kept_bytes: int
    dropped_bytes: int


def _record_is_whole(data: bytes) -> bool:
    """True when ``data`` is exactly one complete WARC record (headers, block, CRLF CRLF)."""
    if not data.startswith(b"WARC/"):
        return False
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = data[:end]
    match = _LENGTH_RE.search(head)
    if match is None:
        return False
    length = int(match.group(1))
    block_start = end + 4
    if len(data) != block_start + length + 4 or data[block_start + length :] != b"\r\n\r\n":
        return False
    digest = _DIGEST_RE.search(head)
    if digest is not None:
        return _digest_matches(digest.group(1), digest.group(2), data[block_start : block_start + length])
    return True


def _digest_matches(algorithm: bytes, expected: bytes, block: bytes) -> bool:
    name = algorithm.decode("ascii").lower().replace("-", "")
    try:
        raw = hashlib.new(name, block).digest()
    except ValueError:
        return True  # an algorithm we do not know: the gzip CRC already vouched for the bytes
    value = expected.decode("ascii")
    return value.upper() == base64.b32encode(raw).decode("ascii") or value.lower() == raw.hex()


def _members(path: Path) -> Iterator[tuple[int, bool]]:
    """Yield ``(end_offset, whole)`` for each gzip member of ``path``, stopping at the first bad one."""
    offset = 0  # start of the current member in the file
    with path.open("rb") as fh:
        pending = b""
        while True:
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
            out: list[bytes] = []
            consumed = 0  # compressed bytes of this member fed so far
            data = pending
            pending = b""
            while not inflater.eof:
                if not data:
                    data = fh.read(_CHUNK)
                    if not data:
                        if consumed:
                            yield offset + consumed, False  # member cut short by the crash
                        return
                try:
                    out.append(inflater.decompress(data))
                except zlib.error:
                    yield offset + consumed, False
                    return
                used = len(data) - len(inflater.unused_data)
                consumed += used
                pending = inflater.unused_data
                data = b""
            offset += consumed
            yield offset, _record_is_whole(b"".join(out))
            if not pending:
                pending = fh.read(_CHUNK)
                if not pending:
                    return


def scan(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(whole_records, good_length)``: how many leading records are whole and where the last one ends."""
    records = 0
    good = 0
    for end, whole in _members(Path(path)):
        if not whole:
            break
        records += 1
        good = end
    return records, good


def finished_name(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(OPEN_SUFFIX))


def repair_warc(path: str | os.PathLike[str]) -> RepairResult:
    """Truncate ``NAME.warc.gz.open`` after its last whole record and rename it ``NAME.warc.gz``.

    Raises ``RepairError`` when the name does not end in ``.open`` or the finished name already exists.
    """
    source = Path(path)
    if not source.name.endswith(OPEN_SUFFIX):
        raise RepairError(f"{source}: not an unfinished WARC file (no {OPEN_SUFFIX} suffix)")
    target = finished_name(source)
    if target.exists():
        raise RepairError(f"{source}: {target.name} already exists; left both files alone")
    size = source.stat().st_size
    records, good = scan(source)
    if records == 0:
        source.unlink()
        logger.warning("WARC file %s had no whole record (%d bytes); deleted", source, size)
        return RepairResult(source, None, 0, 0, size)
    with source.open("r+b") as fh:
        fh.truncate(good)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(source, target)
    fsync_dir(target.parent)
    logger.warning(
        "Repaired WARC file %s: kept %d whole records (%d bytes), dropped %d torn bytes",
        target,
        records,
        good,
        size - good,
    )
    return RepairResult(source, target, records, good, size - good)


def repair_directory(directory: str | os.PathLike[str]) -> list[RepairResult]:
    """Repair every ``*.warc.gz.open`` file in ``directory`` (not recursive); skip ones that cannot be."""
    results = []
    for path in sorted(Path(directory).glob(f"*.warc.gz{OPEN_SUFFIX}")):
        try:
            results.append(repair_warc(path))
        except RepairError as exc:
            logger.error("%s", exc)
    return results


def main(argv: list[str] | None = None) -> int:
    """Repair the ``.open`` WARC files named on the command line or found in the named directories."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m archive.repair DIR_OR_FILE...", file=sys.stderr)
        return 2
    failed = False
    for arg in args:
        target = Path(arg)
        if target.is_dir():
            results = repair_directory(target)
            failed = failed or any(target.glob(f"*.warc.gz{OPEN_SUFFIX}"))  # the ones left could not be
            for result in results:
                print(f"{result.source}: {result.records} records kept -> {result.path or 'deleted'}")
        else:
            try:
                result = repair_warc(target)
            except (RepairError, FileNotFoundError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                failed = True
                continue
            print(f"{result.source}: {result.records} records kept -> {result.path or 'deleted'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
