"""One replay collection over the whole store: every crawl's records in one index, a pywb config, a package list.

The store keeps each crawl's WARC files with their CDXJ beside them (``warc/<crawl-id>/*.warc.gz`` and
``*.cdxj``: one or several of each per crawl) and its WACZ packages (``wacz/<crawl-id>/<warc name>.wacz``,
one per WARC file; older crawls: ``wacz/<crawl-id>.wacz``). The collection lives in ``<store>/collection/``:

- ``indexes/``: the merged, sorted CDXJ of every crawl, as a few sorted *parts* (``parts.json`` lists them,
  oldest first), each ``filename`` made relative to ``<store>/warc/`` (``<crawl-id>/<file>.warc.gz``), so a
  revisit record of one crawl resolves to the payload an earlier crawl archived: pywb looks the original up
  in the same collection. pywb reads every part of the directory and merges their answers;
- ``config.yaml``: a pywb config with one collection (``libya`` by default) over that directory, whose
  archive path is the store's ``warc/`` directory, both relative, so the store can move; run pywb with this
  directory as its working directory (``scrapy replay`` does);
- ``collection.json``: the WACZ packages as one multi-package description (``profile: multi-wacz-package``;
  name, path relative to the collection directory, size, SHA-256, crawl id). ReplayWeb.page opens it
  (``?source=<url of collection.json>``) and replays every crawl from it, revisits across packages included.

Two ways to keep it:

- ``build_collection(store)`` rebuilds everything from the store's CDXJ files: a k-way merge of files that
  are each sorted already (linear, no sort of the whole), one part;
- ``add_crawl(store, crawl_id, cdxj_files, packages)`` (``crawler.collection`` calls it as each crawl
  closes): the crawl's own CDXJ merged into one new part, then size-tiered compaction: while the part
  before the newest holds at most ``COMPACT_FACTOR`` times its lines, the two are merged (sorted runs
  merged, nothing re-sorted). The number of parts stays logarithmic in the index's size and each line is
  rewritten a logarithmic number of times, so a crawl's close costs about its own index, not the store's.
  A merge bigger than ``COMPACT_MAX_LINES`` is left to the next full rebuild, so no close waits for one
  (``bench/collection.py`` measures it).

A part of ``ZIPNUM_MIN_LINES`` lines or more is written ZipNum-style (pywb's compressed index): ``<part>.cdxj.gz``
is gzip members of ``ZIPNUM_BLOCK_LINES`` lines each, ``<part>.idx`` one line per block (first key, part
name, offset, length, block number, tab-separated) and ``<part>.loc`` where the part's blocks are. Smaller
parts stay plain ``<part>.cdxj``. Updates take a lock (``.lock``: one crawl at a time), write new parts
before they drop the parts these replace (a reader may see a line twice for a moment, never miss one).

A store on a local disk holds its collection. For an S3 store, ``build_remote_collection`` makes one in a
local directory: the index (from the crawls' CDXJ in the store) is local, pywb reads the WARC records
from S3 (byte ranges, boto3).
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import heapq
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

logger = logging.getLogger(__name__)

COLLECTION_DIR = "collection"
DEFAULT_NAME = "libya"
PARTS_FILE = "parts.json"
#: A part with this many lines or more is written ZipNum-style (compressed blocks + a block index).
ZIPNUM_MIN_LINES = 100_000
#: Lines per compressed block: pywb reads whole blocks (3000 is what pywb's and py-wacz's writers use).
ZIPNUM_BLOCK_LINES = 3000
#: Merge the newest part into the one before it while that one holds at most this many times its lines.
COMPACT_FACTOR = 4
#: At a crawl's close, no merge that would write more lines than this (a bigger one waits for
#: ``build_collection``, e.g. ``scrapy collection build`` run nightly): the close stays about a second.
COMPACT_MAX_LINES = 250_000


@dataclass(frozen=True)
class Part:
    """One sorted part of the index: ``<name>.cdxj``, or ZipNum ``<name>.idx/.loc/.cdxj.gz``."""

    name: str
    lines: int
    zipnum: bool
    crawls: tuple[str, ...]

    def files(self) -> tuple[str, ...]:
        return (
            (f"{self.name}.idx", f"{self.name}.loc", f"{self.name}.cdxj.gz")
            if self.zipnum
            else (f"{self.name}.cdxj",)
        )

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "lines": self.lines, "zipnum": self.zipnum, "crawls": list(self.crawls)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Part:
        crawls = data.get("crawls") or []
        assert isinstance(crawls, list)
        return cls(
            str(data["name"]), int(str(data["lines"])), bool(data.get("zipnum")), tuple(map(str, crawls))
        )


@dataclass(frozen=True)
class Collection:
    directory: Path
    name: str
    indexes: Path
    config: Path
    description: Path
    records: int
    crawls: tuple[str, ...]
    parts: tuple[Part, ...] = ()


@dataclass
class Update:
    """What ``add_crawl`` did: the crawl's lines, the parts merged by compaction, seconds taken."""

    collection: Collection
    added: int
    merged: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def crawl_indexes(warc_root: Path) -> list[Path]:
    """The per-file CDXJ indexes of every crawl in ``<store>/warc/`` (``<crawl-id>/<name>.cdxj``)."""
    return sorted(p for p in warc_root.glob("*/*.cdxj") if p.is_file())


def _relative_lines(index: Path, crawl_dir: str) -> Iterator[str]:
    """The CDXJ lines of one crawl's index file, its ``filename`` made ``<crawl_dir>/<file>``."""
    with index.open(encoding="utf-8") as fh:
        for line in fh:
            key, sep, rest = line.rstrip("\n").partition(" {")
            if not sep:
                continue
            fields = json.loads("{" + rest)
            name = str(fields.get("filename", ""))
            if name and "/" not in name:
                fields["filename"] = f"{crawl_dir}/{name}"
            yield f"{key} {json.dumps(fields, ensure_ascii=False)}\n"


def _sort_key(line: str) -> str:
    return line.partition(" {")[0]  # SURT key and timestamp: the order the per-file indexes are in


def _merge(runs: Iterable[Iterator[str]]) -> Iterator[str]:
    """Sorted runs merged into one sorted stream; an exact repeat of the line before is dropped (the same
    crawl added twice, a part left over by an interrupted update)."""
    previous = None
    for line in heapq.merge(*runs, key=_sort_key):
        if line != previous:
            yield line
        previous = line


def merge_indexes(indexes: Sequence[Path], warc_root: Path, out: Path) -> int:
    """Merge sorted CDXJ files into ``out`` (sorted, filenames relative to ``warc_root``); lines written."""
    runs = (_relative_lines(index, index.parent.relative_to(warc_root).as_posix()) for index in indexes)
    return _write_plain(_merge(runs), out)


def _write_plain(lines: Iterable[str], out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line)
            count += 1
    os.replace(tmp, out)
    return count


def write_zipnum(
    lines: Iterable[str], directory: Path, name: str, block_lines: int = ZIPNUM_BLOCK_LINES
) -> int:
    """``lines`` (sorted) as a ZipNum part ``name`` in ``directory``; lines written."""
    data, idx, loc = (directory / f"{name}{ext}" for ext in (".cdxj.gz", ".idx", ".loc"))
    tmp_data, tmp_idx = data.with_name(data.name + ".tmp"), idx.with_name(idx.name + ".tmp")
    count = offset = block_no = 0
    block: list[str] = []

    def flush(out: BinaryIO, index: TextIO) -> None:
        nonlocal offset, block_no
        compressed = gzip.compress("".join(block).encode("utf-8"), compresslevel=6, mtime=0)
        out.write(compressed)
        index.write(f"{_sort_key(block[0])}\t{name}\t{offset}\t{len(compressed)}\t{block_no + 1}\n")
        offset += len(compressed)
        block_no += 1
        block.clear()

    with tmp_data.open("wb") as out, tmp_idx.open("w", encoding="utf-8") as index:
        for line in lines:
            block.append(line)
            count += 1
            if len(block) >= block_lines:
                flush(out, index)
        if block:
            flush(out, index)
    loc.write_text(f"{name}\t{data.name}\n", encoding="utf-8")
    os.replace(tmp_data, data)
    os.replace(tmp_idx, idx)  # last: pywb picks a part up by its .idx
    return count


def read_part(directory: Path, part: Part) -> Iterator[str]:
    """The lines of one part, in order."""
    if not part.zipnum:
        with (directory / f"{part.name}.cdxj").open(encoding="utf-8") as fh:
            yield from fh
        return
    with gzip.open(directory / f"{part.name}.cdxj.gz", "rt", encoding="utf-8") as text:
        yield from text  # the blocks are gzip members: one stream when read in order


def _write_part(
    lines: Iterable[str], directory: Path, name: str, crawls: Iterable[str], size_hint: int, zipnum_min: int
) -> Part:
    """One part from sorted ``lines``: ZipNum when ``size_hint`` (the lines going in: the part holds at most
    as many, repeats dropped) reaches ``zipnum_min``, else plain."""
    zipnum = size_hint >= zipnum_min
    if zipnum:
        count = write_zipnum(lines, directory, name)
    else:
        count = _write_plain(lines, directory / f"{name}.cdxj")
    return Part(name, count, zipnum, tuple(sorted(set(crawls))))


def _load_parts(indexes: Path) -> list[Part]:
    path = indexes / PARTS_FILE
    if not path.is_file():
        return []
    return [Part.from_json(p) for p in json.loads(path.read_text(encoding="utf-8"))["parts"]]


def _save_parts(indexes: Path, parts: Sequence[Part]) -> None:
    tmp = indexes / (PARTS_FILE + ".tmp")
    tmp.write_text(json.dumps({"parts": [p.to_json() for p in parts]}, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, indexes / PARTS_FILE)


def _new_part_name(parts: Sequence[Part]) -> str:
    used = {p.name for p in parts}
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    n = 0
    while f"part-{stamp}-{n:03d}" in used:
        n += 1
    return f"part-{stamp}-{n:03d}"


def _drop(indexes: Path, parts: Iterable[Part]) -> None:
    for part in parts:
        for name in part.files():
            (indexes / name).unlink(missing_ok=True)


def _compact(indexes: Path, parts: list[Part], zipnum_min: int, max_lines: int) -> list[str]:
    """Size-tiered: merge the two newest parts while the older holds <= COMPACT_FACTOR x the newer's lines
    and the merge writes at most ``max_lines``."""
    merged: list[str] = []
    while (
        len(parts) >= 2
        and parts[-2].lines <= COMPACT_FACTOR * parts[-1].lines
        and parts[-2].lines + parts[-1].lines <= max_lines
    ):
        older, newer = parts[-2], parts[-1]
        name = _new_part_name(parts)
        part = _write_part(
            _merge([read_part(indexes, older), read_part(indexes, newer)]),
            indexes,
            name,
            older.crawls + newer.crawls,
            older.lines + newer.lines,
            zipnum_min,
        )
        parts[-2:] = [part]
        _save_parts(indexes, parts)
        _drop(indexes, [older, newer])
        merged.extend([older.name, newer.name])
    return merged


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pywb_config(name: str, archive_paths: str = "../warc/") -> str:
    """The pywb config.yaml of the collection directory (paths relative to it)."""
    return (
        "# Written by archive.collection: every crawl of the store in one collection.\n"
        "collections:\n"
        f"  {name}:\n"
        "    index_paths: ./indexes/\n"
        f"    archive_paths: {archive_paths}\n"
        "enable_memento: true\n"
        "framed_replay: true\n"
    )


def _crawl_of(package: Path, crawls: Sequence[str]) -> str:
    """The crawl a package belongs to: ``<crawl-id>/<warc name>.wacz`` (one per WARC file), or
    ``<crawl-id>.wacz`` / ``<crawl-id>.<part>.wacz`` as older crawls wrote them (longest match)."""
    if package.parent.name != "wacz":
        return package.parent.name
    stem = package.name[: -len(".wacz")]
    for crawl in sorted(crawls, key=len, reverse=True):
        if stem == crawl or stem.startswith(crawl + ".") or stem.startswith(crawl + "-"):
            return crawl
    return stem


@dataclass(frozen=True)
class Package:
    """A WACZ on its way to ``<store>/wacz/<name>`` (handed to the store's uploads, maybe not there yet);
    ``name`` is the path under ``wacz/`` (``<crawl-id>/<warc name>.wacz``)."""

    name: str
    size: int
    sha256: str
    crawl_id: str


def store_packages(wacz_root: Path) -> list[Path]:
    """Every WACZ in ``<store>/wacz/``: ``<crawl-id>/*.wacz`` and the older ``*.wacz`` beside them."""
    if not wacz_root.is_dir():
        return []
    return sorted(p for pattern in ("*.wacz", "*/*.wacz") for p in wacz_root.glob(pattern) if p.is_file())


def write_description(
    root: Path, directory: Path, crawls: Sequence[str], coming: Sequence[Package] = ()
) -> Path:
    """``collection.json``: every WACZ in ``<store>/wacz/`` and the ``coming`` ones; a package's SHA-256 is
    computed once (kept while its size is unchanged)."""
    description = directory / "collection.json"
    wacz_root = root / "wacz"
    known: dict[str, dict[str, object]] = {}
    if description.is_file():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            known = {
                str(r["key"]): r for r in json.loads(description.read_text(encoding="utf-8"))["resources"]
            }
    for new in coming:
        known[new.name] = {"size": new.size, "hash": "sha256:" + new.sha256}
    packages = {p.relative_to(wacz_root).as_posix(): p for p in store_packages(wacz_root)}
    for new in coming:
        packages.setdefault(new.name, wacz_root / new.name)
    crawl_of = {p.name: p.crawl_id for p in coming}
    resources = []
    for key, package in sorted(packages.items()):
        old = known.get(key)
        if not package.exists() and old is not None:  # handed to the store's uploads, not there yet
            size, digest = old["size"], str(old["hash"])
        else:
            size = package.stat().st_size
            digest = str(old["hash"]) if old and old.get("size") == size else "sha256:" + _sha256(package)
        resources.append(
            {
                "name": package.name,
                "key": key,
                "path": os.path.relpath(package, directory),
                "size": size,
                "hash": digest,
                "crawlId": crawl_of.get(key) or _crawl_of(package, crawls),
            }
        )
    tmp = description.with_name(description.name + ".tmp")
    tmp.write_text(
        json.dumps(
            {
                "profile": "multi-wacz-package",
                "title": f"Libya news archive: {len(resources)} package(s)",
                "resources": resources,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    os.replace(tmp, description)
    return description


def _collection(root: Path, name: str, parts: Sequence[Part]) -> Collection:
    directory = root / COLLECTION_DIR
    crawls = tuple(sorted({c for p in parts for c in p.crawls}))
    return Collection(
        directory=directory,
        name=name,
        indexes=directory / "indexes",
        config=directory / "config.yaml",
        description=directory / "collection.json",
        records=sum(p.lines for p in parts),
        crawls=crawls,
        parts=tuple(parts),
    )


def _rebuild(
    warc_root: Path, directory: Path, name: str, archive_paths: str, zipnum_min_lines: int
) -> tuple[Part, list[str]]:
    """One part from every CDXJ under ``warc_root`` into ``directory/indexes``; the pywb config. Locked."""
    indexes_dir = directory / "indexes"
    indexes_dir.mkdir(parents=True, exist_ok=True)
    old = _load_parts(indexes_dir)
    files = crawl_indexes(warc_root) if warc_root.is_dir() else []
    crawls = sorted({p.parent.name for p in files})
    total = 0
    for f in files:
        with f.open(encoding="utf-8") as fh:
            total += sum(1 for _ in fh)
    runs = (_relative_lines(f, f.parent.relative_to(warc_root).as_posix()) for f in files)
    part = _write_part(_merge(runs), indexes_dir, _new_part_name(old), crawls, total, zipnum_min_lines)
    _save_parts(indexes_dir, [part])
    _drop(indexes_dir, [p for p in old if p.name != part.name])
    # An index written before the parts (a single index.cdxj) is replaced by the part.
    (indexes_dir / "index.cdxj").unlink(missing_ok=True)
    (directory / "config.yaml").write_text(pywb_config(name, archive_paths), encoding="utf-8")
    return part, crawls


def build_collection(
    store_root: Path | str, name: str = DEFAULT_NAME, *, zipnum_min_lines: int = ZIPNUM_MIN_LINES
) -> Collection:
    """(Re)build ``<store>/collection/`` from every crawl in the store, as one part; see the module docstring."""
    root = Path(store_root)
    directory = root / COLLECTION_DIR
    with _locked(directory):
        part, crawls = _rebuild(root / "warc", directory, name, "../warc/", zipnum_min_lines)
        write_description(root, directory, crawls)
        collection = _collection(root, name, [part])
    logger.info(
        "Collection %s: %d record(s) of %d crawl(s) in %s", name, collection.records, len(crawls), directory
    )
    return collection


def build_remote_collection(
    store: Any, directory: Path | str, name: str = DEFAULT_NAME, *, zipnum_min_lines: int = ZIPNUM_MIN_LINES
) -> Collection:
    """A collection in the local ``directory`` over a store that is not a local directory (S3).

    The crawls' CDXJ files (small) are fetched from the store into ``directory/sources/``; the WARC files stay
    where they are: the pywb config's archive path is the store's own (``s3://bucket/prefix/warc/``), read
    by pywb with boto3 (in its venv: scripts/pywb-venv.sh) on the credentials and endpoint of its
    environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL_S3``). No
    ``collection.json``: ReplayWeb.page would need the packages over HTTP(S) from the bucket, with CORS.
    """
    directory = Path(directory)
    sources = directory / "sources" / "warc"
    with _locked(directory):
        shutil.rmtree(sources, ignore_errors=True)
        for key in store.list("warc/"):
            parts = key.split("/")
            if len(parts) != 3 or not key.endswith(".cdxj"):
                continue
            data = store.get_bytes(key)
            if data is None:
                continue
            target = sources / parts[1] / parts[2]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        archive_paths = str(store.uri).rstrip("/") + "/warc/"
        part, crawls = _rebuild(sources, directory, name, archive_paths, zipnum_min_lines)
        collection = Collection(
            directory=directory,
            name=name,
            indexes=directory / "indexes",
            config=directory / "config.yaml",
            description=directory / "collection.json",
            records=part.lines,
            crawls=tuple(crawls),
            parts=(part,),
        )
    logger.info("Collection %s over %s: %d record(s) in %s", name, store.describe(), part.lines, directory)
    return collection


def add_crawl(
    store_root: Path | str,
    crawl_id: str,
    cdxj_files: Sequence[Path],
    packages: Sequence[Package] = (),
    name: str = DEFAULT_NAME,
    *,
    zipnum_min_lines: int = ZIPNUM_MIN_LINES,
    compact_max_lines: int = COMPACT_MAX_LINES,
) -> Update:
    """Add one crawl's CDXJ files (wherever they are now; their WARCs under ``warc/<crawl_id>/``) to the
    store's collection: one new part, then compaction; ``collection.json`` and the config refreshed."""
    started, cpu = time.monotonic(), time.thread_time()
    root = Path(store_root)
    directory = root / COLLECTION_DIR
    indexes_dir = directory / "indexes"
    with _locked(directory):
        indexes_dir.mkdir(parents=True, exist_ok=True)
        parts = _load_parts(indexes_dir)
        added = 0
        merged: list[str] = []
        if cdxj_files:
            total = sum(1 for f in cdxj_files for _ in f.open(encoding="utf-8"))
            runs = (_relative_lines(f, crawl_id) for f in cdxj_files)
            part = _write_part(
                _merge(runs), indexes_dir, _new_part_name(parts), [crawl_id], total, zipnum_min_lines
            )
            added = part.lines
            parts.append(part)
            _save_parts(indexes_dir, parts)
            merged = _compact(indexes_dir, parts, zipnum_min_lines, compact_max_lines)
        (directory / "config.yaml").write_text(pywb_config(name), encoding="utf-8")
        crawls = sorted({c for p in parts for c in p.crawls})
        write_description(root, directory, crawls, packages)
        collection = _collection(root, name, parts)
    seconds, cpu = time.monotonic() - started, time.thread_time() - cpu
    logger.info(
        "Collection %s: crawl %s added (%d record(s)), %d part(s), %d record(s) in all, %.2f s",
        name,
        crawl_id,
        added,
        len(parts),
        collection.records,
        seconds,
    )
    return Update(collection, added, merged, seconds, cpu)
