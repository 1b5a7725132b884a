"""A real crawl with real Chromium against a local JavaScript-gated site: render only when needed, archive
everything the browser fetched, fail cleanly, and leave no browser page or context open.

The site (a threaded http.server on 127.0.0.1, port 0) mimics a bot challenge: without the ``nr_challenge``
cookie every article is a challenge shell (503) whose script sets the cookie and reloads; with it, an app
shell whose script fetches ``/api/articles/<id>.json`` (served gzip-encoded) and writes the paragraphs.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.render import (
    BROWSER_ARGS,
    JsGateMiddleware,
    RenderConfig,
    decoded_body_headers,
    playwright_settings,
)

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"

ARTICLES: dict[str, dict[str, Any]] = {
    "1": {
        "title": "خطة لإعادة إعمار درنة",
        "paragraphs": [
            "أعلنت حكومة الوحدة الوطنية في طرابلس عن إطلاق خطة جديدة لإعادة إعمار المناطق المتضررة من "
            "الفيضانات في مدينة درنة شرق ليبيا بمشاركة شركات محلية ودولية.",
            "وقال المتحدث باسم الحكومة إن الخطة تشمل إعادة بناء الجسور والطرق والمدارس والمستشفيات التي "
            "دمرتها العاصفة دانيال خلال ستة أشهر.",
            "ورحبت بعثة الأمم المتحدة للدعم في ليبيا بالخطة مؤكدة استعدادها لتقديم الدعم الفني ومراقبة التنفيذ.",
        ],
        "next": "/gated/2",
    },
    "2": {
        "title": "اجتماع في بنغازي حول الانتخابات",
        "paragraphs": [
            "عقد مجلس النواب الليبي في بنغازي اجتماعا لمناقشة القوانين الانتخابية والجدول الزمني المقترح لإجراء "
            "الانتخابات الرئاسية والبرلمانية في البلاد.",
            "وأكد رئيس المجلس أن التوافق على القوانين خطوة أساسية نحو إنهاء المرحلة الانتقالية وتوحيد المؤسسات.",
        ],
        "next": None,
    },
}
FULL_ARTICLE = "".join(f"<p>{p}</p>" for p in ARTICLES["1"]["paragraphs"] + ARTICLES["2"]["paragraphs"])
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201"
    "b4f0a1e50000000049454e44ae426082"
)


def html_page(title: str, body: str, head: str = "") -> bytes:
    return (
        f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{title}</title>{head}'
        f"</head><body>{body}</body></html>"
    ).encode()


CHALLENGE = html_page(
    "Just a moment...",
    "<p>لحظة من فضلك</p><script>document.cookie = 'nr_challenge=ok; path=/';"
    " window.addEventListener('load', () => setTimeout(() => location.reload(), 300));</script>",
)
APP_JS = b"""
const id = location.pathname.split('/').filter(Boolean).pop();
fetch('/api/articles/' + id + '.json').then(r => r.json()).then(a => {
  const app = document.getElementById('app');
  const h1 = document.createElement('h1'); h1.textContent = a.title; app.appendChild(h1);
  for (const text of a.paragraphs) { const p = document.createElement('p'); p.textContent = text; app.appendChild(p); }
  if (a.next) { const l = document.createElement('a'); l.href = a.next; l.className = 'next'; l.textContent = '>'; app.appendChild(l); }
});
"""
APP_HEAD = '<link rel="stylesheet" href="/static/site.css"><script defer src="/static/app.js"></script>'
APP_SHELL = html_page("الخبر", '<div id="app"></div><img src="/static/logo.png" alt="">', APP_HEAD)
# An app shell that also opens a long poll: a request the server never answers (until the test ends), so
# Playwright's networkidle never fires although the article is there as soon as its XHR is in.
POLLING = html_page(
    "الخبر",
    '<div id="app"></div><img src="/static/logo.png" alt="">'
    "<script>fetch('/api/poll').catch(() => {});</script>",
    APP_HEAD,
)
# An app shell whose script comes through a redirect and whose image and style the browser keeps: the
# image is revalidated on every use (an ETag, no-cache: a 304 the second time), the style is fresh for an
# hour (the second page gets it from the browser's cache, without asking the server).
CACHING = html_page(
    "الخبر",
    '<div id="app"></div><img src="/static/etag.png" alt="">',
    '<link rel="stylesheet" href="/static/fresh.css"><script defer src="/old/app.js"></script>',
)
ETAG = '"logo-1"'
FRESH_CSS = b"#app h1 { font-size: 2em; }"
BROKEN = html_page("معطل", '<div id="app"></div><script>throw new Error("boom: app failed");</script>')
HANGING = html_page("بطيء", '<div id="root"></div><script src="/static/slow.js"></script>')
NORMAL = html_page(
    "خبر عادي", f"<article><h1>خبر عادي</h1>{FULL_ARTICLE}</article><script src='/static/a.js'></script>"
)
SECKIT = html_page(
    "سيكيت",
    "<noscript><div>Sorry, you need to enable JavaScript to visit this website.</div></noscript>"
    f"<article><h1>سيكيت</h1>{FULL_ARTICLE}</article>",
    "<style>body{display:none}</style><script>document.body.style.display='block'</script>",
)


@dataclass
class GatedSite:
    """The test site; ``hits`` logs (path, from_browser, with_cookie) for every request."""

    server: ThreadingHTTPServer
    release: threading.Event
    hits: list[tuple[str, bool, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def count(self, path: str, *, browser: bool, cookie: bool | None = None) -> int:
        with self.lock:
            return sum(
                1 for p, b, c in self.hits if p == path and b == browser and (cookie is None or c == cookie)
            )


def make_handler(site: GatedSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            cookie = "nr_challenge=ok" in (self.headers.get("Cookie") or "")
            # Chromium sends Fetch Metadata headers; Scrapy does not.
            browser = self.headers.get("Sec-Fetch-Mode") is not None
            with site.lock:
                site.hits.append((path, browser, cookie))
            if path.startswith(("/gated/", "/poll/", "/cache/")):
                if not cookie:
                    return self.send(503, "text/html; charset=utf-8", CHALLENGE)
                shells = {"/gated/": APP_SHELL, "/poll/": POLLING, "/cache/": CACHING}
                return self.send(200, "text/html; charset=utf-8", shells[path[: path.index("/", 1) + 1]])
            if path == "/old/app.js":
                self.send_response(302)
                self.send_header("Location", "/static/app.js")
                self.send_header("Set-Cookie", "hop=1; Path=/")
                self.send_header("Set-Cookie", "hop2=2; Path=/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if path == "/static/etag.png":
                validators = {"ETag": ETAG, "Cache-Control": "no-cache"}
                if self.headers.get("If-None-Match") == ETAG:
                    self.send_response(304)
                    for name, value in {**validators, "X-Revalidated": "yes"}.items():
                        self.send_header(name, value)
                    self.end_headers()
                    return None
                return self.send(200, "image/png", PNG, validators)
            if path == "/static/fresh.css":
                return self.send(200, "text/css", FRESH_CSS, {"Cache-Control": "max-age=3600"})
            if path == "/api/poll":
                site.release.wait(60)  # no answer, not even headers, while the test runs
                return None
            if path.startswith("/api/articles/"):
                article = ARTICLES.get(path.rsplit("/", 1)[-1].removesuffix(".json"))
                if article is None or not cookie:
                    return self.send(404, "text/plain", b"no")
                data = gzip.compress(json.dumps(article, ensure_ascii=False).encode())
                return self.send(200, "application/json; charset=utf-8", data, {"Content-Encoding": "gzip"})
            pages = {"/normal": NORMAL, "/seckit": SECKIT, "/broken": BROKEN, "/hang": HANGING}
            if path in pages:
                return self.send(200, "text/html; charset=utf-8", pages[path])
            static = {
                "/static/app.js": ("application/javascript", APP_JS),
                "/static/a.js": ("application/javascript", b"window.ok = 1;"),
                "/static/site.css": ("text/css", b"#app p { line-height: 1.8; }"),
                "/static/logo.png": ("image/png", PNG),
            }
            if path in static:
                return self.send(200, static[path][0], static[path][1])
            if path == "/static/slow.js":
                # Headers now, the body never (until the test ends): the page never finishes loading.
                self.send_response(200)
                self.send_header("Content-Type", "application/javascript")
                self.send_header("Content-Length", "100")
                self.end_headers()
                self.wfile.flush()
                site.release.wait(60)
                return None
            return self.send(404, "text/plain", b"not found")

        def send(self, status: int, ctype: str, body: bytes, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


SPIDER = """
from __future__ import annotations

import json
from pathlib import Path

import scrapy
from scrapy import signals

OUT = Path(__file__).parent


class RenderTestSpider(scrapy.Spider):
    name = "render_test"
    custom_settings = {
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "ADDONS": {"crawler.render.RenderAddon": 0},
        "RENDER_CHROMIUM_PATH": "/usr/bin/chromium",
        "RENDER_TIMEOUT": 5,
        "RENDER_MAX_CONTEXTS": 1,
        "RENDER_MAX_PAGES_PER_CONTEXT": 2,
        "ROBOTSTXT_OBEY": False,
        "USER_AGENT": "Mozilla/5.0 (compatible; libya-news-archiver-test/0.1)",
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": False,
    }

    def __init__(self, base_url: str, paths: str = "gated/1,normal,seckit,broken,hang", selector: str = "",
                 **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url
        self.paths = paths.split(",")
        self.selector = selector

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        # After spider_closed, where the renderer closes its browser contexts.
        crawler.signals.connect(spider.closed_with_stats, signal=signals.engine_stopped)
        return spider

    async def start(self):
        for path in self.paths:
            yield self.request(self.base_url + path)

    def request(self, url):
        meta = {"site": "gatedsite", "render": "auto", "kind": "article"}
        if self.selector:
            meta["render_wait_selector"] = self.selector
        return scrapy.Request(url, meta=meta, callback=self.parse, errback=self.failed)

    def parse(self, response):
        with (OUT / "pages.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({
                "url": response.url, "status": response.status,
                "rendered": bool(response.meta.get("rendered")),
                "render_reason": response.meta.get("render_reason"),
                "warc": response.meta.get("warc"),
                "render_document_warc": response.meta.get("render_document_warc"),
                "render_gated_warc": response.meta.get("render_gated_warc"),
                "paragraphs": response.css("p::text").getall(),
                "has_page": "playwright_page" in response.meta,
            }, ensure_ascii=False) + "\\n")
        for href in response.css("a.next::attr(href)").getall():
            yield self.request(response.urljoin(href))

    def failed(self, failure):
        with (OUT / "failures.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"url": failure.request.url, "error": repr(failure.value)}) + "\\n")

    def idle(self):
        # Every render is finished when the spider idles: count what the browser still has open (the
        # contexts stay open for the next renders until the spider closes; pages must all be closed).
        handler = self.crawler.engine.downloader.handlers._handlers.get("http")
        wrappers = getattr(handler, "context_wrappers", {})
        self.crawler.stats.set_value("test/open_contexts", len(wrappers))
        self.crawler.stats.set_value("test/open_pages", sum(len(w.context.pages) for w in wrappers.values()))

    def closed_with_stats(self):
        stats = {k: v for k, v in self.crawler.stats.get_stats().items() if isinstance(v, (int, float, str))}
        (OUT / "stats.json").write_text(json.dumps(stats, indent=1))
"""

RUNNER = """
import json
import sys
from scrapy.crawler import CrawlerProcess
from spider_file import RenderTestSpider

process = CrawlerProcess(settings={{
    "EXTENSIONS": {{"crawler.warc.WarcExtension": 0}},
    "DOWNLOADER_MIDDLEWARES": {{"crawler.warc.WarcCaptureMiddleware": 950}},
    "WARC_DIR": {warc_dir!r},
    "WACZ_ENABLED": False,
    "CRAWL_ID": "render-test",
}})
# Per-test settings go in as spider settings: custom_settings would override them at the same priority.
RenderTestSpider.custom_settings = {{**RenderTestSpider.custom_settings, **json.loads(sys.argv[3])}}
process.crawl(
    RenderTestSpider,
    base_url=sys.argv[1],
    selector=sys.argv[4],
    **({{"paths": sys.argv[2]}} if sys.argv[2] else {{}}),
)
process.start()
"""


@dataclass
class CrawlResult:
    pages: dict[str, dict[str, Any]]
    failures: list[dict[str, str]]
    stats: dict[str, Any]
    warcs: list[Path]
    log: str


def run_crawl(
    tmp_path: Path,
    base_url: str,
    paths: str = "",
    settings: dict[str, Any] | None = None,
    selector: str = "",
) -> CrawlResult:
    (tmp_path / "spider_file.py").write_text(SPIDER, encoding="utf-8")
    (tmp_path / "run.py").write_text(RUNNER.format(warc_dir=str(tmp_path / "warc")), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "run.py"), base_url, paths, json.dumps(settings or {}), selector],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    pages: dict[str, dict[str, Any]] = {}
    pages_file = tmp_path / "pages.jsonl"
    for line in pages_file.read_text(encoding="utf-8").splitlines() if pages_file.exists() else []:
        page = json.loads(line)
        pages[page["url"].removeprefix(base_url)] = page
    failures_file = tmp_path / "failures.jsonl"
    failures = (
        [json.loads(x) for x in failures_file.read_text().splitlines()] if failures_file.exists() else []
    )
    stats = json.loads((tmp_path / "stats.json").read_text())
    warcs = sorted((tmp_path / "warc").glob("*.warc.gz"))
    return CrawlResult(pages, failures, stats, warcs, proc.stderr)


@dataclass
class Record:
    rec_type: str
    uri: str
    status: int | None
    headers: dict[str, str]
    body: bytes
    record_id: str
    concurrent_to: str | None
    truncated: str | None = None


def read_records(warcs: list[Path]) -> list[Record]:
    records = []
    for path in warcs:
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                http = rec.http_headers
                records.append(
                    Record(
                        rec_type=rec.rec_type,
                        uri=rec.rec_headers.get_header("WARC-Target-URI") or "",
                        status=int(http.get_statuscode()) if http and rec.rec_type == "response" else None,
                        headers={k.lower(): v for k, v in http.headers} if http else {},
                        body=rec.content_stream().read(),
                        record_id=rec.rec_headers.get_header("WARC-Record-ID"),
                        concurrent_to=rec.rec_headers.get_header("WARC-Concurrent-To"),
                        truncated=rec.rec_headers.get_header("WARC-Truncated"),
                    )
                )
    return records


@contextlib.contextmanager
def serve_site() -> Iterator[GatedSite]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    site = GatedSite(server=server, release=threading.Event())
    server.RequestHandlerClass = make_handler(site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatedSite, CrawlResult]]:
    with serve_site() as site:
        yield site, run_crawl(tmp_path_factory.mktemp("render-crawl"), site.base_url)


def test_gated_articles_are_rendered_with_their_text(crawl: tuple[GatedSite, CrawlResult]) -> None:
    _, result = crawl
    for article_id, article in ARTICLES.items():
        page = result.pages[f"gated/{article_id}"]
        assert page["rendered"] is True
        assert page["render_reason"] == "challenge-marker"
        assert page["status"] == 200  # the final document's status, not the challenge's 503
        assert page["paragraphs"] == article["paragraphs"]
        assert page["has_page"] is False
    assert result.stats["render/gate/challenge-marker"] == 2
    assert result.stats["render/pages"] == 2
    assert result.stats["render/seconds"] > 0


def test_challenge_cookie_serves_the_sites_next_page(crawl: tuple[GatedSite, CrawlResult]) -> None:
    site, _ = crawl
    # Article 1: the browser met the challenge once, then came back with the cookie it set.
    assert site.count("/gated/1", browser=True, cookie=False) == 1
    assert site.count("/gated/1", browser=True, cookie=True) == 1
    # Article 2, in a later context of the same site: the cookie was kept, no challenge for the browser.
    assert site.count("/gated/2", browser=True, cookie=False) == 0
    assert site.count("/gated/2", browser=True, cookie=True) == 1
    # Scrapy itself never has the cookie: each article's plain fetch was gated.
    assert site.count("/gated/1", browser=False, cookie=False) == 1
    assert site.count("/gated/2", browser=False, cookie=False) == 1


def test_ungated_pages_are_not_rendered(crawl: tuple[GatedSite, CrawlResult]) -> None:
    site, result = crawl
    for path in ("normal", "seckit"):
        assert result.pages[path]["rendered"] is False
        assert len(result.pages[path]["paragraphs"]) == 5
        assert site.count(f"/{path}", browser=True) == 0
        assert site.count(f"/{path}", browser=False) == 1
    assert site.count("/static/a.js", browser=True) == 0


def test_pages_that_never_render_fail_cleanly(crawl: tuple[GatedSite, CrawlResult]) -> None:
    site, result = crawl
    assert "broken" not in result.pages and "hang" not in result.pages
    failed = {f["url"].removeprefix(site.base_url): f["error"] for f in result.failures}
    assert set(failed) == {"broken", "hang"}
    assert all("IgnoreRequest" in error for error in failed.values())
    assert result.stats["render/failed/script-error"] == 1
    assert result.stats["render/failed/timeout"] == 1
    assert result.stats["render/gate/app-shell"] == 2
    assert "Render failed (script-error)" in result.log


def test_a_render_ends_when_its_content_is_in_though_a_request_never_answers(tmp_path: Path) -> None:
    # Two article pages hold a long poll open (Playwright's networkidle never fires on them); the first
    # links to /gated/2, which does not. One context, two pages: the third render reuses a page.
    with serve_site() as site:
        result = run_crawl(
            tmp_path,
            site.base_url,
            "poll/1,poll/2",
            {"RENDER_TIMEOUT": 20, "RENDER_MAX_PAGES_PER_CONTEXT": 2},
            selector="#app h1",
        )
        polls = site.count("/api/poll", browser=True)
    rendered = {path: page for path, page in result.pages.items() if page["rendered"]}
    assert set(rendered) == {"poll/1", "poll/2", "gated/2"}
    for path, article in (("poll/1", "1"), ("poll/2", "2"), ("gated/2", "2")):
        assert rendered[path]["paragraphs"] == ARTICLES[article]["paragraphs"]
    assert polls >= 1  # the poll was open (a second one may wait behind it in the browser cache)
    stats = result.stats
    assert stats.get("render/pages_reused", 0) >= 1
    # Done when the selector matched and every capture was written (the poll still open), not at
    # RENDER_TIMEOUT; the page without a poll settled on the settle's own network idle.
    assert stats.get("render/settled/selector") == 2
    assert stats.get("render/settled/idle") == 1
    assert "render/settled/deadline" not in stats
    assert not any(key.startswith("render/failed/") for key in stats)
    # Everything the pages fetched is in the WARC: each one's document, script, style, image and content.
    uris = [r.uri.removeprefix(site.base_url) for r in read_records(result.warcs) if r.rec_type == "response"]
    for needed in ("api/articles/1.json", "api/articles/2.json", "static/app.js", "static/site.css"):
        assert needed in uris
    assert uris.count("static/logo.png") >= 1
    for path in rendered:
        assert path in uris


def _raw_records(warcs: list[Path]) -> list[tuple[str, str, int | None, list[tuple[str, str]], bytes]]:
    """(record type, URI, status, HTTP header lines in order, payload) of every record."""
    records = []
    for path in warcs:
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                http = rec.http_headers
                status = (
                    int(http.get_statuscode()) if http and rec.rec_type in ("response", "revisit") else None
                )
                lines = [(k.lower(), v) for k, v in http.headers] if http else []
                uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
                records.append((rec.rec_type, uri, status, lines, rec.content_stream().read()))
    return records


def test_redirects_revalidations_and_cache_hits_are_archived_with_their_own_headers(tmp_path: Path) -> None:
    # Two pages of one site, rendered one after the other in one page of one context: the second finds the
    # first's style in the browser's cache and revalidates its image (304). Every response the browser got
    # is in the WARC with the headers it came with: each redirect hop (both Set-Cookie lines), the 304 (not
    # the 200 it revalidated), the cache hit (its body too, though the server saw one request for it); each
    # request record with what the browser sent (its cookies, the If-None-Match of the revalidation).
    with serve_site() as site:
        result = run_crawl(
            tmp_path,
            site.base_url,
            "cache/1,cache/2",
            {"RENDER_MAX_PAGES_PER_CONTEXT": 1, "RENDER_TIMEOUT": 20},
            selector="#app h1",
        )
        hits = list(site.hits)
    assert result.pages["cache/1"]["paragraphs"] == ARTICLES["1"]["paragraphs"]
    assert result.pages["cache/2"]["paragraphs"] == ARTICLES["2"]["paragraphs"]
    browser = [(path, cookie) for path, from_browser, cookie in hits if from_browser]
    # The server saw: the style once, the image twice (the second a revalidation), the redirect twice.
    assert [p for p, _ in browser].count("/static/fresh.css") == 1
    assert [p for p, _ in browser].count("/static/etag.png") == 2
    assert [p for p, _ in browser].count("/old/app.js") >= 2
    records = _raw_records(result.warcs)
    base = site.base_url
    captured = [r for r in records if r[0] in ("response", "revisit")]
    requests = [r for r in records if r[0] == "request"]

    def of(url: str) -> list[tuple[str, str, int | None, list[tuple[str, str]], bytes]]:
        return [r for r in captured if r[1] == base + url]

    def values(lines: list[tuple[str, str]], name: str) -> list[str]:
        return [v for k, v in lines if k == name]

    # The redirect hop, once for each page, with its own headers; then the script it led to.
    hops = of("old/app.js")
    assert len(hops) == [p for p, _ in browser].count("/old/app.js")
    for _, _, status, lines, body in hops:
        assert status == 302
        assert values(lines, "location") == ["/static/app.js"]
        assert sorted(values(lines, "set-cookie")) == ["hop2=2; Path=/", "hop=1; Path=/"]
        assert body == b""
    scripts = of("static/app.js")
    assert len(scripts) == [p for p, _ in browser].count("/static/app.js")
    assert any(r[0] == "response" and r[4] == APP_JS for r in scripts)
    # The browser's request for the hop carried the cookie the challenge set (a header only the network
    # stack adds: the request records hold what went on the wire).
    hop_requests = [r for r in requests if r[1] == base + "old/app.js"]
    assert len(hop_requests) == len(hops)
    assert all(any("nr_challenge=ok" in v for v in values(r[3], "cookie")) for r in hop_requests)

    # The image: a 200 with its body, then the 304 with the 304's own headers, asked with If-None-Match.
    images = sorted(of("static/etag.png"), key=lambda r: r[2] or 0)
    assert [r[2] for r in images] == [200, 304]
    assert any(r[0] == "response" and r[4] == PNG for r in images)
    assert values(images[0][3], "x-revalidated") == []
    assert values(images[1][3], "x-revalidated") == ["yes"]
    image_requests = [r for r in requests if r[1] == base + "static/etag.png"]
    assert sorted(values(r[3], "if-none-match") for r in image_requests) == [[], [ETAG]]

    # The style: both pages' copies, the second from the browser's cache (the server saw one request).
    styles = of("static/fresh.css")
    assert len(styles) == 2
    assert {r[2] for r in styles} == {200}
    assert all(values(r[3], "cache-control") == ["max-age=3600"] for r in styles)
    assert any(r[0] == "response" and r[4] == FRESH_CSS for r in styles)
    assert "render/capture_failed" not in result.stats
    assert not any(key.startswith("render/failed/") for key in result.stats)


def test_watchdog_ends_a_render_that_outlives_the_hard_timeout(tmp_path: Path) -> None:
    # The page's script never loads (the site holds /static/slow.js) and RENDER_TIMEOUT is far away: only the
    # watchdog can end this render. It closes the page; scrapy-playwright may retry in a new page, which the
    # watchdog closes too; then the render fails cleanly and the crawl finishes.
    with serve_site() as site:
        result = run_crawl(
            tmp_path, site.base_url, "hang,normal", {"RENDER_TIMEOUT": 120, "RENDER_HARD_TIMEOUT": 1}
        )
    assert result.stats["finish_reason"] == "finished"
    assert result.stats["render/watchdog"] >= 1
    assert result.stats["render/failed/watchdog"] == 1
    assert "render/failed/timeout" not in result.stats
    assert [f["url"].removeprefix(site.base_url) for f in result.failures] == ["hang"]
    assert "stuck for" in result.log and "RENDER_HARD_TIMEOUT" in result.log
    assert result.pages["normal"]["rendered"] is False  # the rest of the crawl went on
    assert result.stats["test/open_pages"] == 0


def test_a_body_over_the_response_cap_is_archived_cut(tmp_path: Path) -> None:
    # The article's JSON travels gzip-encoded (under the cap) and decodes larger than it: the browser still
    # renders it whole, the WARC keeps the first RENDER_MAX_RESPONSE_SIZE bytes, marked as cut.
    with serve_site() as site:
        result = run_crawl(
            tmp_path,
            site.base_url,
            "gated/1",
            {"RENDER_MAX_RESPONSE_SIZE": 600, "RENDER_MAX_PAGE_SIZE": 10**6},
        )
    assert result.pages["gated/1"]["paragraphs"] == ARTICLES["1"]["paragraphs"]
    full = json.dumps(ARTICLES["1"], ensure_ascii=False).encode()
    assert len(full) > 600
    records = read_records(result.warcs)
    (api,) = [
        r for r in records if r.rec_type == "response" and r.uri == site.base_url + "api/articles/1.json"
    ]
    assert api.truncated == "length"
    assert api.body == full[:600]
    assert int(api.headers["content-length"]) == 600
    assert result.stats["render/blocked/response-too-large"] == 1
    assert all(r.truncated is None for r in records if r is not api)


def test_a_page_over_the_page_cap_is_closed(tmp_path: Path) -> None:
    # The challenge, the app shell and its resources need about 1.8 kB together; the page may have 900.
    with serve_site() as site:
        result = run_crawl(
            tmp_path,
            site.base_url,
            "gated/2,normal",
            {"RENDER_MAX_RESPONSE_SIZE": 600, "RENDER_MAX_PAGE_SIZE": 900},
        )
    assert result.stats["render/failed/page-too-large"] == 1
    assert result.stats["render/blocked/page-too-large"] >= 1
    assert [f["url"].removeprefix(site.base_url) for f in result.failures] == ["gated/2"]
    assert "RENDER_MAX_PAGE_SIZE" in result.log
    assert result.pages["normal"]["rendered"] is False  # the rest of the crawl went on
    assert result.stats["test/open_pages"] == 0


def test_no_browser_page_or_context_stays_open(crawl: tuple[GatedSite, CrawlResult]) -> None:
    _, result = crawl
    stats = result.stats
    # Four renders: each in a new page or in one a render that ended well gave back (crawler.render.pages).
    assert stats["playwright/page_count"] + stats.get("render/pages_reused", 0) == 4
    # Article 2 is asked for only once article 1's render ended well and gave its page back.
    assert stats["render/pages_reused"] >= 1
    assert stats["render/pages_closed"] == stats["playwright/page_count"]
    assert stats["render/contexts_closed"] == stats["playwright/context_count"]
    # When the spider idles, only idle pages kept for the site's next renders are open; they are closed then.
    assert stats["test/open_pages"] <= 2
    assert stats["test/open_contexts"] <= 1  # the site's one context, kept for its next renders


def test_warc_holds_gated_response_browser_captures_and_dom(crawl: tuple[GatedSite, CrawlResult]) -> None:
    site, result = crawl
    records = read_records(result.warcs)
    base = site.base_url
    # Identical 200 bodies seen twice (app.js, the app shell of both articles) are written as revisits.
    fetched = [r for r in records if r.rec_type in ("response", "revisit")]

    def of(url: str, rec_type: str = "response") -> list[Record]:
        return [r for r in fetched if r.uri == base + url and r.rec_type == rec_type]

    # The plain, gated fetch (from Scrapy) and the browser's challenge + app shell for the same URL.
    gated = of("gated/1")
    assert sorted(r.status or 0 for r in gated) == [200, 503, 503]
    assert sum(1 for r in gated if b"Just a moment..." in r.body) == 2
    page = result.pages["gated/1"]
    assert page["render_gated_warc"]["target_uri"] == base + "gated/1"
    assert page["render_gated_warc"]["record_id"] in {r.record_id for r in gated if r.status == 503}

    # The XHR JSON: decoded body, headers made true to it, the original encoding kept aside.
    (api,) = of("api/articles/1.json")
    assert json.loads(api.body)["paragraphs"] == ARTICLES["1"]["paragraphs"]
    assert "content-encoding" not in api.headers
    assert api.headers["x-archive-orig-content-encoding"] == "gzip"
    assert int(api.headers["content-length"]) == len(api.body)
    assert int(api.headers["x-archive-orig-content-length"]) < len(api.body)

    (script,) = of("static/app.js")
    assert script.body == APP_JS
    assert len(of("static/app.js", "revisit")) == 1
    (css,) = of("static/site.css")
    assert css.headers["content-type"] == "text/css"
    assert css.body == b"#app p { line-height: 1.8; }"
    (image,) = of("static/logo.png")
    assert image.body == PNG

    # The rendered DOM, pointed at by meta["warc"], concurrent to the browser's capture of the document.
    conversions = [r for r in records if r.rec_type == "conversion" and r.uri == base + "gated/1"]
    assert len(conversions) == 1
    assert all(p.encode() in conversions[0].body for p in ARTICLES["1"]["paragraphs"])
    assert page["warc"]["record_id"] == conversions[0].record_id
    document = next(r for r in gated if r.status == 200)
    assert conversions[0].concurrent_to == document.record_id == page["render_document_warc"]["record_id"]

    # What the failing pages fetched is archived too; the never-finishing script is not.
    assert len(of("broken")) + len(of("broken", "revisit")) == 2
    assert of("static/slow.js") == []
    plain_fetches = 6  # gated/1, gated/2, normal, seckit, broken, hang
    assert result.stats["render/captures"] == len(fetched) - plain_fetches
    assert "render/capture_failed" not in result.stats


def test_warcio_check_passes(crawl: tuple[GatedSite, CrawlResult]) -> None:
    _, result = crawl
    assert result.warcs
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "warcio"), "check", *map(str, result.warcs)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_playwright_settings_launch_the_given_chromium() -> None:
    config = RenderConfig(chromium_path=CHROMIUM, max_contexts=3, max_pages_per_context=4, timeout=12.5)
    settings = playwright_settings(config)
    # scrapy-playwright's handler, with the render pages reused (crawler.render.handler).
    assert settings["DOWNLOAD_HANDLERS"]["https"] == "crawler.render.handler.RenderDownloadHandler"
    assert settings["PLAYWRIGHT_LAUNCH_OPTIONS"]["executable_path"] == CHROMIUM
    assert settings["PLAYWRIGHT_LAUNCH_OPTIONS"]["args"] == list(BROWSER_ARGS)
    assert settings["PLAYWRIGHT_MAX_CONTEXTS"] == 3
    assert settings["PLAYWRIGHT_MAX_PAGES_PER_CONTEXT"] == 4
    assert settings["PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT"] == 12500
    default = playwright_settings(RenderConfig(None, 1, 1, 1.0))
    assert "executable_path" not in default["PLAYWRIGHT_LAUNCH_OPTIONS"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RENDER_CHROMIUM_PATH", "/nonexistent/chromium", "RENDER_CHROMIUM_PATH"),
        ("RENDER_MAX_CONTEXTS", 0, "RENDER_MAX_CONTEXTS"),
        ("RENDER_MAX_PAGES_PER_CONTEXT", -1, "RENDER_MAX_PAGES_PER_CONTEXT"),
        ("RENDER_TIMEOUT", 0, "RENDER_TIMEOUT"),
        ("RENDER_TIMEOUT", "soon", "RENDER_"),
        ("RENDER_HARD_TIMEOUT", -1, "RENDER_HARD_TIMEOUT"),
        ("RENDER_MAX_RESPONSE_SIZE", -1, "RENDER_MAX_RESPONSE_SIZE"),
        ("RENDER_MAX_PAGE_SIZE", 0, "RENDER_MAX_PAGE_SIZE"),
        ("RENDER_MAX_PAGE_SIZE", "big", "RENDER_"),
    ],
)
def test_bad_render_settings_are_rejected(name: str, value: object, message: str) -> None:
    from scrapy.settings import Settings

    settings = Settings({"RENDER_CHROMIUM_PATH": "", name: value})
    with pytest.raises(ValueError, match=message):
        RenderConfig.from_settings(settings)


def test_middleware_refuses_to_run_without_the_playwright_handler() -> None:
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.test import get_crawler

    with pytest.raises(NotConfigured, match="scrapy-playwright"):
        JsGateMiddleware.from_crawler(get_crawler(settings_dict={"RENDER_CHROMIUM_PATH": ""}))


def test_decoded_body_headers_are_true_to_the_body() -> None:
    headers = [
        ("Content-Type", "text/html"),
        ("content-encoding", "br"),
        ("Content-Length", "120"),
        ("Transfer-Encoding", "chunked"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]
    assert decoded_body_headers(headers, 500) == [
        ("Content-Type", "text/html"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Content-Length", "500"),
        ("X-Archive-Orig-Content-Encoding", "br"),
        ("X-Archive-Orig-Content-Length", "120"),
        ("X-Archive-Orig-Transfer-Encoding", "chunked"),
    ]
    # Nothing to fix: only the length is (re)stated.
    assert decoded_body_headers([("Content-Length", "3")], 3) == [("Content-Length", "3")]
