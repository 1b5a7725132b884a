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
does itself (``crawler.render.guard``). Its ``request`` and ``response`` event listeners (stats counters) go
too: without a listener the driver sends no request or response events (nor a ``Request`` and a ``Response``
object each) to Python; the capture reads the page's traffic from DevTools (``crawler.render.capture``).

A render talks to the driver only for what it needs (``_download_request_with_page``, scrapy-playwright's
trimmed): the navigation, the settle (``crawler.render.settle``) and the DOM. Not the navigation's raw headers
(the Scrapy response gets the headers the navigation reported; the WARC has the raw ones from the capture),
its TLS details and server address (nothing reads them: the browser's responses are archived by the
capture, not by the WARC middleware), nor Playwright's ``load`` state after the settle (the settle decides
when the page is done; waiting for ``load`` too held a page whose last image never came). A navigation that
turns into a download fails the render (the plain fetch archived the file already).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from functools import partial
from typing import TYPE_CHECKING

from playwright.async_api import Page
from scrapy.http.headers import Headers
from scrapy.responsetypes import responsetypes
from scrapy_playwright._utils import (
    _attach_page_event_handlers,
    _encode_body,
    _get_page_content,
    _maybe_await,
    _maybe_execute_page_init_callback,
    _set_redirect_meta,
)
from scrapy_playwright.handler import DEFAULT_CONTEXT_NAME, ScrapyPlaywrightDownloadHandler
from scrapy_playwright.page import PageMethod

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
        page.remove_listener("response", self._increment_response_stats)
        return page

    async def _download_request_with_page(self, request: Request, page: Page, spider: Spider) -> Response:
        """scrapy-playwright's, with only the driver calls a render needs (see the module docstring)."""
        if request.meta.get("playwright_include_page"):
            request.meta["playwright_page"] = page
        start = time.time()
        goto_kwargs = dict(request.meta.get("playwright_page_goto_kwargs") or {})
        goto_kwargs.pop("url", None)
        navigation = await page.goto(url=request.url, **goto_kwargs)
        headers = Headers()
        if navigation is not None:
            if navigation.request.redirected_from is not None:
                await _set_redirect_meta(request=request, response=navigation)
            headers = Headers(navigation.headers)
            headers.pop("Content-Encoding", None)
        for method in request.meta.get("playwright_page_methods") or ():
            if not isinstance(method, PageMethod):
                raise TypeError(f"expected a PageMethod in playwright_page_methods, got {method!r}")
            call = partial(method.method, page) if callable(method.method) else getattr(page, method.method)
            method.result = await _maybe_await(call(*method.args, **method.kwargs))
        context_name = request.meta.get("playwright_context", DEFAULT_CONTEXT_NAME)
        text = await _get_page_content(page, spider, context_name, request.url, request.method)
        request.meta["download_latency"] = time.time() - start
        if not request.meta.get("playwright_include_page"):
            await page.close()
            self.stats.inc_value("playwright/page_count/closed")
        body, encoding = _encode_body(headers=headers, text=text)
        respcls = responsetypes.from_args(headers=headers, url=page.url, body=body)
        return respcls(  # type: ignore[call-arg]  # a text response for the DOM, as scrapy-playwright's
            url=page.url,
            status=navigation.status if navigation is not None else 200,
            headers=headers,
            body=body,
            request=request,
            flags=["playwright"],
            encoding=encoding,
        )

    def _closed(self, context: str) -> None:
        self._open[context] -= 1
        self.pages.notify()
