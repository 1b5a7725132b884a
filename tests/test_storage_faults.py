"""Storage under faults, against a real SeaweedFS: server down, SIGKILLed mid-multipart, restarted.

After every scenario each object must be in the bucket exactly once with the SHA-256 of its spool copy.
Also: no credentials in logs, descriptions, sidecars or manifests; start-up errors from the Scrapy glue;
and the ``scrapy upload`` command.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.utils.test import get_crawler

from archive.manifest import ManifestWriter
from archive.spool import Spool, SpoolEntry
from archive.store import Store, StoreAccessError, StoreNotFoundError, open_store
from crawler.storage import ArchiveStorageConfig, ArchiveStorageExtension
from tests.crawling import run_scrapy, scrapy_command

if TYPE_CHECKING:
    from tests.fixtures_s3 import SeaweedS3


MiB = 1024 * 1024


def _assert_exactly_once(seaweed: SeaweedS3, bucket: str, store: Store, expected: dict[str, str]) -> None:
    """Every expected key once (no ``name.1.ext`` duplicates), with the expected SHA-256."""
    keys = seaweed.keys(bucket, "archive/")
    assert sorted(keys) == sorted(f"archive/{key}" for key in expected)
    for key, sha in expected.items():
        data = store.get_bytes(key)
        assert data is not None and hashlib.sha256(data).hexdigest() == sha, key


def _messages(caplog: pytest.LogCaptureFixture, needle: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if needle in r.getMessage()]


def test_server_down_at_start_keeps_everything_then_uploads_all(
    seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="archive")
    store = open_store(seaweed.uri(s3_bucket), **seaweed.store_options(retries=0))
    seaweed.stop()
    expected: dict[str, str] = {}
    with Spool(tmp_path / "spool", store, backoff=0.05, max_backoff=0.5) as spool:
        for i in range(20):
            data = os.urandom(1000 + i)
            spool.add_bytes(f"text/s/2024/05/{i:016x}.txt", data)
            expected[f"text/s/2024/05/{i:016x}.txt"] = hashlib.sha256(data).hexdigest()
        left = spool.drain(timeout=3)
        assert (left.count, left.bytes) == (20, sum(1000 + i for i in range(20)))
        assert len(list((tmp_path / "spool/objects").glob("*.data"))) == 20
        assert len(_messages(caplog, "is unavailable")) == 1  # once per outage, not once per file or retry
        seaweed.start()
        assert spool.drain(timeout=180).count == 0
    assert len(_messages(caplog, "reachable again")) == 1
    _assert_exactly_once(seaweed, s3_bucket, store, expected)
    assert list((tmp_path / "spool/objects").iterdir()) == []


def test_server_killed_during_multipart_upload(seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path) -> None:
    part_done = threading.Event()
    release = threading.Event()

    def progress(key: str, done: int, total: int) -> None:
        if not part_done.is_set():
            part_done.set()
            release.wait(120)  # hold the uploader between parts while the test kills the server

    store = open_store(
        seaweed.uri(s3_bucket),
        progress=progress,
        **seaweed.store_options(retries=0, multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB),
    )
    src = tmp_path / "LIBYA-00001.warc.gz"
    src.write_bytes(os.urandom(12 * MiB))
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    small = b"small object queued behind the big one"
    with Spool(tmp_path / "spool", store, backoff=0.05, max_backoff=0.5) as spool:
        spool.add_file("warc/c1/LIBYA-00001.warc.gz", src, "application/warc")
        spool.add_bytes("state/digests", small)
        assert part_done.wait(120), "the multipart upload never got past its first part"
        seaweed.kill()
        release.set()
        left = spool.drain(timeout=3)
        assert left.count == 2 and left.bytes == 12 * MiB + len(small)
        seaweed.start()
        assert spool.drain(timeout=180).count == 0
    expected = {"warc/c1/LIBYA-00001.warc.gz": sha, "state/digests": hashlib.sha256(small).hexdigest()}
    _assert_exactly_once(seaweed, s3_bucket, store, expected)


def test_server_restarted_while_uploading(seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path) -> None:
    store = open_store(seaweed.uri(s3_bucket), **seaweed.store_options(retries=0))
    some_uploaded = threading.Event()
    done: list[str] = []

    def on_uploaded(entry: SpoolEntry, key: str) -> None:
        done.append(key)
        if len(done) >= 5:
            some_uploaded.set()

    expected: dict[str, str] = {}
    with Spool(tmp_path / "spool", store, backoff=0.05, max_backoff=0.5, on_uploaded=on_uploaded) as spool:
        for i in range(60):
            data = os.urandom(50_000)
            spool.add_bytes(f"text/s/undated/{i:016x}.json", data)
            expected[f"text/s/undated/{i:016x}.json"] = hashlib.sha256(data).hexdigest()
        assert some_uploaded.wait(120)
        seaweed.restart()
        assert spool.drain(timeout=180).count == 0
    assert sorted(done) == sorted(expected)
    _assert_exactly_once(seaweed, s3_bucket, store, expected)


def test_no_secret_in_logs_descriptions_sidecars_or_manifests(
    seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # botocore included
    store = open_store(seaweed.uri(s3_bucket), **seaweed.store_options())
    spool = Spool(tmp_path / "spool", store, start=False)
    writer = ManifestWriter("crawl-secret", tmp_path / "work", spool)
    writer.write({"id": "0123456789abcdef", "url": "https://x.ly/1", "text_key": "text/x/undated/a.txt"})
    writer.close()
    spool.add_bytes("text/x/undated/a.txt", b"text")
    sidecars = b"".join(p.read_bytes() for p in (tmp_path / "spool/objects").glob("*.json"))
    spool.start()
    assert spool.drain(60).count == 0
    spool.close()
    bad = open_store(seaweed.uri(s3_bucket), **seaweed.store_options(secret_key=seaweed.secret_key[::-1]))
    with pytest.raises(StoreAccessError) as refused:
        bad.check()
    texts = [
        caplog.text,
        store.describe(),
        repr(store),
        repr(getattr(store, "config", None)),
        str(refused.value),
        sidecars.decode(),
        (store.get_bytes("manifests/crawl-secret.jsonl") or b"").decode(),
    ]
    assert "manifests/crawl-secret.jsonl" in caplog.text  # the capture did see our logging
    for text in texts:
        assert seaweed.secret_key not in text
        assert seaweed.secret_key[::-1] not in text


# --- Scrapy glue -----------------------------------------------------------------------------------------


def _settings(seaweed: SeaweedS3, bucket: str, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    settings = {
        "ARCHIVE_URI": seaweed.uri(bucket),
        "ARCHIVE_SPOOL_DIR": str(tmp_path / "spool"),
        "AWS_ENDPOINT_URL": seaweed.endpoint_url,
        "AWS_REGION_NAME": seaweed.region,
        "AWS_ACCESS_KEY_ID": seaweed.access_key,
        "AWS_SECRET_ACCESS_KEY": seaweed.secret_key,
        "S3_ADDRESSING_STYLE": "path",
        "S3_UPLOAD_RETRIES": 1,
        "ARCHIVE_DRAIN_TIMEOUT": 60,
    }
    settings.update(extra)
    return settings


def test_extension_uploads_and_counts(seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path) -> None:
    crawler = get_crawler(settings_dict=_settings(seaweed, s3_bucket, tmp_path))
    ext = ArchiveStorageExtension.from_crawler(crawler)
    assert crawler.archive_storage is ext  # type: ignore[attr-defined]
    ext.put_text("text/s/undated/a.txt", "نص المقال")
    ext.put_json("text/s/undated/a.json", {"title": "عنوان"})
    warc = tmp_path / "x.warc.gz"
    warc.write_bytes(b"WARC" * 100)
    ext.add_file("warc/c/x.warc.gz", warc)
    assert crawler.stats is not None
    ext.close()
    stats = crawler.stats.get_stats()
    assert stats["storage/uploaded"] == 3
    assert stats["storage/bytes"] == 400 + len("نص المقال".encode()) + len(
        ext.store.get_bytes("text/s/undated/a.json") or b""
    )
    assert ext.spool.pending().count == 0
    assert "عنوان" in (ext.store.get_bytes("text/s/undated/a.json") or b"").decode()
    assert seaweed.secret_key not in repr(ext.config)


@pytest.mark.parametrize(
    ("override", "error", "message"),
    [
        ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, StoreAccessError, "refused the credentials"),
        ({"ARCHIVE_URI": "s3://no-such-bucket-xyz/p"}, StoreNotFoundError, "does not exist"),
        ({"ARCHIVE_URI": "s3:///p"}, ValueError, "has no bucket"),
    ],
)
def test_extension_refuses_to_start_with_bad_storage(
    seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path, override: dict[str, str], error: type, message: str
) -> None:
    crawler = get_crawler(settings_dict=_settings(seaweed, s3_bucket, tmp_path, **override))
    with pytest.raises(error, match=message) as info:
        ArchiveStorageExtension.from_crawler(crawler)
    assert seaweed.secret_key not in str(info.value) and "not-the-secret" not in str(info.value)
    assert not hasattr(crawler, "archive_storage")


def test_config_rejects_spool_inside_file_archive(tmp_path: Path) -> None:
    crawler = get_crawler(
        settings_dict={"ARCHIVE_URI": str(tmp_path), "ARCHIVE_SPOOL_DIR": str(tmp_path / "sp")}
    )
    with pytest.raises(ValueError, match="must not contain each other"):
        ArchiveStorageConfig.from_settings(crawler.settings)


def _scrapy_upload(seaweed: SeaweedS3, bucket: str, spool_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "AWS_ACCESS_KEY_ID": seaweed.access_key,  # through the standard credential chain
        "AWS_SECRET_ACCESS_KEY": seaweed.secret_key,
    }
    settings = {
        "ARCHIVE_SPOOL_DIR": str(spool_dir),
        "AWS_ENDPOINT_URL": seaweed.endpoint_url,
        "S3_ADDRESSING_STYLE": "path",
        "S3_UPLOAD_RETRIES": "0",
        "AWS_REGION_NAME": "us-east-1",
    }
    command = scrapy_command(
        "upload", "--archive-uri", seaweed.uri(bucket), "--timeout", "5", settings=settings
    )
    return run_scrapy(command, env=env, timeout=300)


def test_scrapy_upload_drains_the_spool(seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path) -> None:
    store = open_store(seaweed.uri(s3_bucket), **seaweed.store_options())
    spool = Spool(tmp_path / "spool", store, start=False)
    spool.add_bytes("text/s/undated/1.txt", b"one")
    spool.add_bytes("text/s/undated/2.txt", b"two")
    spool.close()
    seaweed.stop()
    down = _scrapy_upload(seaweed, s3_bucket, tmp_path / "spool")
    assert down.returncode == 1, down.stdout + down.stderr
    assert "2 objects (6 bytes) left" in down.stdout
    seaweed.start()
    up = _scrapy_upload(seaweed, s3_bucket, tmp_path / "spool")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "uploaded text/s/undated/1.txt (3 bytes)" in up.stdout
    assert "0 objects (0 bytes) left" in up.stdout
    assert seaweed.secret_key not in up.stdout + up.stderr + down.stdout + down.stderr
    assert sorted(store.list()) == ["text/s/undated/1.txt", "text/s/undated/2.txt"]
