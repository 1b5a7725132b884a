"""Every captured HTML page of the newsroom crawl replays complete in pywb + Chromium (archive/replaycheck.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from archive.collection import build_collection
from archive.replaycheck import check_pages, html_pages, read_cdxj, url_key
from tests.crawling import CrawlRun


@pytest.mark.timeout(900)
def test_every_captured_page_replays_with_all_its_requisites(
    newsroom_crawl: CrawlRun, newsroom: Any, pywb_in: Callable[[Path, str], Any]
) -> None:
    from playwright.sync_api import sync_playwright

    from crawler.render import BROWSER_ARGS, find_chromium

    captures = read_cdxj(sorted((newsroom_crawl.archive / "warc").rglob("*.cdxj")))
    pages = html_pages(captures)
    assert len(pages) >= 60, len(pages)
    # The store's collection (archive/collection.py): its pywb config answers with Memento headers.
    collection = build_collection(newsroom_crawl.archive)
    server = pywb_in(collection.directory, collection.name)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=list(BROWSER_ARGS))
        try:
            check = check_pages(browser, server.base_url, server.coll, pages, captures)
        finally:
            browser.close()
    totals = check.totals()
    unserved = {p.url: p.unserved for p in check.pages if p.unserved}
    # The gated site's hostile probe page reaches for an address where no site lives (directly and by a
    # redirect): the browser guard refused those, so they are rightly missing, and nothing else is.
    gated = newsroom.sites["gated"]
    probe = gated.base_url.rstrip("/") + gated.renderer.probe_path
    outside = urlsplit(gated.renderer.outside_url).netloc
    refused = {p.url: p.uncaptured for p in check.pages if p.url == probe}
    assert refused and all(
        urlsplit(url).netloc == outside or url.endswith("/static/to-outside.png") for url in refused[probe]
    ), refused
    uncaptured = {p.url: p.uncaptured for p in check.pages if p.uncaptured and p.url != probe}
    escaped = {p.url: p.escaped for p in check.pages if p.escaped}
    assert not unserved, unserved
    assert not uncaptured, uncaptured
    assert not escaped, escaped
    # Something was asked for and served besides the pages: the theme's CSS, fonts, images and scripts.
    assert totals["served"] > 2 * totals["pages"], totals
    wahaa = newsroom.sites["wahaa"].base_url
    served = {url_key(url) for page in check.pages for url in page.served}
    # The lazy-loaded image is asked for only once the page's script ran, the font only through two
    # stylesheets: both came from the archive.
    assert url_key(wahaa + "wp-content/uploads/2021/01/ad-lazy-300x250.png") in served
    assert url_key(wahaa + "wp-content/themes/wahaa/fonts/amiri.css") in served
    by_host = check.by_host()
    assert set(by_host) == {site.netloc for site in newsroom.sites.values()}, by_host


def test_the_crawls_wacz_is_signed_and_verifies(newsroom_crawl: CrawlRun) -> None:
    from archive.wacz_verify import verify_wacz

    packages = sorted((newsroom_crawl.archive / "wacz" / newsroom_crawl.crawl_id).glob("*.wacz"))
    assert packages
    for package in packages:
        result = verify_wacz(package)
        assert result.ok, result.problems
        assert any(name.startswith("archive/") for name in result.files)
    key_file = newsroom_crawl.archive.parent / "spool" / "keys" / "wacz-signing-key.pem"
    secret_lines = [line for line in key_file.read_text().splitlines() if not line.startswith("-----")]
    assert secret_lines and not any(line in newsroom_crawl.log for line in secret_lines)
