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

import asyncio
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from scrapy import Request
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from crawler.addressguard import SiteHosts
from crawler.render import RenderConfig, find_chromium, playwright_settings
from crawler.render.guard import BrowserGuard, browser_refusal
from crawler.render.state import RenderState
from newsroom import Newsroom
from newsroom.sites.gated import PROBE_BYTES
from tests.crawling import CrawlRun
from tests.localserver import serve

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


# --- the guard alone, in Chromium: workers, popups, a POST navigation -----------------------------------

_GUARDED_PAGE = """<html><body><h1>guarded</h1>
<a id="tab" href="%(outside)s/tab" target="_blank">x</a>
<form id="form" action="%(outside)s/form" method="post" target="_blank"><input name="q" value="1"></form>
<script>
new Worker(URL.createObjectURL(new Blob(['fetch("%(outside)s/blob-worker").catch(function () {})'],
                                        {type: "text/javascript"})));
new Worker("/worker.js");
var popup = window.open("%(outside)s/popup");
document.getElementById("tab").click();
document.getElementById("form").submit();
navigator.serviceWorker && navigator.serviceWorker.register("/sw.js").catch(function () {});
document.title = popup === null ? "no popup" : "popup";
</script></body></html>"""


class _Hits(BaseHTTPRequestHandler):
    """Serves the guarded page on the site (127.0.0.1) and logs every request on any address."""

    hits: ClassVar[list[tuple[str, str, str, bytes]]] = []
    outside: ClassVar[str] = ""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.hits.append((self.server.server_address[0], self.command, self.path, body))  # type: ignore[index]
        if self.path.startswith("/page"):
            payload, kind = (_GUARDED_PAGE % {"outside": self.outside}).encode(), "text/html"
        elif self.path == "/worker.js":
            payload, kind = (
                f'fetch("{self.outside}/script-worker").catch(() => {{}});'.encode(),
                "text/javascript",
            )
        else:
            payload, kind = b"", "text/javascript"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def _render_guarded(
    site: str, method: str, body: bytes
) -> tuple[RenderState, MemoryStatsCollector, int]:
    from playwright.async_api import async_playwright

    crawler = get_crawler()
    stats = MemoryStatsCollector(crawler)
    guard = BrowserGuard(stats, 1024 * 1024)
    state = RenderState(site="guarded", reason="always", started=0.0, hosts=SiteHosts.of([], site[7:]))
    launch = playwright_settings(RenderConfig(find_chromium(), 1, 1, 30.0))["PLAYWRIGHT_LAUNCH_OPTIONS"]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch)
        try:
            context = await browser.new_context(service_workers="block")
            page = await context.new_page()
            url = f"{site}/page"
            await guard.install(page, Request(url, method=method, body=body), state=state)
            await page.goto(url, wait_until="load")
            await page.wait_for_load_state("networkidle")
            await asyncio.sleep(1.0)  # the workers' fetches and the popups' navigations would be out by now
            pages = len(context.pages)
        finally:
            await browser.close()
    return state, stats, pages


def test_the_guard_covers_workers_and_popups_without_playwright_routes() -> None:
    outside = ThreadingHTTPServer(("127.0.0.2", 0), _Hits)
    threading.Thread(target=outside.serve_forever, daemon=True).start()
    _Hits.hits.clear()
    _Hits.outside = f"http://127.0.0.2:{outside.server_address[1]}"
    try:
        with serve(_Hits) as site:
            state, stats, pages = asyncio.run(_render_guarded(site, "POST", b"q=archive"))
    finally:
        outside.shutdown()
        outside.server_close()
    # Nothing reached the outside address: not the workers' fetches, not the popups, not the form.
    assert [hit for hit in _Hits.hits if hit[0] != "127.0.0.1"] == []
    blocked = {url.rsplit("/", 1)[-1]: reason for reason, url in state.blocked}
    # Dedicated workers' requests (from a blob and from a script) pause in the page's own session.
    assert blocked.get("blob-worker") == "loopback"
    assert blocked.get("script-worker") == "loopback"
    assert stats.get_value("render/blocked/loopback", 0) >= 2
    # No popup opened (window.open, a target=_blank link, a form into a new window).
    assert pages == 1
    # The service worker was never registered (its script is not fetched).
    paths = [path for _, _, path, _ in _Hits.hits]
    assert "/sw.js" not in paths
    # The render's navigation went out with the Scrapy request's method and body, once.
    assert [(m, b) for _, m, p, b in _Hits.hits if p == "/page"] == [("POST", b"q=archive")]


_TICKING_PAGE = """<html><body><h1>ticking</h1><script>
setInterval(function () { fetch("/tick").catch(function () {}); }, 50);
</script></body></html>"""


class _Ticks(BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.paths.append(self.path)
        payload = _TICKING_PAGE.encode() if self.path.startswith("/page") else b""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def _freeze_and_reuse(site: str) -> tuple[int, int, int, bool]:
    from playwright.async_api import async_playwright

    stats = MemoryStatsCollector(get_crawler())
    guard = BrowserGuard(stats, 1024 * 1024)
    hosts = SiteHosts.of([], site[7:])
    launch = playwright_settings(RenderConfig(find_chromium(), 1, 1, 30.0))["PLAYWRIGHT_LAUNCH_OPTIONS"]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(**launch)
        try:
            page = await (await browser.new_context()).new_page()
            first = RenderState(site="ticking", reason="always", started=0.0, hosts=hosts)
            await guard.install(page, Request(f"{site}/page1"), state=first)
            await page.goto(f"{site}/page1")
            await asyncio.sleep(0.5)
            while_rendering = _Ticks.paths.count("/tick")
            guard.idle(page)
            frozen = await guard.freeze(page)
            await asyncio.sleep(0.3)  # a tick in flight when it froze may still land

            def asked() -> int:  # requests the idle page made: the guard refuses them all (idle-page)
                return int(stats.get_value("render/blocked/idle-page", 0) or 0)

            at_rest, ticks = asked(), _Ticks.paths.count("/tick")
            await asyncio.sleep(1.0)
            while_idle = asked() - at_rest + _Ticks.paths.count("/tick") - ticks
            second = RenderState(site="ticking", reason="always", started=0.0, hosts=hosts)
            await guard.install(page, Request(f"{site}/page2"), state=second)
            await page.goto(f"{site}/page2")
            await asyncio.sleep(0.5)
            after = _Ticks.paths.count("/tick") - ticks
        finally:
            await browser.close()
    return while_rendering, while_idle, after, frozen


def test_an_idle_page_runs_no_script_and_the_next_render_runs_again() -> None:
    _Ticks.paths.clear()
    with serve(_Ticks) as site:
        while_rendering, while_idle, after, frozen = asyncio.run(_freeze_and_reuse(site))
    assert while_rendering >= 3  # the page's timer fetches while it renders
    assert frozen
    assert (
        while_idle == 0
    )  # frozen: its timer stops (it does not even ask), nothing of the last render runs on
    assert after >= 3  # the next render's document runs (the page is active again)
    assert "/page2" in _Ticks.paths
