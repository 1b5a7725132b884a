"""One collection over the whole store (archive/collection.py): two crawls replay in pywb, revisits included."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from archive.collection import build_collection, merge_indexes
from archive.replaycheck import read_cdxj
from tests.crawling import run_crawl, run_scrapy, scrapy_command


def test_merge_keeps_sort_order_and_makes_filenames_relative(tmp_path: Path) -> None:
    root = tmp_path / "warc"
    for crawl, lines in {
        "c1": ["a,b)/ 20260101000000", "a,b)/x 20260101000000", "z,b)/ 20260101000000"],
        "c2": ["a,b)/ 20260201000000", "m,b)/ 20260201000000"],
    }.items():
        (root / crawl).mkdir(parents=True)
        text = "".join(f'{line} {{"url": "u", "filename": "{crawl}.warc.gz"}}\n' for line in lines)
        (root / crawl / f"{crawl}.cdxj").write_text(text, encoding="utf-8")
    out = tmp_path / "index.cdxj"
    assert merge_indexes(sorted(root.glob("*/*.cdxj")), root, out) == 5
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [line.split(" {")[0] for line in lines] == sorted(line.split(" {")[0] for line in lines)
    assert {json.loads(line.split(" ", 2)[2])["filename"] for line in lines} == {
        "c1/c1.warc.gz",
        "c2/c2.warc.gz",
    }


def _memento_ts(headers: Any) -> str:
    return parsedate_to_datetime(headers["Memento-Datetime"]).strftime("%Y%m%d%H%M%S")


@pytest.mark.timeout(900)
def test_two_crawls_replay_from_one_collection(
    newsroom: Any, tmp_path: Path, pywb_in: Callable[[Path, str], Any]
) -> None:
    entry = next(s for s in newsroom.sources()["sites"] if s["name"] == "wahaa")
    entry["render"] = "never"
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sites": [entry]}), encoding="utf-8")
    first = run_crawl(sources, tmp_path / "store", crawl_id="coll-one")
    # Every article fetched again unconditionally: same payload, a revisit of the first crawl's record.
    second = run_crawl(
        sources, tmp_path / "store", crawl_id="coll-two", settings={"INCREMENTAL_REFETCH": "True"}
    )
    assert first.returncode == second.returncode == 0, second.log[-3000:]
    store = tmp_path / "store" / "archive"
    result = run_scrapy(scrapy_command("collection", "build", "--archive-uri", str(store)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 crawl(s)" in result.stdout
    collection = build_collection(store)  # idempotent: the same again
    per_crawl = read_cdxj(sorted((store / "warc").glob("*/*.cdxj")))
    assert collection.records == len(per_crawl) and collection.crawls == ("coll-one", "coll-two")
    description = json.loads(collection.description.read_text(encoding="utf-8"))
    assert [r["crawlId"] for r in description["resources"]] == ["coll-one", "coll-two"]
    assert all((collection.directory / r["path"]).is_file() for r in description["resources"])

    server = pywb_in(collection.directory, collection.name)
    articles = {line["url"]: line for line in first.manifest()}
    assert len(articles) >= 10
    second_captures = {c.url: c for c in read_cdxj(sorted((store / "warc" / "coll-two").glob("*.cdxj")))}
    revisits = 0
    for url, line in articles.items():
        ts = "".join(ch for ch in line["warc"]["warc_date"] if ch.isdigit())[:14]
        with urllib.request.urlopen(
            server.url(ts, "id_", line["warc"]["target_uri"]), timeout=60
        ) as response:
            assert response.status == 200
            original = response.read()
        later = second_captures.get(line["warc"]["target_uri"])
        assert later is not None, f"{url} not in the second crawl"
        if later.mime != "warc/revisit":
            continue
        with urllib.request.urlopen(server.url(later.timestamp, "id_", later.url), timeout=60) as response:
            assert response.status == 200
            assert _memento_ts(response.headers) == later.timestamp  # the revisit, not the first capture
            assert response.read() == original, url
        revisits += 1
    assert revisits >= 10, revisits
