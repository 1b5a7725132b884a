"""The newsroom crawl's WARCs, checked the way an archivist would: warcio, wacz, pywb and a browser."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.crawling import CrawlRun

BIN = Path(sys.executable).parent


def _warcs(crawl: CrawlRun) -> list[Path]:
    return sorted((crawl.archive / "warc").rglob("*.warc.gz"))


def _record_at(path: Path, offset: int) -> tuple[str, dict[str, str], bytes]:
    """The record at ``offset``: its type, WARC headers and payload with HTTP encodings undone."""
    with path.open("rb") as fh:
        fh.seek(offset)
        record = next(iter(ArchiveIterator(fh)))
        headers = dict(record.rec_headers.headers)
        return record.rec_type, headers, record.content_stream().read()


def _ts(warc_date: str) -> str:
    return "".join(ch for ch in warc_date if ch.isdigit())[:14]


def test_every_warc_passes_warcio_check(newsroom_crawl: CrawlRun) -> None:
    warcs = _warcs(newsroom_crawl)
    assert warcs
    result = subprocess.run([str(BIN / "warcio"), "check", *map(str, warcs)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    types: set[str] = set()
    for path in warcs:
        with path.open("rb") as fh:
            types |= {record.rec_type for record in ArchiveIterator(fh)}
    assert {"warcinfo", "request", "response", "metadata"} <= types


def test_wacz_validates_and_lists_the_articles(newsroom_crawl: CrawlRun) -> None:
    # One package per WARC file, under the crawl's directory of packages.
    packages = sorted((newsroom_crawl.archive / "wacz" / newsroom_crawl.crawl_id).glob("*.wacz"))
    assert len(packages) == len(_warcs(newsroom_crawl)) >= 1
    import zipfile

    pages = []
    for package in packages:
        result = subprocess.run(
            [str(BIN / "wacz"), "validate", "-f", str(package)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        with zipfile.ZipFile(package) as archive:
            if "pages/pages.jsonl" in archive.namelist():
                pages += [
                    json.loads(line) for line in archive.read("pages/pages.jsonl").decode().splitlines()[1:]
                ]
    page_urls = {unquote(p["url"]) for p in pages}
    for line in newsroom_crawl.manifest():
        assert unquote(line["warc"]["target_uri"]) in page_urls


def test_text_records_point_at_their_capture(newsroom_crawl: CrawlRun) -> None:
    warc_dir = _warcs(newsroom_crawl)[0].parent
    for line in newsroom_crawl.manifest():
        ref = line["warc"]
        rec_type, headers, _ = _record_at(warc_dir / ref["filename"], ref["offset"])
        assert headers["WARC-Record-ID"] == ref["record_id"]
        assert rec_type in ("response", "revisit", "conversion")
        meta = line["warc_metadata"]
        meta_type, meta_headers, meta_payload = _record_at(warc_dir / meta["filename"], meta["offset"])
        assert meta_type == "metadata"
        assert meta_headers["WARC-Refers-To"] == ref["record_id"]
        assert json.loads(meta_payload)["text_sha256"] == line["text_sha256"]


@pytest.mark.timeout(600)
def test_pywb_replays_every_article(newsroom_crawl: CrawlRun, pywb_replay: Callable[..., Any]) -> None:
    server = pywb_replay(_warcs(newsroom_crawl), coll="newsroom")
    warc_dir = _warcs(newsroom_crawl)[0].parent
    arabic_urls = 0
    checked = 0
    for line in newsroom_crawl.manifest():
        if line["rendered"]:
            continue  # replayed through the browser in test_gated_article_replays_in_chromium
        ref = line["warc"]
        rec_type, _, original = _record_at(warc_dir / ref["filename"], ref["offset"])
        if rec_type != "response":
            continue
        url = ref["target_uri"]
        arabic_urls += "%D8" in url or "%D9" in url
        ts = _ts(ref["warc_date"])
        with urllib.request.urlopen(server.url(ts, "id_", url), timeout=30) as response:
            assert response.status == 200
            assert response.read() == original, url
        with urllib.request.urlopen(server.url(ts, "mp_", url), timeout=30) as response:
            assert response.status == 200
            page = response.read().decode(response.headers.get_content_charset() or "utf-8", "replace")
        text = (newsroom_crawl.archive / line["text_key"]).read_text(encoding="utf-8")
        first_paragraph = text.split("\n\n")[0]
        assert first_paragraph[:40] in page, url
        checked += 1
    assert checked >= 30
    assert arabic_urls >= 1, "no article with an Arabic URL was replayed"


@pytest.mark.timeout(600)
def test_gated_article_replays_in_chromium(newsroom_crawl: CrawlRun, pywb_replay: Callable[..., Any]) -> None:
    from playwright.sync_api import sync_playwright

    from crawler.render import BROWSER_ARGS, find_chromium

    rendered = [line for line in newsroom_crawl.manifest() if line["rendered"]]
    assert rendered, "no gated article was rendered"
    server = pywb_replay(_warcs(newsroom_crawl), coll="gated")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=list(BROWSER_ARGS))
        try:
            for line in rendered:
                text = (newsroom_crawl.archive / line["text_key"]).read_text(encoding="utf-8")
                first = text.split("\n\n")[0][:40]
                page = browser.new_page()
                try:
                    url = server.url(_ts(line["warc"]["warc_date"]), "", line["warc"]["target_uri"])
                    page.goto(url, wait_until="load", timeout=60_000)
                    page.wait_for_function(
                        "t => [document, ...Array.from(document.querySelectorAll('iframe'))"
                        ".map(f => f.contentDocument).filter(Boolean)].some(d => d.body && "
                        "d.body.innerText.includes(t))",
                        arg=first,
                        timeout=60_000,
                    )
                finally:
                    page.close()
        finally:
            browser.close()
