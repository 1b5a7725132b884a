"""Renders wait for a browser page in a queue of their own (``crawler.render.queue``), outside the downloader's
CONCURRENT_REQUESTS slots: a real crawl with real Chromium, one browser page, three request slots.

Site "slow" has four JavaScript-gated articles whose script the server holds until every article of site
"quick" (plain pages, found on a listing fetched after the gated ones) has been served. With renders
holding request slots while they wait for the one page, the quick pages could only be fetched after a
render had ended (at RENDER_TIMEOUT): the crawl's own signals count what was in the downloader and how many
renders had ended each time a quick page came in.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings

from crawler.config import ConfigError, ScrapyConfig
from tests.localserver import serve
from tests.test_crawler_render import ARTICLES, CHROMIUM, FULL_ARTICLE, html_page

REPO = Path(__file__).resolve().parent.parent
HELD = 4
QUICK = 6

HELD_SHELL = html_page("الخبر", '<div id="app"></div>', '<script defer src="/static/held.js"></script>')
HELD_JS = (
    "const app = document.getElementById('app');"
    f"for (const text of {json.dumps(ARTICLES['1']['paragraphs'], ensure_ascii=False)}) {{"
    " const p = document.createElement('p'); p.textContent = text; app.appendChild(p); }"
).encode()
LISTING = html_page(
    "أخبار", "<ul>" + "".join(f'<li><a href="/quick/{n}">خبر {n}</a></li>' for n in range(QUICK)) + "</ul>"
)
QUICK_PAGE = html_page("خبر عادي", f"<article><h1>خبر عادي</h1>{FULL_ARTICLE}</article>")


class Site:
    """What the server saw; ``handler()`` serves the two sites."""

    def __init__(self) -> None:
        self.quick_served: set[str] = set()
        self.all_quick_served = threading.Event()
        self.lock = threading.Lock()

    def page(self, path: str) -> tuple[str, bytes] | None:
        if path.startswith("/held/"):
            return "text/html; charset=utf-8", HELD_SHELL
        if path == "/static/held.js":
            # Every gated page's content waits until the quick site is fetched (or the test ends).
            self.all_quick_served.wait(60)
            return "application/javascript", HELD_JS
        if path == "/quick/list":
            return "text/html; charset=utf-8", LISTING
        if path.startswith("/quick/"):
            with self.lock:
                self.quick_served.add(path)
                if len(self.quick_served) == QUICK:
                    self.all_quick_served.set()
            return "text/html; charset=utf-8", QUICK_PAGE
        return None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                found = site.page(self.path.split("?")[0])
                ctype, body = found or ("text/plain", b"")
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # The browser may have closed the page (the test ended) while the script was held.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        return Handler


@contextlib.contextmanager
def serve_sites() -> Iterator[tuple[Site, str]]:
    site = Site()
    try:
        with serve(site.handler()) as base_url:
            yield site, base_url + "/"
    finally:
        site.all_quick_served.set()


SPIDER = """
import json
from pathlib import Path

import scrapy
from scrapy import signals

OUT = Path(__file__).parent


class QueueSpider(scrapy.Spider):
    name = "render_queue_test"

    def __init__(self, base_url, held, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url
        self.held = int(held)

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.received, signal=signals.response_received)
        crawler.signals.connect(spider.stopped, signal=signals.engine_stopped)
        return spider

    async def start(self):
        for n in range(self.held):
            yield scrapy.Request(self.base_url + f"held/{n}", meta={"site": "slow", "kind": "article"})
        # After the gated pages: fetched only when a request slot is free and no render is scheduled.
        yield scrapy.Request(
            self.base_url + "quick/list", meta={"site": "quick", "kind": "listing"}, priority=-10
        )

    def parse(self, response):
        with (OUT / "pages.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({
                "url": response.url, "rendered": bool(response.meta.get("rendered")),
                "paragraphs": response.css("p::text").getall(),
            }, ensure_ascii=False) + "\\n")
        for href in response.css("li a::attr(href)").getall():
            yield scrapy.Request(response.urljoin(href), meta={"site": "quick", "kind": "article"})

    def received(self, response, request, spider):
        if request.meta.get("site") != "quick":
            return
        stats = self.crawler.stats.get_stats()
        ended = stats.get("render/pages", 0) + sum(
            v for k, v in stats.items() if k.startswith("render/failed/")
        )
        downloader = self.crawler.engine.downloader
        renders = [r for r in downloader.active if r.meta.get("playwright")]
        with (OUT / "quick.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({
                "url": response.url, "renders_ended": ended, "renders_in_downloader": len(renders),
                "in_downloader": len(downloader.active),
            }) + "\\n")

    def stopped(self):
        stats = {k: v for k, v in self.crawler.stats.get_stats().items() if isinstance(v, (int, float, str))}
        (OUT / "stats.json").write_text(json.dumps(stats, indent=1))
"""

RUNNER = """
import sys
from scrapy.crawler import CrawlerProcess
from spider_file import QueueSpider

process = CrawlerProcess(settings={
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    "ADDONS": {"crawler.render.RenderAddon": 0},
    "RENDER_CHROMIUM_PATH": sys.argv[3],
    "RENDER_TIMEOUT": 10,
    "RENDER_MAX_CONTEXTS": 1,
    "RENDER_MAX_PAGES_PER_CONTEXT": 1,
    "CONCURRENT_REQUESTS": 3,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 3,
    "DOWNLOAD_DELAY": 0,
    "ROBOTSTXT_OBEY": False,
    "USER_AGENT": "Mozilla/5.0 (compatible; libya-news-archiver-test/0.1)",
    "LOG_LEVEL": "INFO",
    "TELNETCONSOLE_ENABLED": False,
})
process.crawl(QueueSpider, base_url=sys.argv[1], held=sys.argv[2])
process.start()
"""


def run(tmp_path: Path, base_url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    (tmp_path / "spider_file.py").write_text(SPIDER, encoding="utf-8")
    (tmp_path / "run.py").write_text(RUNNER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "run.py"), base_url, str(HELD), CHROMIUM],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]

    def lines(name: str) -> list[dict[str, Any]]:
        path = tmp_path / name
        return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []

    return lines("pages.jsonl"), lines("quick.jsonl"), json.loads((tmp_path / "stats.json").read_text())


def test_plain_pages_are_fetched_while_renders_wait_for_the_browser(tmp_path: Path) -> None:
    with serve_sites() as (site, base_url):
        pages, quick, stats = run(tmp_path, base_url)
    assert len(site.quick_served) == QUICK
    assert stats["finish_reason"] == "finished"
    # Every quick page (and its listing) came in while all four renders were still unfinished, although
    # they were more than the one browser page and the three request slots.
    assert len(quick) == QUICK + 1
    assert [q["renders_ended"] for q in quick] == [0] * len(quick), quick
    assert max(q["renders_in_downloader"] for q in quick) >= 2, quick
    # Renders that waited took no request slot: more requests in the downloader than CONCURRENT_REQUESTS.
    assert max(q["in_downloader"] for q in quick) > 3, quick
    assert stats["render/queue/waited"] >= HELD - 1
    assert stats["render/queue/peak"] >= 2
    # Then the renders went through the one page, each with its content.
    rendered = [p for p in pages if p["rendered"]]
    assert len(rendered) == HELD
    assert all(p["paragraphs"] == ARTICLES["1"]["paragraphs"] for p in rendered)
    assert stats["render/pages"] == HELD
    assert not any(key.startswith("render/failed/") for key in stats)


@pytest.mark.parametrize("value", [-1, "many", 2.5])
def test_a_bad_render_queue_size_is_rejected(value: object) -> None:
    with pytest.raises(ConfigError, match="RENDER_QUEUE_SIZE"):
        ScrapyConfig.from_settings(
            Settings(
                {
                    "RENDER_QUEUE_SIZE": value,
                    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
                }
            )
        )
