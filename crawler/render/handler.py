"""``RenderDownloadHandler``: scrapy-playwright's download handler, with the render pages reused.

When a render needs a page, the context's idle page (``crawler.render.pages.PagePool``) is taken before a
new one is opened. The idle page already holds one of the context's RENDER_MAX_PAGES_PER_CONTEXT slots, so
taking it waits for nothing; it is taken here, when the download starts, not when the request enters the
downloader (a request queued behind others would hold the page while they wait for a slot it blocks). The
handler counts the pages open per context itself: when every slot holds a page, a render waits for the first
to come back or to close, rather than on scrapy-playwright's slot, which an idle page never frees.

One handler serves both schemes: Scrapy builds a handler per scheme in DOWNLOAD_HANDLERS, and each
scrapy-playwright handler starts its own Playwright driver (a node process) at engine start, so the https one
idled beside the http one (or the other way round) for the whole crawl. ``from_crawler`` gives the same
instance for every scheme of a crawler; ``close`` runs once.

scrapy-playwright logs every browser request and response (reading each response's raw headers from the
driver to do so) whenever its logger's effective level is DEBUG, which it is under Scrapy's logging (the
root logger is left at NOTSET; LOG_LEVEL filters in the handler). Its logger gets the crawl's LOG_LEVEL, so
a crawl that logs at INFO pays for none of it.

No Playwright-level interception: scrapy-playwright routes every request of its pages through a Python
handler (Playwright's own Fetch interception: each request paused in Chromium, sent to the driver and on to
Python and back) only to override the navigation's method and body, which the guard's DevTools interception
does itself (``crawler.render.guard``). Its ``request`` event listener (a stats counter) goes too: without a
listener the driver sends no request events to Python.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

from playwright.async_api import Page
from scrapy_playwright._utils import _attach_page_event_handlers, _maybe_execute_page_init_callback
from scrapy_playwright.handler import DEFAULT_CONTEXT_NAME, ScrapyPlaywrightDownloadHandler

from .pages import PagePool

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = ["RenderDownloadHandler"]

_ATTRIBUTE = "_render_download_handler"


def _log_level(value: object) -> int:
    if isinstance(value, int):
        return value
    level = logging.getLevelName(str(value).upper())
    return level if isinstance(level, int) else logging.DEBUG


class RenderDownloadHandler(ScrapyPlaywrightDownloadHandler):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.pages = PagePool.of(crawler)
        # Pages open (or being opened) per context, idle ones included: at most RENDER_MAX_PAGES_PER_CONTEXT.
        self._open: Counter[str] = Counter()
        self._closed_handler = False
        playwright_logger = logging.getLogger("scrapy-playwright")
        if playwright_logger.level == logging.NOTSET:
            playwright_logger.setLevel(_log_level(crawler.settings.get("LOG_LEVEL", "DEBUG")))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RenderDownloadHandler:
        handler = getattr(crawler, _ATTRIBUTE, None)
        if not isinstance(handler, cls):
            handler = cls(crawler)
            setattr(crawler, _ATTRIBUTE, handler)
        return handler

    async def close(self) -> None:
        if self._closed_handler:
            return
        self._closed_handler = True
        await super().close()

    async def _download_request_with_retry(self, request: Request, spider: Spider) -> Response:
        """scrapy-playwright's, without its request route (see the module docstring)."""
        page = request.meta.get("playwright_page")
        if not isinstance(page, Page) or page.is_closed():
            page = await self._create_page(request=request, spider=spider)
        context_name = request.meta.setdefault("playwright_context", DEFAULT_CONTEXT_NAME)
        _attach_page_event_handlers(page=page, request=request, spider=spider, context_name=context_name)
        await _maybe_execute_page_init_callback(
            page=page, request=request, context_name=context_name, spider=spider
        )
        try:
            return await self._download_request_with_page(request, page, spider)
        except Exception:
            if not request.meta.get("playwright_include_page") and not page.is_closed():
                await page.close()
                self.stats.inc_value("playwright/page_count/closed")
            raise

    async def _create_page(self, request: Request, spider: Spider) -> Page:
        context = request.meta.get("playwright_context")
        if not context:
            return self._quiet(await super()._create_page(request, spider))
        while True:
            page = self.pages.take(context)
            if page is not None:
                return page
            if self._open[context] < self.config.max_pages_per_context:
                break
            # Every slot holds a page: one comes back to the pool when its render ends, or frees its slot
            # when it is closed (a failed render).
            await self.pages.wait_for_page(1.0)
        self._open[context] += 1
        try:
            page = await super()._create_page(request, spider)
        except BaseException:
            self._closed(context)
            raise
        page.once("close", lambda _: self._closed(context))
        return self._quiet(page)

    def _quiet(self, page: Page) -> Page:
        page.remove_listener("request", self._increment_request_stats)
        return page

    def _closed(self, context: str) -> None:
        self._open[context] -= 1
        self.pages.notify()
