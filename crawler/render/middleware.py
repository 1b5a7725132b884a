"""``JsGateMiddleware``: the life of a render, from the gated response to the rendered DOM in the WARC.

A downloader middleware (order ``JS_GATE_MIDDLEWARE_ORDER`` = 585: after HttpCompression 590 has decoded the
body, before Retry 550 / MetaRefresh 580). Plain responses go through the gate (``crawler.render.gate``).
For every browser request (a gated page re-scheduled, or the spider's ``render: always``) it sets up the
capture of each network response (``crawler.render.capture``), waits for the content
(``crawler.render.settle``), writes the rendered DOM as a ``conversion`` record, points
``request.meta["warc"]`` at it, and closes the page; the watchdog (``crawler.render.watchdog``) ends a render
that wedges. Stats: ``render/pages``, ``render/pages_by_site/<site>``, ``render/seconds``,
``render/failed/<reason>``, ``render/pages_closed``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy_playwright.page import PageMethod

from crawler.addressguard import SiteHosts
from extraction.gate import JsGateDetector

from .capture import BrowserCapture
from .config import PLAYWRIGHT_HANDLER, RENDER_HANDLER, RenderConfig
from .contexts import ContextPool, site_of
from .driver import read_driver_in_bursts
from .gate import RenderGate, is_article
from .guard import BrowserGuard
from .pages import IDLE_SECONDS, PagePool
from .settle import PageSettler
from .state import RenderState, WarcSink, failure_reason
from .watchdog import RenderWatchdog

if TYPE_CHECKING:
    from playwright.async_api import Page
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

__all__ = ["JsGateMiddleware"]

logger = logging.getLogger(__name__)

_STATE_KEY = "_render_state"


class JsGateMiddleware:
    """Re-fetch gated pages with Chromium and archive the browser's traffic; see the module docstring."""

    def __init__(
        self,
        config: RenderConfig,
        detector: JsGateDetector,
        stats: StatsCollector,
        crawler: Crawler | None = None,
    ) -> None:
        self.config = config
        self.stats = stats
        self.crawler = crawler
        self._inflight: Counter[str] = Counter()
        # Shared with the render queue (crawler.render.queue), which names a render's context first.
        self.contexts = ContextPool.of(crawler) if crawler is not None else ContextPool(config.max_contexts)
        self.gate = RenderGate(detector, stats, self.contexts.name_for_request)
        self.guard = BrowserGuard(stats, config.max_response_size)
        self.capture = BrowserCapture(
            stats, self._sink, self.guard.count, config.max_response_size, config.max_page_size
        )
        self.guard.capture = self.capture
        self.settle = PageSettler(detector, config.timeout, stats)
        self.watchdog = RenderWatchdog(config.watchdog_seconds, stats)
        # Pages go back for the next render only when the download handler takes them from there.
        self.pages: PagePool | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JsGateMiddleware:
        handlers = crawler.settings.getdict("DOWNLOAD_HANDLERS")
        chosen = {handlers.get(scheme) for scheme in ("http", "https")}
        if not chosen <= {PLAYWRIGHT_HANDLER, RENDER_HANDLER}:
            raise NotConfigured(
                "JsGateMiddleware needs scrapy-playwright's download handler for http and https: merge "
                "crawler.render.playwright_settings(RenderConfig.from_settings(settings)) or enable "
                "ADDONS = {'crawler.render.RenderAddon': 0}"
            )
        assert crawler.stats is not None
        # Playwright shares the crawl's busy event loop: its driver's messages are read in bursts.
        read_driver_in_bursts()
        mw = cls(RenderConfig.from_settings(crawler.settings), JsGateDetector(), crawler.stats, crawler)
        if chosen == {RENDER_HANDLER}:
            mw.pages = PagePool.of(crawler)
        crawler.signals.connect(mw._spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(mw._spider_closed, signal=signals.spider_closed)
        return mw

    async def process_request(self, request: Request) -> None:
        if not request.meta.get("playwright") or _STATE_KEY in request.meta:
            return None
        # A browser request (re-scheduled by us, or render: always from the spider): set up capture.
        # Callables go into meta only here, after the scheduler, so queued requests stay serialisable.
        site = site_of(request)
        context = self.contexts.name_for(site)
        reason = request.meta.setdefault("render_reason", "always")
        state = RenderState(
            site=site,
            reason=reason,
            started=time.monotonic(),
            context=context,
            hosts=self._hosts(request, site),
        )
        self.watchdog.start(state)
        meta = request.meta
        meta[_STATE_KEY] = state
        meta["playwright_context"] = context
        # Browser requests queue in their own slot, so a site's plain pages do not wait behind its renders.
        meta["download_slot"] = f"render:{site}"
        meta["playwright_include_page"] = True
        meta["playwright_context_kwargs"] = self.contexts.context_kwargs(request)
        meta["playwright_page_goto_kwargs"] = {"wait_until": "commit"}
        # Before the page navigates: every request it makes goes through the guard.
        meta["playwright_page_init_callback"] = functools.partial(self.guard.install, state=state)
        state.handlers = {
            "pageerror": lambda error: state.page_errors.append(str(error)),
        }
        meta["playwright_page_event_handlers"] = dict(state.handlers)
        # The site's wait selector describes its article pages; listing pages settle on network idle.
        selector = meta.get("render_wait_selector") if is_article(request) else None
        meta["playwright_page_methods"] = [PageMethod(self.settle, state, selector, request.url)]
        state.listing = not is_article(request)
        self._inflight[context] += 1
        return None

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        state = request.meta.pop(_STATE_KEY, None)
        if isinstance(state, RenderState):
            return await self._finish_render(request, response, state)
        if request.meta.get("playwright"):
            return response
        return self.gate(request, response)

    async def process_exception(self, request: Request, exception: Exception) -> None:
        state = request.meta.pop(_STATE_KEY, None)
        if not isinstance(state, RenderState):
            return None
        page = request.meta.pop("playwright_page", None)
        try:
            await self._drain(state)
        finally:
            await self._release(page, state, reuse=False)
        self._clean_meta(request)
        if state.watchdog_fired:
            reason = "watchdog"
        elif state.page_too_large:
            reason = "page-too-large"
        else:
            reason = failure_reason(exception)
        self.stats.inc_value(f"render/failed/{reason}")
        self._add_seconds(time.monotonic() - state.started)
        logger.warning(
            "Render failed (%s) for %s after %.1fs: %s",
            reason,
            request.url,
            time.monotonic() - state.started,
            exception,
        )
        # The gated plain response is already archived; the crawl goes on without this page's content.
        raise IgnoreRequest(f"render failed ({reason}): {request.url}") from exception

    async def _drain(self, state: RenderState) -> None:
        """Let the capture tasks read their bodies while the page is still open."""
        if state.tasks:
            await asyncio.wait(list(state.tasks), timeout=min(self.config.timeout, 10.0))

    async def _release(self, page: Page | None, state: RenderState, *, reuse: bool) -> None:
        """Give the page back for the context's next render (``reuse``: the render ended well), else close
        it. Its context stays open for the site's next renders: closing an idle context raced with a render
        just starting in it (in the benchmark that page never finished: the crawl hung)."""
        self._inflight[state.context] -= 1
        self.watchdog.stop(state)
        try:
            if page is not None:
                self.contexts.remember(state.context, page.context)
                for event, handler in state.handlers.items():
                    page.remove_listener(event, handler)
                self.guard.idle(page)
                kept = (
                    reuse
                    and self.pages is not None
                    and not state.page_too_large
                    and await self.guard.freeze(page)
                    and self.pages.give_back(state.context, page)
                )
                if not kept and not page.is_closed():
                    if self.pages is not None:
                        self.pages.forget(page)
                    await page.close()
                    self.stats.inc_value("render/pages_closed")
        finally:
            for task in state.tasks:
                task.cancel()
            await asyncio.gather(*state.tasks, return_exceptions=True)

    async def _finish_render(self, request: Request, response: Response, state: RenderState) -> Response:
        page = request.meta.pop("playwright_page", None)
        try:
            await self._drain(state)
            document_ref = None
            if (
                state.document_task is not None
                and state.document_task.done()
                and not state.document_task.cancelled()
            ):
                document_ref = state.document_task.result()
        finally:
            await self._release(page, state, reuse=True)
        self._clean_meta(request)
        request.meta["rendered"] = True
        request.meta["render_reason"] = state.reason
        sink = self._sink()
        if sink is not None:
            dom_ref = await asyncio.to_thread(
                sink.write_resource,
                response.url,
                response.body,
                f"text/html; charset={getattr(response, 'encoding', 'utf-8')}",
                concurrent_to=document_ref.record_id if document_ref else None,
                record_type="conversion",
            )
            request.meta["warc"] = dom_ref.to_dict()
            if document_ref is not None:
                request.meta["render_document_warc"] = document_ref.to_dict()
        elapsed = time.monotonic() - state.started
        self.stats.inc_value("render/pages")
        self.stats.inc_value(f"render/pages_by_site/{state.site}")
        self._add_seconds(elapsed)
        logger.info("Rendered %s (%s) in %.1fs", response.url, state.reason, elapsed)
        # scrapy-playwright reports the status of the first navigation (a challenge's 403/503); the page
        # the spider parses is the last document the browser loaded.
        if state.document_status is not None and state.document_status != response.status:
            return response.replace(status=state.document_status)
        return response

    def _add_seconds(self, seconds: float) -> None:
        total = float(self.stats.get_value("render/seconds", 0.0) or 0.0)
        self.stats.set_value("render/seconds", round(total + seconds, 3))

    def _clean_meta(self, request: Request) -> None:
        for key in (
            "playwright_page_event_handlers",
            "playwright_page_methods",
            "playwright_include_page",
            "playwright_page_init_callback",
        ):
            request.meta.pop(key, None)

    def _hosts(self, request: Request, site: str) -> SiteHosts:
        """The hosts the render's site lives on: its sources entry's ``allowed_domains`` and, always, the
        page's own host and port (it passed the scope guard to get here; spiders without sources have
        nothing else)."""
        spider = self.crawler.spider if self.crawler is not None else None
        sources = [s for s in getattr(spider, "sources", None) or () if getattr(s, "name", None) == site]
        parts = urlsplit(request.url)
        own = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
        return SiteHosts.of(sources, own)

    def _sink(self) -> WarcSink | None:
        return getattr(self.crawler, "warc_archive", None) if self.crawler is not None else None

    def _spider_idle(self) -> None:
        # Nothing left to render for now: idle pages would only hold memory. (spider_idle handlers are
        # called, not awaited: the closing runs as a task; spider_closed closes whatever is left.)
        if (
            self.pages is not None
            and self.pages.idle_count(IDLE_SECONDS)
            and not any(self._inflight.values())
        ):
            task = asyncio.ensure_future(self.pages.close_idle(IDLE_SECONDS))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _spider_closed(self) -> None:
        if self._inflight and any(self._inflight.values()):
            logger.warning("Spider closed with renders in flight: %s", dict(+self._inflight))
        self.watchdog.cancel()
        if self.pages is not None:
            await self.pages.close_idle()
        await self.contexts.close_all(self.stats)
