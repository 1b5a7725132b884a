"""A whole crawl into a real S3-compatible store (SeaweedFS), including the store being down at start."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from devtools.seaweed import SeaweedS3
from tests.crawling import run_crawl, run_scrapy, scrapy_command


def _s3_settings(seaweed: SeaweedS3) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": seaweed.endpoint_url,
        "AWS_REGION_NAME": seaweed.region,
        "S3_ADDRESSING_STYLE": "path",
        "ARCHIVE_DRAIN_TIMEOUT": "20",
    }


def _env(seaweed: SeaweedS3) -> dict[str, str]:
    # Credentials through the standard AWS chain (environment), as an operator would give them.
    return {"AWS_ACCESS_KEY_ID": seaweed.access_key, "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}


def _objects(seaweed: SeaweedS3, bucket: str) -> dict[str, bytes]:
    client = seaweed.client()
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in seaweed.keys(bucket)}


def test_crawl_survives_s3_down_at_start_and_drains_later(
    newsroom: Any, seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path
) -> None:
    sources = tmp_path / "sources.yaml"
    newsroom.write_sources(sources)
    uri = seaweed.uri(s3_bucket, "libya")
    seaweed.stop()
    try:
        result = run_crawl(
            sources,
            tmp_path / "run",
            crawl_id="s3-down",
            archive_uri=uri,
            settings={**_s3_settings(seaweed), "ARCHIVE_DRAIN_TIMEOUT": "3"},
            spider_args={"sites": "wahaa,legacy"},
            env=_env(seaweed),
        )
    finally:
        seaweed.start()
    assert result.returncode == 0, result.log[-3000:]
    assert result.stat("store/articles") > 0
    spool = tmp_path / "run" / "spool"
    assert any((spool / "objects").glob("*.data")), "the spool should hold everything while S3 is down"
    assert not _objects(seaweed, s3_bucket)

    settings = {"ARCHIVE_URI": uri, "ARCHIVE_SPOOL_DIR": str(spool), **_s3_settings(seaweed)}
    upload = run_scrapy(scrapy_command("upload", settings=settings), env=_env(seaweed), timeout=300)
    assert upload.returncode == 0, upload.stdout + upload.stderr
    objects = _objects(seaweed, s3_bucket)
    assert not list((spool / "objects").glob("*.data"))

    manifests = [key for key in objects if key.startswith("libya/manifests/")]
    assert len(manifests) == 1
    lines = [json.loads(line) for line in objects[manifests[0]].decode().splitlines()]
    assert len(lines) == result.stat("store/articles")
    for line in lines:
        text = objects["libya/" + line["text_key"]]
        assert hashlib.sha256(text).hexdigest() == line["text_sha256"]
        assert "libya/" + line["json_key"] in objects
    # Every object exactly once: no ".1" copies from a retried upload.
    assert not [key for key in objects if ".1." in key.rsplit("/", 1)[-1]]
    assert any(key.endswith(".warc.gz") for key in objects)
    assert any(key.endswith(".wacz") for key in objects)
    # The near-duplicate index could not be read at start: the crawl went on, and its dataset parts and
    # index segment waited in the spool with the rest.
    assert result.stat("corpus/index_unavailable") == 1
    assert any(key.startswith("libya/dataset/") and key.endswith(".parquet") for key in objects)
    assert any(key.startswith("libya/state/neardup/") for key in objects)

    # The secret appears nowhere: not in the log, the WARCs, the manifest, the report or any object.
    secret = seaweed.secret_key.encode()
    assert secret.decode() not in result.log
    for key, data in objects.items():
        payload = data
        if key.endswith((".gz", ".wacz")):
            import gzip
            import zipfile
            from io import BytesIO

            if key.endswith(".wacz"):
                with zipfile.ZipFile(BytesIO(data)) as package:
                    payload = b"".join(package.read(name) for name in package.namelist())
            else:
                payload = b"".join(gzip.GzipFile(fileobj=BytesIO(data)))
        assert secret not in payload, key
        assert seaweed.access_key.encode() not in payload, key
