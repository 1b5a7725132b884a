"""archive.spool and archive.manifest: durable hand-over, recovery, locking, hooks (FileStore and SeaweedFS)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from archive.manifest import ManifestWriter
from archive.spool import Pending, Spool, SpoolEntry, SpoolLockedError
from archive.store import FileStore, open_store
from archive.store.policy import Source

if TYPE_CHECKING:
    from tests.fixtures_s3 import SeaweedS3


def _spool_files(spool_dir: Path) -> list[Path]:
    return sorted((spool_dir / "objects").iterdir())


def test_spool_uploads_files_and_bytes_to_a_file_store(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "archive")
    counts: Counter[str] = Counter()
    uploaded: list[tuple[str, str]] = []
    src = tmp_path / "w.warc.gz"
    src.write_bytes(b"W" * 5000)
    with Spool(
        tmp_path / "spool",
        store,
        stats=lambda name, value: counts.update({name: value}),
        on_uploaded=lambda entry, key: uploaded.append((entry.key, key)),
    ) as spool:
        spool.add_bytes("text/s/undated/a.txt", "نص".encode(), "text/plain")
        entry = spool.add_file("warc/c/w.warc.gz", src, "application/warc")
        assert not src.exists()  # moved, not copied
        assert entry.sha256 == hashlib.sha256(b"W" * 5000).hexdigest()
        left = spool.drain(60)
        assert (left.count, left.bytes) == (0, 0)
    assert store.get_bytes("text/s/undated/a.txt") == "نص".encode()
    assert store.get_bytes("warc/c/w.warc.gz") == b"W" * 5000
    assert counts == Counter({"uploaded": 2, "bytes": 5000 + len("نص".encode())})
    assert sorted(uploaded) == [("text/s/undated/a.txt",) * 2, ("warc/c/w.warc.gz",) * 2]
    assert _spool_files(tmp_path / "spool") == []
    # What the crawl report lists is remembered; an article's text (two objects an article) is not, so the
    # spool of a crawl into S3 does not grow with the articles it stored.
    assert [e.key for e in spool.added] == ["warc/c/w.warc.gz"]


def test_spool_keep_source_and_sidecar_contents(tmp_path: Path) -> None:
    src = tmp_path / "keep.bin"
    src.write_bytes(b"abc")
    spool = Spool(tmp_path / "spool", FileStore(tmp_path / "archive"), start=False)
    try:
        entry = spool.add_file("k/keep.bin", src, "application/x-test", keep_source=True)
        assert src.read_bytes() == b"abc"
        sidecar = json.loads((tmp_path / "spool/objects" / f"{entry.id}.json").read_text())
        assert sidecar == {
            "id": entry.id,
            "key": "k/keep.bin",
            "sha256": hashlib.sha256(b"abc").hexdigest(),
            "size": 3,
            "content_type": "application/x-test",
            "created": entry.created,
        }
        assert spool.pending().count == 1 and spool.pending().bytes == 3
        with pytest.raises(ValueError):
            spool.add_bytes("../escape", b"x")
    finally:
        spool.close()


def test_spool_picks_up_leftovers_and_drops_half_written_entries(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "archive")
    first = Spool(tmp_path / "spool", store, start=False)  # a crawl that dies before uploading anything
    for i in range(5):
        first.add_bytes(f"text/s/undated/{i}.txt", f"article {i}".encode())
    assert first.close().count == 5
    # A crash between the sidecar and the data: the caller never got an entry, so nothing is owed.
    half = SpoolEntry(
        "00000000000000000001-deadbeef", "text/s/undated/half.txt", "0" * 64, 1, "text/plain", 0.0
    )
    (tmp_path / "spool/objects" / f"{half.id}.json").write_bytes(half.to_json())
    (tmp_path / "spool/objects/.stray.tmp").write_bytes(b"partial")
    with Spool(tmp_path / "spool", store) as second:
        assert second.drain(60).count == 0
    assert sorted(store.list()) == [f"text/s/undated/{i}.txt" for i in range(5)]
    assert _spool_files(tmp_path / "spool") == []


def test_spool_is_locked_against_a_second_uploader(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "archive")
    with (
        Spool(tmp_path / "spool", store, start=False),
        pytest.raises(SpoolLockedError, match="in use by another process"),
    ):
        Spool(tmp_path / "spool", store)
    Spool(tmp_path / "spool", store).close()  # released at close


def test_spool_never_uploads_a_corrupted_spool_copy(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "archive")
    counts: Counter[str] = Counter()
    spool = Spool(
        tmp_path / "spool", store, start=False, backoff=0.01, stats=lambda n, v: counts.update({n: v})
    )
    entry = spool.add_bytes("a/b.txt", b"original")
    (tmp_path / "spool/objects" / f"{entry.id}.data").write_bytes(b"bit rot!")
    left = spool.drain(60)
    spool.close()
    assert left.count == 1
    assert counts["failed/spool_corrupt"] == 1
    assert not store.exists("a/b.txt")
    assert (tmp_path / "spool/objects" / f"{entry.id}.data").exists()  # kept for a human to look at


def test_spool_to_s3_with_identical_reupload_after_crash(
    seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path
) -> None:
    store = open_store(seaweed.uri(s3_bucket), **seaweed.store_options())
    spool = Spool(tmp_path / "spool", store, start=False)
    entries = [spool.add_bytes(f"text/s/2024/05/{i:016x}.json", os.urandom(2000)) for i in range(10)]
    spool.close()
    # Simulate "uploaded, then crashed before deleting the spool copy" for the first three entries.
    for entry in entries[:3]:
        store.put_file(entry.key, tmp_path / "spool/objects" / f"{entry.id}.data")
    with Spool(tmp_path / "spool", store) as again:
        assert again.drain(120).count == 0
    keys = seaweed.keys(s3_bucket, "archive/")
    assert sorted(keys) == sorted(f"archive/{e.key}" for e in entries)  # exactly once, no name.1.json
    for entry in entries:
        info = store.stat(entry.key)
        assert info is not None and info.sha256 == entry.sha256


def test_manifest_writer_appends_lines_and_hands_over_at_close(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "archive")
    with Spool(tmp_path / "spool", store) as spool:
        writer = ManifestWriter("crawl-7", tmp_path / "work", spool)
        record = {
            "id": "0123456789abcdef",
            "url": "https://alwasat.ly/news/1",
            "site": "alwasat",
            "title": "عنوان",
            "published": "2024-05-01",
            "text_key": "text/alwasat/2024/05/0123456789abcdef.txt",
            "relevance": {"relevant": True, "score": 3.5, "matched": {"ليبيا": 2}},
            "warc": {"filename": "LIBYA-1.warc.gz", "offset": 0, "length": 10, "record_id": "<urn:uuid:x>"},
        }
        writer.write(record)
        writer.write({**record, "id": "fedcba9876543210"})
        with pytest.raises(ValueError, match="text_key"):
            writer.write({"id": "x", "url": "y"})
        assert writer.close() == "manifests/crawl-7.jsonl"
        assert spool.drain(60).count == 0
    lines = (store.get_bytes("manifests/crawl-7.jsonl") or b"").decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["0123456789abcdef", "fedcba9876543210"]
    assert json.loads(lines[0])["title"] == "عنوان"
    assert not (tmp_path / "work" / "crawl-7.jsonl").exists()


class _MeetingStore(FileStore):
    """A FileStore whose writes wait until ``parties`` of them are running at once (or fail after 60 s)."""

    def __init__(self, root: Path, parties: int) -> None:
        super().__init__(root)
        self.barrier = threading.Barrier(parties, timeout=60)

    def _write(self, key: str, source: Source, content_type: str, *, exclusive: bool) -> bool:
        self.barrier.wait()  # BrokenBarrierError (an upload failure) if the uploads ran one at a time
        return super()._write(key, source, content_type, exclusive=exclusive)


def test_spool_runs_its_uploads_concurrently_and_counts_the_backlog(tmp_path: Path) -> None:
    store = _MeetingStore(tmp_path / "archive", parties=4)
    spool = Spool(tmp_path / "spool", store, start=False, concurrency=4, retries=1)
    for n in range(8):
        spool.add_bytes(f"text/s/undated/{n}.txt", b"x" * (n + 1))
    assert spool.pending() == spool.peak == Pending(8, sum(range(1, 9)))
    spool.start()
    left = spool.drain(120)
    spool.close()
    assert (left.count, left.bytes) == (0, 0) and not spool.failed()
    assert sorted(store.list("text/")) == sorted(f"text/s/undated/{n}.txt" for n in range(8))
    assert spool.peak.count == 8  # the largest backlog seen stays
