"""archive.repair: a WARC file left ``.open`` by a killed crawl is cut after its last whole record and renamed.

The files are written by the real ``WarcRotatingWriter`` (never closed, as after SIGKILL), then torn at every
interesting offset; after repair ``warcio check`` must pass, every record written before the tear must
still be at the offset its ``CaptureRef`` gave, and nothing after the tear may survive.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.capture import Capture, CaptureRef
from archive.repair import RepairError, main, repair_directory, repair_warc, scan
from archive.warc import WarcRotatingWriter

VENV_BIN = Path(sys.executable).parent


def _capture(i: int) -> Capture:
    body = ("<html><body><p>" + f"خبر عن ليبيا رقم {i} " * 50 + "</p></body></html>").encode()
    return Capture(
        url=f"http://127.0.0.1:8000/news/{i}",
        method="GET",
        request_headers=[("User-Agent", "test"), ("Accept", "text/html")],
        status=200,
        reason="OK",
        response_headers=[("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        body=body,
        fetched_at=datetime(2024, 5, 1, 12, 0, i % 60, tzinfo=UTC),
    )


def _open_warc(directory: Path, captures: int = 5) -> tuple[Path, list[CaptureRef]]:
    """A ``.open`` WARC with ``captures`` response+request pairs, left unfinished as a crash would."""
    writer = WarcRotatingWriter(directory / "w", "LIBYA", "crash-test", warcinfo={"operator": "tests"})
    refs = [writer.write_capture(_capture(i)) for i in range(captures)]
    path = writer.current_path
    assert path is not None and path.name.endswith(".warc.gz.open")
    copy = directory / path.name
    shutil.copyfile(path, copy)  # what was on disk at the kill (warcio flushes after every record)
    writer.close()
    return copy, refs


def _member_ends(path: Path) -> list[int]:
    ends = []
    with path.open("rb") as fh:
        iterator = ArchiveIterator(fh)
        for record in iterator:
            record.content_stream().read()
            ends.append(iterator.get_record_offset() + iterator.get_record_length())
    return ends


def _warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "warcio"), "check", "-v", str(path)], capture_output=True, text=True, check=False
    )


def _records(path: Path) -> list[tuple[str, str | None]]:
    with path.open("rb") as fh:
        return [
            (r.rec_type, r.rec_headers.get_header("WARC-Target-URI"))
            for r in ArchiveIterator(fh, check_digests=True)
        ]


def test_intact_open_file_is_renamed_with_every_record(tmp_path: Path) -> None:
    path, refs = _open_warc(tmp_path)
    size = path.stat().st_size
    result = repair_warc(path)
    assert result.path == tmp_path / path.name.removesuffix(".open")
    assert not path.exists() and result.path.exists()
    assert result.records == 1 + 2 * len(refs)  # warcinfo + (response, request) per capture
    assert result.kept_bytes == size and result.dropped_bytes == 0
    assert _warcio_check(result.path).returncode == 0


def test_every_tear_point_keeps_exactly_the_whole_records(tmp_path: Path) -> None:
    original, refs = _open_warc(tmp_path, captures=3)
    ends = _member_ends(original)
    data = original.read_bytes()
    # Tear inside each member (first byte, middle, last byte missing) and exactly on each boundary.
    cuts = sorted(
        {
            c
            for start, end in zip([0, *ends[:-1]], ends, strict=True)
            for c in (start + 1, (start + end) // 2, end - 1, end)
        }
    )
    for cut in cuts:
        work = tmp_path / f"cut-{cut}"
        work.mkdir()
        torn = work / original.name
        torn.write_bytes(data[:cut])
        whole = sum(1 for end in ends if end <= cut)
        result = repair_warc(torn)
        if whole == 0:
            assert result.path is None and not torn.exists() and not list(work.iterdir()), cut
            continue
        assert result.path is not None
        assert result.records == whole, cut
        assert result.path.stat().st_size == ends[whole - 1], cut
        check = _warcio_check(result.path)
        assert check.returncode == 0, (cut, check.stdout, check.stderr)
        # Each response written before the tear is still where its CaptureRef says.
        for ref in refs:
            if ref.offset + ref.length <= ends[whole - 1]:
                with result.path.open("rb") as fh:
                    fh.seek(ref.offset)
                    record = next(iter(ArchiveIterator(fh)))
                    assert record.rec_headers.get_header("WARC-Record-ID") == ref.record_id


def test_garbage_after_the_last_record_is_dropped(tmp_path: Path) -> None:
    path, _ = _open_warc(tmp_path, captures=2)
    good = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(b"\x1f\x8b\x08\x00 not really gzip at all")
    result = repair_warc(path)
    assert result.path is not None and result.kept_bytes == good and result.dropped_bytes > 0
    assert _warcio_check(result.path).returncode == 0


def test_a_whole_gzip_member_with_an_incomplete_record_is_dropped(tmp_path: Path) -> None:
    path, _ = _open_warc(tmp_path, captures=1)
    good = path.stat().st_size
    # A member that inflates fine but holds half a record (the writer died between two write() calls).
    half = b"WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 100\r\n\r\nonly part of the block"
    wrong_digest = (
        b"WARC/1.1\r\nWARC-Type: resource\r\nWARC-Block-Digest: sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
        b"Content-Length: 3\r\n\r\nabc\r\n\r\n"
    )
    for tail in (half, wrong_digest):
        work = tmp_path / f"t{len(tail)}"
        work.mkdir()
        torn = work / path.name
        torn.write_bytes(path.read_bytes() + gzip.compress(tail))
        result = repair_warc(torn)
        assert result.path is not None and result.kept_bytes == good
        assert _warcio_check(result.path).returncode == 0
        assert scan(result.path) == (3, good)


def test_existing_finished_file_is_never_overwritten(tmp_path: Path) -> None:
    path, _ = _open_warc(tmp_path, captures=1)
    finished = path.with_name(path.name.removesuffix(".open"))
    finished.write_bytes(b"already here")
    with pytest.raises(RepairError, match="already exists"):
        repair_warc(path)
    assert path.exists() and finished.read_bytes() == b"already here"


def test_only_open_files_are_repaired(tmp_path: Path) -> None:
    with pytest.raises(RepairError, match=r"no \.open suffix"):
        repair_warc(tmp_path / "x.warc.gz")


def test_repair_directory_and_command_line(tmp_path: Path) -> None:
    first, _ = _open_warc(tmp_path / "a", captures=1)
    second, _ = _open_warc(tmp_path / "b", captures=2)
    target = tmp_path / "crawl"
    target.mkdir()
    shutil.move(first, target / first.name)
    torn = second.read_bytes()
    (target / ("X-" + second.name)).write_bytes(torn[: len(torn) - 10])
    (target / "done.warc.gz").write_bytes(b"untouched")
    results = repair_directory(target)
    assert sorted(r.records for r in results) == [3, 4]  # the torn one lost its last record
    assert not list(target.glob("*.open"))
    assert (target / "done.warc.gz").read_bytes() == b"untouched"
    for result in results:
        assert result.path is not None and _warcio_check(result.path).returncode == 0
    # Command line: nothing left to do is success; a bad argument is a clear error.
    assert main([str(target)]) == 0
    assert main([str(target / "missing.warc.gz.open")]) == 1
    proc = subprocess.run(
        [sys.executable, "-m", "archive.repair"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2 and "usage" in proc.stderr


def test_records_read_back_after_repair(tmp_path: Path) -> None:
    path, refs = _open_warc(tmp_path, captures=2)
    result = repair_warc(path)
    assert result.path is not None
    records = _records(result.path)
    assert [t for t, _ in records] == ["warcinfo", "response", "request", "response", "request"]
    assert {u for t, u in records if t == "response"} == {r.target_uri for r in refs}
