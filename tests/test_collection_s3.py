"""A collection over an S3 store (SeaweedFS): the index built locally from the crawls' CDXJ in the bucket,
pywb (boto3 in its venv) reading the WARC records from S3 by byte range."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.seaweed import SeaweedS3
from tests.crawling import run_crawl, run_scrapy, scrapy_command


def _s3_settings(seaweed: SeaweedS3) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": seaweed.endpoint_url,
        "AWS_REGION_NAME": seaweed.region,
        "S3_ADDRESSING_STYLE": "path",
        "ARCHIVE_DRAIN_TIMEOUT": "60",
    }


@pytest.mark.timeout(900)
def test_pywb_replays_a_crawl_from_s3(
    newsroom: Any, seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path, pywb_in: Callable[..., Any]
) -> None:
    entry = next(s for s in newsroom.sources()["sites"] if s["name"] == "wahaa")
    entry["render"] = "never"
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sites": [entry]}), encoding="utf-8")
    uri = seaweed.uri(s3_bucket, "libya")
    credentials = {"AWS_ACCESS_KEY_ID": seaweed.access_key, "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}
    crawl = run_crawl(
        sources,
        tmp_path / "run",
        crawl_id="s3-coll",
        archive_uri=uri,
        settings=_s3_settings(seaweed),
        env=credentials,
    )
    assert crawl.returncode == 0, crawl.log[-3000:]
    assert "not updated at close: the store" in crawl.log  # no local collection for an S3 store
    keys = seaweed.keys(s3_bucket, "libya/warc/s3-coll/")
    assert any(k.endswith(".warc.gz") for k in keys) and any(k.endswith(".cdxj") for k in keys)

    output = tmp_path / "collection"
    settings = {"ARCHIVE_URI": uri, **_s3_settings(seaweed)}
    result = run_scrapy(
        scrapy_command("collection", "build", "--output", str(output), settings=settings),
        env=credentials,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "read from the store by pywb" in result.stdout
    config = yaml.safe_load((output / "config.yaml").read_text(encoding="utf-8"))
    assert config["collections"]["libya"]["archive_paths"] == f"s3://{s3_bucket}/libya/warc/"
    assert not list(output.rglob("*.warc.gz"))  # the WARC files stay in S3

    env = {
        **credentials,
        "AWS_ENDPOINT_URL_S3": seaweed.endpoint_url,
        "AWS_DEFAULT_REGION": seaweed.region,
    }
    server = pywb_in(output, "libya", env)
    manifest = (
        seaweed.client().get_object(Bucket=s3_bucket, Key="libya/manifests/s3-coll.jsonl")["Body"].read()
    )
    articles = [json.loads(line) for line in manifest.decode("utf-8").splitlines() if line.strip()]
    assert len(articles) >= 10
    for line in articles:
        ts = "".join(ch for ch in line["warc"]["warc_date"] if ch.isdigit())[:14]
        with urllib.request.urlopen(
            server.url(ts, "id_", line["warc"]["target_uri"]), timeout=60
        ) as response:
            assert response.status == 200
            assert parsedate_to_datetime(response.headers["Memento-Datetime"]).strftime("%Y%m%d%H%M%S") == ts
            body = response.read().decode("utf-8", "replace")
        assert line["title"] and line["title"] in body, line["url"]
