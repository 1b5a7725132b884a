"""archive.store: URI/option validation, FileStore, and S3Store against a real SeaweedFS."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from archive.spool import Spool
from archive.store import (
    FileStore,
    S3Store,
    Source,
    StoreAccessError,
    StoreConfig,
    StoreConfigError,
    StoreIntegrityError,
    StoreNotFoundError,
    StoreSourceError,
    StoreUnavailableError,
    alternative_key,
    open_store,
)

if TYPE_CHECKING:
    from tests.fixtures_s3 import SeaweedS3


MiB = 1024 * 1024


# --- configuration ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "options", "expected"),
    [
        ("", {}, "ARCHIVE_URI is empty"),
        ("gs://bucket/x", {}, "unknown archive URI scheme 'gs'"),
        ("s3://", {}, "has no bucket"),
        ("s3:///prefix", {}, "has no bucket"),
        ("s3:/bucket/prefix", {}, "without '//'"),
        ("s3://Bad_Bucket/x", {}, "not a valid S3 bucket name"),
        ("s3://ab/x", {}, "not a valid S3 bucket name"),
        ("s3://127.0.0.1/x", {}, "not a valid S3 bucket name"),
        ("s3://bucket:9000/x", {}, "has a port"),
        ("s3://bucket/a//b", {}, "unusable prefix"),
        ("s3://bucket//a", {}, "unusable prefix"),
        ("s3://bucket/a/../b", {}, "unusable prefix"),
        ("s3://bucket/x?versionId=1", {}, "query or fragment"),
        ("file://host/dir", {}, "three slashes"),
        ("s3://bucket/x", {"addressing_style": "sideways"}, "S3_ADDRESSING_STYLE"),
        ("s3://bucket/x", {"multipart_threshold": 1024}, "S3_MULTIPART_THRESHOLD"),
        ("s3://bucket/x", {"multipart_threshold": "lots"}, "must be an integer"),
        ("s3://bucket/x", {"retries": -1}, "S3_UPLOAD_RETRIES"),
        ("s3://bucket/x", {"access_key": "AK"}, "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        ("s3://bucket/x", {"endpoint_url": "127.0.0.1:8333"}, "AWS_ENDPOINT_URL"),
        ("s3://bucket/x", {"colour": "blue"}, "unknown store option"),
    ],
)
def test_config_rejects_bad_uris_with_actionable_messages(uri: str, options: dict, expected: str) -> None:
    with pytest.raises(StoreConfigError, match=expected.replace("?", r"\?")):
        StoreConfig.from_uri(uri, options)


def test_config_never_echoes_credentials_from_the_uri() -> None:
    with pytest.raises(StoreConfigError) as info:
        StoreConfig.from_uri("s3://AKIDEXAMPLE:topsecretvalue@bucket/prefix")
    assert "topsecretvalue" not in str(info.value)
    assert "AWS_ACCESS_KEY_ID" in str(info.value)


def test_config_parses_s3_and_file_uris(tmp_path: Path) -> None:
    cfg = StoreConfig.from_uri("s3://my-bucket/news/libya/", {"region": "eu-west-1", "access_key": None})
    assert (cfg.bucket, cfg.prefix, cfg.region, cfg.access_key) == (
        "my-bucket",
        "news/libya",
        "eu-west-1",
        None,
    )
    assert cfg.uri == "s3://my-bucket/news/libya"
    assert StoreConfig.from_uri("s3://my-bucket").prefix == ""
    assert StoreConfig.from_uri(f"file://{tmp_path}/a").root == str(tmp_path / "a")
    assert StoreConfig.from_uri("relative/dir").root == os.path.abspath("relative/dir")
    # S3 options that a settings file always passes are ignored for a file store.
    assert isinstance(open_store(str(tmp_path), multipart_threshold=MiB * 64, retries=3), FileStore)


def test_config_repr_and_describe_hide_secrets() -> None:
    cfg = StoreConfig.from_uri(
        "s3://bucket/p",
        {"access_key": "AKIDVISIBLE", "secret_key": "s3cr3t-value", "session_token": "tok-value"},
    )
    store = S3Store(cfg)
    for text in (repr(cfg), str(cfg), store.describe(), repr(store)):
        assert "s3cr3t-value" not in text and "tok-value" not in text and "AKIDVISIBLE" not in text


def test_alternative_key_keeps_directory_and_extension() -> None:
    assert alternative_key("warc/c1/LIBYA-1.warc.gz", 2) == "warc/c1/LIBYA-1.2.warc.gz"
    assert alternative_key("text/a/b.json", 1) == "text/a/b.1.json"
    assert alternative_key("state/digests", 3) == "state/digests.3"
    assert alternative_key(".hidden", 1) == ".hidden.1"


# --- FileStore -------------------------------------------------------------------------------------------


def test_file_store_roundtrip_and_listing(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}/root")
    store.check()
    assert store.put_bytes("text/site/2024/05/abc.txt", "نص عربي".encode()) == "text/site/2024/05/abc.txt"
    assert store.get_bytes("text/site/2024/05/abc.txt") == "نص عربي".encode()
    assert store.exists("text/site/2024/05/abc.txt")
    assert not store.exists("text/site/2024/05/zzz.txt")
    assert store.get_bytes("missing") is None
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * MiB))
    assert store.put_file("warc/c1/a.warc.gz", src) == "warc/c1/a.warc.gz"
    assert (tmp_path / "root/warc/c1/a.warc.gz").read_bytes() == src.read_bytes()
    assert list(store.list()) == ["text/site/2024/05/abc.txt", "warc/c1/a.warc.gz"]
    assert list(store.list("warc/")) == ["warc/c1/a.warc.gz"]
    # No temp files left behind by the atomic writes.
    assert not [p for p in (tmp_path / "root").rglob(".*")]


def test_file_store_never_overwrites_silently(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    assert store.put_bytes("a/b.json", b"one") == "a/b.json"
    assert store.put_bytes("a/b.json", b"one") == "a/b.json"  # identical: idempotent, nothing written
    assert store.put_bytes("a/b.json", b"two") == "a/b.1.json"
    assert store.put_bytes("a/b.json", b"three") == "a/b.2.json"
    assert store.put_bytes("a/b.json", b"two") == "a/b.1.json"
    assert store.get_bytes("a/b.json") == b"one"
    assert store.put_bytes("a/b.json", b"four", overwrite=True) == "a/b.json"
    assert store.get_bytes("a/b.json") == b"four"
    assert list(store.list("a/")) == ["a/b.1.json", "a/b.2.json", "a/b.json"]


@pytest.mark.parametrize("key", ["../escape", "/abs", "a/../../b", "a\\b", "a//b", "a/\x00b", "", "a/./b"])
def test_file_store_rejects_keys_that_could_escape(tmp_path: Path, key: str) -> None:
    store = FileStore(tmp_path / "root")
    with pytest.raises(ValueError):
        store.put_bytes(key, b"x")
    assert not (tmp_path / "escape").exists()


def test_file_store_refuses_symlink_escape(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(ValueError, match="outside"):
        FileStore(tmp_path / "root").put_bytes("link/x", b"x")
    assert not (tmp_path / "outside" / "x").exists()


# --- S3Store against SeaweedFS ---------------------------------------------------------------------------


def test_s3_roundtrip_under_prefix(seaweed: SeaweedS3, s3_bucket: str) -> None:
    store = open_store(seaweed.uri(s3_bucket, "news/libya"), **seaweed.store_options())
    assert isinstance(store, S3Store)
    store.check()
    key = "text/alwasat/2024/05/0123456789abcdef.txt"
    assert store.put_bytes(key, "ليبيا".encode(), content_type="text/plain; charset=utf-8") == key
    assert store.get_bytes(key) == "ليبيا".encode()
    assert store.exists(key) and not store.exists("text/none.txt")
    assert store.get_bytes("text/none.txt") is None
    store.put_bytes("state/digests", b"{}")
    assert sorted(store.list()) == ["state/digests", key]
    assert list(store.list("text/")) == [key]
    # Objects really sit under the prefix, nowhere else in the bucket.
    assert set(seaweed.keys(s3_bucket)) - {"news/libya/" + key, "news/libya/state/digests"} == set()
    head = seaweed.client().head_object(Bucket=s3_bucket, Key="news/libya/" + key)
    assert head["ContentType"] == "text/plain; charset=utf-8"


def test_s3_upload_carries_and_verifies_sha256(seaweed: SeaweedS3, s3_bucket: str) -> None:
    store = open_store(seaweed.uri(s3_bucket), **seaweed.store_options())
    data = os.urandom(100_000)
    key = store.put_bytes("warc/c/x.warc.gz", data)
    info = store.stat(key)
    assert info is not None and info.sha256 == hashlib.sha256(data).hexdigest() and info.size == len(data)
    head = seaweed.client().head_object(Bucket=s3_bucket, Key="archive/" + key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    # The post-upload check compares what the server holds with what we meant to send.
    assert isinstance(store, S3Store)
    with pytest.raises(StoreIntegrityError):
        store._verify(key, Source(data=data + b"!"), None)


def _count_heads(store: S3Store) -> list[str]:
    """The keys of every HEAD request the store's own client sends (botocore's event hook, no mock)."""
    heads: list[str] = []
    store._client.meta.events.register(
        "provide-client-params.s3.HeadObject", lambda params, **_: heads.append(params["Key"])
    )
    return heads


def test_s3_small_object_gets_one_head_and_a_spooled_one_is_not_rehashed(
    seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path
) -> None:
    store = open_store(seaweed.uri(s3_bucket), **seaweed.store_options())
    assert isinstance(store, S3Store)
    heads = _count_heads(store)
    assert store.put_bytes("text/s/undated/h.json", b"{}") == "text/s/undated/h.json"
    assert heads == ["archive/text/s/undated/h.json"]  # the check after the write, nothing before it
    # Through the spool: its sidecar digest goes along, and the store's check is the only lookup.
    heads.clear()
    spool = Spool(tmp_path / "spool", store, start=False)
    spool.add_bytes("text/s/undated/i.txt", "ليبيا".encode())
    assert spool.drain(60).count == 0
    spool.close()
    assert heads == ["archive/text/s/undated/i.txt"]
    # A spool copy that no longer matches its digest is refused before anything is sent.
    src = tmp_path / "changed.txt"
    src.write_bytes(b"after")
    with pytest.raises(StoreSourceError):
        store.put_file("text/s/undated/j.txt", src, sha256=hashlib.sha256(b"befor").hexdigest(), size=5)
    assert not store.exists("text/s/undated/j.txt")


def test_s3_never_overwrites_silently(seaweed: SeaweedS3, s3_bucket: str) -> None:
    store = open_store(seaweed.uri(s3_bucket), **seaweed.store_options())
    assert store.put_bytes("text/s/undated/a.json", b"one") == "text/s/undated/a.json"
    assert store.put_bytes("text/s/undated/a.json", b"one") == "text/s/undated/a.json"
    assert store.put_bytes("text/s/undated/a.json", b"two") == "text/s/undated/a.1.json"
    assert store.put_bytes("text/s/undated/a.json", b"two") == "text/s/undated/a.1.json"
    assert store.get_bytes("text/s/undated/a.json") == b"one"
    assert store.put_bytes("text/s/undated/a.json", b"new", overwrite=True) == "text/s/undated/a.json"
    assert store.get_bytes("text/s/undated/a.json") == b"new"
    assert sorted(store.list()) == ["text/s/undated/a.1.json", "text/s/undated/a.json"]


def test_s3_conditional_put_refuses_an_existing_key(
    seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path
) -> None:
    """If-None-Match: * is what makes the no-overwrite rule race-free; SeaweedFS honours it."""
    store = open_store(seaweed.uri(s3_bucket), **seaweed.store_options(multipart_threshold=5 * MiB))
    assert isinstance(store, S3Store)
    assert store._write("k/one", Source(data=b"first"), "text/plain", exclusive=True) is True
    assert store._write("k/one", Source(data=b"second"), "text/plain", exclusive=True) is False
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(6 * MiB))
    assert store._write("k/one", Source(path=big), "application/octet-stream", exclusive=True) is False
    assert store.get_bytes("k/one") == b"first"
    assert store._conditional_put is True
    assert not seaweed.client().list_multipart_uploads(Bucket=s3_bucket).get("Uploads")


def test_s3_multipart_upload_above_threshold(seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path) -> None:
    progress: list[tuple[str, int, int]] = []
    store = open_store(
        seaweed.uri(s3_bucket),
        progress=lambda key, done, total: progress.append((key, done, total)),
        **seaweed.store_options(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB),
    )
    src = tmp_path / "LIBYA-20240501-00001.warc.gz"
    src.write_bytes(os.urandom(12 * MiB))
    key = store.put_file("warc/c1/" + src.name, src, content_type="application/warc")
    assert key == "warc/c1/" + src.name
    assert [done for _, done, _ in progress] == [5 * MiB, 10 * MiB, 12 * MiB]
    head = seaweed.client().head_object(Bucket=s3_bucket, Key="archive/" + key)
    assert head["ETag"].strip('"').endswith("-3")
    assert store.get_bytes(key) == src.read_bytes()
    info = store.stat(key)
    assert info is not None and info.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    # A re-upload of the same big file is recognised as identical.
    assert store.put_file("warc/c1/" + src.name, src) == key
    assert list(store.list()) == [key]


def test_s3_check_reports_wrong_credentials_without_leaking_them(seaweed: SeaweedS3, s3_bucket: str) -> None:
    store = open_store(seaweed.uri(s3_bucket), **seaweed.store_options(secret_key="wrong-secret-123456"))
    with pytest.raises(StoreAccessError, match="refused the credentials") as info:
        store.check()
    assert "wrong-secret-123456" not in str(info.value)
    assert seaweed.secret_key not in str(info.value)
    with pytest.raises(StoreAccessError):
        store.put_bytes("a", b"x")


def test_s3_check_reports_missing_bucket(seaweed: SeaweedS3) -> None:
    seaweed.start()
    store = open_store("s3://no-such-bucket-here/x", **seaweed.store_options())
    with pytest.raises(StoreNotFoundError, match="'no-such-bucket-here' does not exist"):
        store.check()


def test_s3_check_reports_unreachable_endpoint() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = open_store(
        "s3://some-bucket/x",
        endpoint_url=f"http://127.0.0.1:{port}",
        access_key="AK",
        secret_key="SK",
        retries=0,
        connect_timeout=1,
    )
    with pytest.raises(StoreUnavailableError, match="cannot reach"):
        store.check()


def test_s3_uses_the_standard_credential_chain(
    seaweed: SeaweedS3, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed.secret_key)
    options = seaweed.store_options()
    del options["access_key"], options["secret_key"]
    store = open_store(seaweed.uri(s3_bucket), **options)
    store.check()
    assert store.put_bytes("chain", b"ok") == "chain"
