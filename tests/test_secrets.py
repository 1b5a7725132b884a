"""Credentials never reach a log, a traceback, a stats dump, a WARC, a report or an error message.

The masker on its own (``crawler.secrets``), then real crawls into a real S3 server (SeaweedFS) with the
credentials given each way an operator can (``-s``, environment, an AWS shared credentials file), and a
scrapyd job given them as ``setting=``: every byte of the output, the log files, the log scrapyd serves over
HTTP, the spool and the store is searched for them (gzip members and WACZ packages opened).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import sys
import threading
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from crawler.secrets import MASK, SecretMasker, install_log_masking
from devtools.seaweed import SeaweedS3
from tests.crawling import FAST, REPO, run_crawl, scrapy_command, scrapy_env

if TYPE_CHECKING:
    from newsroom import Newsroom
    from tests.fixtures_scrapyd import Scrapyd

pytest_plugins = ["tests.fixtures_scrapyd"]

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRET"


# --- the masker --------------------------------------------------------------------------------------------
def test_masker_finds_secrets_in_settings_environment_and_credential_files(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = AKFROMFILE1\naws_secret_access_key = file-secret-1\n"
        "[other]\naws_session_token = file-token-2\n",
        encoding="utf-8",
    )
    env = {
        "AWS_SECRET_ACCESS_KEY": "env-secret-3",
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_CONFIG_FILE": str(tmp_path / "missing"),
        "HOME": str(tmp_path),
    }
    settings = {
        "AWS_SESSION_TOKEN": "setting-token-4",
        "CRAWL_REDIS_URL": "redis://:redis-pass-5@127.0.0.1:1/0",
    }
    masker = SecretMasker.from_settings(settings, environ=env)
    values = [
        "AKFROMFILE1",
        "file-secret-1",
        "file-token-2",
        "env-secret-3",
        "setting-token-4",
        "redis-pass-5",
    ]
    text = masker.mask("values: " + " ".join(values) + " and an ordinary word")
    for value in values:
        assert value not in text
    assert text.count(MASK) == len(values) and "ordinary word" in text


def test_masker_hides_named_values_it_was_not_told_about() -> None:
    masker = SecretMasker(())
    line = (
        "{'AWS_SECRET_ACCESS_KEY': 'unknown-1', 'LOG_LEVEL': 'DEBUG'} -s AWS_SESSION_TOKEN=unknown-2 "
        'aws_secret_access_key = unknown-3 "AWS_ACCESS_KEY_ID": "unknown-4" redis://user:unknown-5@host:6379'
    )
    masked = masker.mask(line)
    for n in range(1, 6):
        assert f"unknown-{n}" not in masked, masked
    assert "'LOG_LEVEL': 'DEBUG'" in masked and "redis://user:***@host:6379" in masked


def test_log_records_are_masked_in_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("tests.secrets")
    logger.addHandler(handler)
    factory, hook, thread_hook = logging.getLogRecordFactory(), sys.excepthook, threading.excepthook
    try:
        install_log_masking(SecretMasker([SECRET]))
        logger.warning("Overridden settings:\n%(settings)s", {"settings": {"AWS_SECRET_ACCESS_KEY": SECRET}})
        try:
            raise RuntimeError(f"upload failed with key {SECRET}")
        except RuntimeError:
            logger.exception("failed: %s", SECRET)
        logger.warning("where: %s", SECRET, stack_info=True)
        errors = io.StringIO()
        with contextlib.redirect_stderr(errors):
            thread = threading.Thread(target=_raise_secret, name="uploader")
            thread.start()
            thread.join()
    finally:
        logging.setLogRecordFactory(factory)
        sys.excepthook, threading.excepthook = hook, thread_hook
        logger.removeHandler(handler)
    assert (
        "Exception in thread uploader" in errors.getvalue() and "RuntimeError: key ***" in errors.getvalue()
    )
    assert SECRET not in errors.getvalue()
    output = stream.getvalue()
    assert SECRET not in output
    assert "Overridden settings" in output and "RuntimeError: upload failed with key ***" in output
    assert "Stack (most recent call last)" in output


def _raise_secret() -> None:
    raise RuntimeError(f"key {SECRET}")


# --- real crawls -------------------------------------------------------------------------------------------
def _unpacked(name: str, data: bytes) -> Iterator[bytes]:
    """The bytes of a file and, for gzip and zip files, of what they hold (nested: WARCs inside a WACZ)."""
    yield data
    if name.endswith(".gz"):
        try:
            inner = gzip.decompress(data)
        except (OSError, EOFError):  # a WARC cut by a kill: read what is there
            inner = b"".join(_gzip_prefix(data))
        yield from _unpacked(name[:-3], inner)
    elif name.endswith((".wacz", ".zip")):
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            for member in package.namelist():
                yield from _unpacked(member, package.read(member))


def _gzip_prefix(data: bytes) -> Iterator[bytes]:
    stream = gzip.GzipFile(fileobj=io.BytesIO(data))
    while True:
        try:
            chunk = stream.read(65536)
        except (OSError, EOFError):
            return
        if not chunk:
            return
        yield chunk


def _files(root: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def _objects(seaweed: SeaweedS3, bucket: str) -> dict[str, bytes]:
    client = seaweed.client()
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in seaweed.keys(bucket)}


def _assert_nowhere(secrets: list[str], texts: dict[str, bytes]) -> None:
    leaks = []
    for name, data in texts.items():
        for payload in _unpacked(name, data):
            leaks += [(name, secret) for secret in secrets if secret.encode() in payload]
    assert not leaks, leaks


def _s3_settings(seaweed: SeaweedS3) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": seaweed.endpoint_url,
        "AWS_REGION_NAME": seaweed.region,
        "S3_ADDRESSING_STYLE": "path",
        "ARCHIVE_DRAIN_TIMEOUT": "30",
        # Debug level: botocore's request and response lines are logged too.
        "LOG_LEVEL": "DEBUG",
    }


def _no_aws_env() -> dict[str, str]:
    """What the crawl may not inherit: credentials from this machine's own environment or ~/.aws."""
    return {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""}


@pytest.mark.parametrize("way", ["setting", "environment", "credentials_file"])
def test_crawl_into_s3_leaks_no_credential(
    way: str, newsroom: Newsroom, seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path
) -> None:
    sources = newsroom.write_sources(tmp_path / "sources.yaml")
    work = tmp_path / "run"
    settings = _s3_settings(seaweed)
    env = {**_no_aws_env(), "HOME": str(tmp_path / "home")}
    if way == "setting":
        settings |= {"AWS_ACCESS_KEY_ID": seaweed.access_key, "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}
    elif way == "environment":
        env |= {"AWS_ACCESS_KEY_ID": seaweed.access_key, "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}
    else:
        credentials = tmp_path / "aws-credentials"
        credentials.write_text(
            f"[default]\naws_access_key_id = {seaweed.access_key}\n"
            f"aws_secret_access_key = {seaweed.secret_key}\n",
            encoding="utf-8",
        )
        env |= {"AWS_SHARED_CREDENTIALS_FILE": str(credentials)}
    result = run_crawl(
        sources,
        work,
        crawl_id=f"secret-{way}",
        archive_uri=seaweed.uri(s3_bucket, "libya"),
        settings=settings,
        spider_args={"sites": "wahaa"},
        env=env,
    )
    assert result.returncode == 0, result.log[-3000:]
    assert "Overridden settings" in result.log
    objects = _objects(seaweed, s3_bucket)
    # The crawl really used the credentials: its WARCs, manifest and report are in the store.
    assert any(key.endswith(".warc.gz") for key in objects) and any("/manifests/" in k for k in objects)
    assert any(key.endswith("/stats.json") for key in objects)
    secrets = [seaweed.secret_key, seaweed.access_key]
    _assert_nowhere(secrets, {"output": result.log.encode(), **_files(work), **objects})


def test_rejected_credentials_leak_nothing_in_botocore_errors(
    newsroom: Newsroom, seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path
) -> None:
    sources = newsroom.write_sources(tmp_path / "sources.yaml")
    work = tmp_path / "run"
    wrong = {"AWS_ACCESS_KEY_ID": seaweed.access_key, "AWS_SECRET_ACCESS_KEY": SECRET}
    result = run_crawl(
        sources,
        work,
        crawl_id="secret-wrong",
        archive_uri=seaweed.uri(s3_bucket, "libya"),
        settings={**_s3_settings(seaweed), **wrong, "ARCHIVE_DRAIN_TIMEOUT": "3"},
        spider_args={"sites": "wahaa"},
        env={**_no_aws_env(), "HOME": str(tmp_path / "home")},
    )
    # The start-up check stops the crawl with botocore's refusal logged (at debug level, its whole answer).
    assert result.returncode == 2, result.log[-3000:]
    assert "refused the credentials" in result.log and "Response headers" in result.log
    assert not _objects(seaweed, s3_bucket)
    _assert_nowhere([SECRET, seaweed.access_key], {"output": result.log.encode(), **_files(work)})


def _scrapyd_job_leaks_nothing(
    server: Scrapyd, sources: Path, seaweed: SeaweedS3, bucket: str, work: Path, credentials: dict[str, str]
) -> None:
    """Schedule one crawl (``credentials`` as ``setting=``), then search everything it and scrapyd left."""
    jobid = "20250101-000000-secrets"
    settings = {
        **FAST,
        **_s3_settings(seaweed),
        "ARCHIVE_URI": seaweed.uri(bucket, "libya"),
        "ARCHIVE_SPOOL_DIR": str(work / "spool"),
        "CRAWL_STATS_FILE": str(work / f"stats-{jobid}.json"),
        "RELEVANCE_TOPIC": str(REPO / "relevance" / "topics" / "libya.yaml"),
        "LOG_LEVEL": "DEBUG",
        **credentials,
    }
    args = ["--sources", str(sources), "--sites", "wahaa", "--jobid", jobid]
    for name, value in settings.items():
        args += ["-s", f"{name}={value}"]
    scheduled = server.schedule(*args)
    assert scheduled.returncode == 0, scheduled.stderr
    server.wait(jobid)
    with urllib.request.urlopen(f"{server.url}/logs/libya/libya/{jobid}.log", timeout=30) as response:
        served: bytes = response.read()
    assert b"Spider closed (finished)" in served and b"Overridden settings" in served
    objects = _objects(seaweed, bucket)
    assert any(key.endswith(".warc.gz") for key in objects)  # the job really used the credentials
    texts: dict[str, Any] = {
        "served log": served,
        "schedule output": (scheduled.stdout + scheduled.stderr).encode(),
        **_files(work),
        **_files(server.home / "logs"),
        "scrapyd's own log": server.output.read_bytes(),
        **objects,
    }
    _assert_nowhere([seaweed.secret_key, seaweed.access_key], texts)


@pytest.mark.slow
def test_scrapyd_job_given_credentials_as_settings_leaks_none(
    deployed: Scrapyd, newsroom: Newsroom, seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path
) -> None:
    sources = newsroom.write_sources(tmp_path / "sources.yaml")
    credentials = {"AWS_ACCESS_KEY_ID": seaweed.access_key, "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}
    _scrapyd_job_leaks_nothing(deployed, sources, seaweed, s3_bucket, tmp_path / "work", credentials)


@pytest.mark.slow
@pytest.mark.parametrize("way", ["environment", "credentials_file"])
def test_scrapyd_job_given_credentials_by_the_service_leaks_none(
    way: str,
    newsroom: Newsroom,
    seaweed: SeaweedS3,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The credentials in scrapyd's own environment (a systemd EnvironmentFile) or an AWS credentials file."""
    from tests.fixtures_scrapyd import Scrapyd

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if way == "environment":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed.secret_key)
    else:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        credentials = tmp_path / "aws-credentials"
        credentials.write_text(
            f"[default]\naws_access_key_id = {seaweed.access_key}\n"
            f"aws_secret_access_key = {seaweed.secret_key}\n",
            encoding="utf-8",
        )
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    server = Scrapyd(tmp_path / "scrapyd")
    server.start()
    try:
        deployed = server.deploy(tmp_path / "deploy")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        sources = newsroom.write_sources(tmp_path / "sources.yaml")
        _scrapyd_job_leaks_nothing(server, sources, seaweed, s3_bucket, tmp_path / "work", {})
    finally:
        server.stop()


def test_setup_error_line_masks_the_credential(tmp_path: Path) -> None:
    """A setting error that echoes a value (here the archive URI) never prints a credential in it."""
    import subprocess

    cmd = scrapy_command(
        "crawl",
        "libya",
        settings={
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "ARCHIVE_URI": f"ftp://user:{SECRET}@host/x",
            "LOG_FILE": str(tmp_path / "crawl.log"),
        },
    )
    proc = subprocess.run(
        cmd, cwd=REPO, env=scrapy_env(_no_aws_env()), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "ARCHIVE_URI" in proc.stderr
    _assert_nowhere([SECRET], {"output": (proc.stdout + proc.stderr).encode(), **_files(tmp_path)})
