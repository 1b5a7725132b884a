"""The browser stays in bounds: what a hostile page's script asks for is refused, counted and reported, and
the page still renders and replays.

The newsroom's gated site has one probe article (``newsroom.sites.gated``): its script ``fetch()``es
127.0.0.2 (the newsroom's ``outside`` listener, where no site lives), opens a WebSocket and a ``file:`` URL,
fetches from a worker, sends WebRTC STUN datagrams, loads an image and an iframe from 127.0.0.2, and reads
100 MB from the site itself. The full newsroom crawl
(``newsroom_crawl``, shared with the other crawl tests) renders it with the project's defaults.

The decision function is tested on its own for the rules a local test cannot exercise on the network
(public third-party hosts): no test sends traffic outside 127.0.0.0/8.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.addressguard import SiteHosts
from crawler.render.guard import browser_refusal
from newsroom import Newsroom
from newsroom.sites.gated import PROBE_BYTES
from tests.crawling import CrawlRun

SITE = SiteHosts(frozenset({"127.0.0.1:8081", "alwasat.ly"}))


def _warcs(crawl: CrawlRun) -> list[Path]:
    return sorted((crawl.archive / "warc").rglob("*.warc.gz"))


def _responses(crawl: CrawlRun) -> list[tuple[str, dict[str, str], bytes, dict[str, str]]]:
    """(target URI, WARC headers, payload, HTTP headers) of every response record."""
    found = []
    for path in _warcs(crawl):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response":
                    continue
                http = {k.lower(): v for k, v in record.http_headers.headers} if record.http_headers else {}
                uri = record.rec_headers.get_header("WARC-Target-URI")
                found.append((uri, dict(record.rec_headers.headers), record.content_stream().read(), http))
    return found


def _probe_line(crawl: CrawlRun, newsroom: Newsroom) -> dict[str, Any]:
    gated = newsroom.sites["gated"]
    url = gated.renderer.url(gated.renderer.probe_path)  # type: ignore[attr-defined]
    lines = [line for line in crawl.manifest() if line["url"] == url]
    assert len(lines) == 1, f"the probe article {url} was not stored"
    return lines[0]


# --- the decision --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "addresses", "page", "reason"),
    [
        # The site itself, wherever it lives: pages and resources.
        ("http://127.0.0.1:8081/news/1", ["127.0.0.1"], True, None),
        ("http://127.0.0.1:8081/static/app.js", ["127.0.0.1"], False, None),
        ("https://www.alwasat.ly/news/1", ["10.1.2.3"], True, "private"),  # a subdomain: public only
        ("https://alwasat.ly/news/1", ["10.1.2.3"], True, None),  # the site's own host lives there
        # Third-party public hosts: resources yes (replay needs CDNs), pages never.
        ("https://cdn.example.net/jquery.js", ["93.184.216.34"], False, None),
        ("https://fonts.example.com/a.woff2", ["2606:4700::6810:84e5"], False, None),
        ("https://cdn.example.net/", ["93.184.216.34"], True, "offsite-page"),
        # Another port of the site's address is not the site.
        ("http://127.0.0.1:9999/admin", ["127.0.0.1"], False, "loopback"),
        ("http://127.0.0.2:8081/probe", ["127.0.0.2"], False, "loopback"),
        # Names are judged by what they resolve to, every answer counting.
        ("http://metadata.example/latest/", ["169.254.169.254"], False, "link-local"),
        ("http://intranet.example/", ["93.184.216.34", "10.0.0.5"], False, "private"),
        ("http://mapped.example/", ["::ffff:127.0.0.1"], False, "loopback"),
        ("http://6to4.example/", ["2002:7f00:1::"], False, "loopback"),
        ("http://docs.example/", ["192.0.2.10"], False, "private"),  # documentation ranges count as private
        ("http://cgnat.example/", ["100.64.1.1"], False, "reserved"),
        ("http://224.0.0.251/", ["224.0.0.251"], False, "multicast"),
        ("http://0.0.0.0:8081/", ["0.0.0.0"], False, "unspecified"),
        ("http://[fd00::1]/", ["fd00::1"], False, "private"),
        ("http://nowhere.invalid/", [], False, "unresolved"),
        # Only http(s).
        ("ws://127.0.0.1:8081/socket", ["127.0.0.1"], False, "scheme"),
        ("file:///etc/passwd", [], False, "scheme"),
        ("ftp://cdn.example.net/x", ["93.184.216.34"], False, "scheme"),
    ],
)
def test_browser_refusal(url: str, addresses: list[str], page: bool, reason: str | None) -> None:
    assert browser_refusal(url, addresses, SITE, page=page) == reason


# --- the newsroom's hostile page -------------------------------------------------------------------------


def test_nothing_reaches_the_outside_address(newsroom_crawl: CrawlRun, newsroom: Newsroom) -> None:
    assert newsroom.outside_url, "the newsroom could not bind its outside listener on 127.0.0.2"
    assert newsroom_crawl.returncode == 0, newsroom_crawl.log[-3000:]
    outside = [r.path for r in newsroom_crawl.requests if r.site == "outside"]
    assert outside == []
    assert not [uri for uri, *_ in _responses(newsroom_crawl) if uri.startswith(newsroom.outside_url)]


def test_blocked_browser_requests_are_counted_by_reason(newsroom_crawl: CrawlRun) -> None:
    stats = newsroom_crawl.stats
    # fetch(), the worker's fetch(), the image, the iframe and a redirect hop to 127.0.0.2; the WebSocket; the
    # 100 MB body.
    assert stats.get("render/blocked/loopback", 0) >= 5
    assert stats.get("render/blocked/websocket", 0) >= 1
    assert stats.get("render/blocked/response-too-large", 0) >= 1
    assert "render/failed/page-too-large" not in stats


def test_the_oversized_response_is_archived_truncated(newsroom_crawl: CrawlRun, newsroom: Newsroom) -> None:
    big = newsroom.sites["gated"].base_url + "static/big.bin"
    records = [(headers, body, http) for uri, headers, body, http in _responses(newsroom_crawl) if uri == big]
    assert records, "the browser's 100 MB response left no record"
    for headers, body, http in records:
        assert headers["WARC-Truncated"] == "length"
        assert body == b""
        assert http["content-length"] == "0"
        assert http["x-archive-orig-content-length"] == str(PROBE_BYTES)
    total = sum(path.stat().st_size for path in _warcs(newsroom_crawl))
    assert total < PROBE_BYTES // 10


def test_the_hostile_page_still_renders(newsroom_crawl: CrawlRun, newsroom: Newsroom) -> None:
    line = _probe_line(newsroom_crawl, newsroom)
    assert line["rendered"] is True
    gold = next(a for a in newsroom.articles if a.url == line["url"])
    text = (newsroom_crawl.archive / line["text_key"]).read_text(encoding="utf-8")
    assert gold.paragraphs[0] in text


def test_the_report_lists_blocked_requests(newsroom_crawl: CrawlRun) -> None:
    report = newsroom_crawl.archive / "reports" / newsroom_crawl.crawl_id
    markdown = (report / "report.md").read_text(encoding="utf-8")
    assert "| browser request blocked: loopback |" in markdown
    assert "| browser request blocked: response-too-large |" in markdown
    stats = json.loads((report / "stats.json").read_text(encoding="utf-8"))
    assert stats["render/blocked/loopback"] >= 3


@pytest.mark.timeout(600)
def test_the_hostile_page_replays(
    newsroom_crawl: CrawlRun, newsroom: Newsroom, pywb_replay: Callable[..., Any]
) -> None:
    from playwright.sync_api import sync_playwright

    from crawler.render import BROWSER_ARGS, find_chromium

    line = _probe_line(newsroom_crawl, newsroom)
    text = (newsroom_crawl.archive / line["text_key"]).read_text(encoding="utf-8")
    server = pywb_replay(_warcs(newsroom_crawl), coll="probe")
    ts = "".join(ch for ch in line["warc"]["warc_date"] if ch.isdigit())[:14]
    # The page replayed in Chromium: its scripts run against the archive and write the article again.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=list(BROWSER_ARGS))
        try:
            page = browser.new_page()
            page.goto(server.url(ts, "", line["warc"]["target_uri"]), wait_until="load", timeout=60_000)
            page.wait_for_function(
                "t => [document, ...Array.from(document.querySelectorAll('iframe'))"
                ".map(f => f.contentDocument).filter(Boolean)].some(d => d.body && "
                "d.body.innerText.includes(t))",
                arg=text.split("\n\n")[0][:40],
                timeout=60_000,
            )
        finally:
            browser.close()
