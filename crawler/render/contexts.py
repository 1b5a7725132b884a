"""The browser contexts renders run in: a fixed set shared by the sites, open for the whole crawl.

A site's challenge cookie serves its next pages, so contexts are not closed between renders; they are closed
when the spider closes (``render/contexts_closed``). One ``ContextPool`` per crawler (``ContextPool.of``): the
gate middleware and the render queue (``crawler.render.queue``) name a site's context alike.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from scrapy.http import Request

from crawler.config import SettingsReader

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

__all__ = ["ContextPool", "site_of"]

logger = logging.getLogger(__name__)

_ATTRIBUTE = "_render_context_pool"


def site_of(request: Request) -> str:
    """The site a request belongs to: its ``site`` meta, else its context, else its host."""
    return str(
        request.meta.get("site") or request.meta.get("playwright_context") or urlsplit(request.url).netloc
    )


class ContextPool:
    """Names the context a site renders in, builds its options and closes every context at the end."""

    def __init__(self, max_contexts: int) -> None:
        self.max_contexts = max_contexts
        # The browser contexts renders ran in, by name (closed when the spider closes).
        self._open: dict[str, BrowserContext] = {}
        self._site_index: dict[str, int] = {}

    @classmethod
    def of(cls, crawler: Crawler) -> ContextPool:
        """The crawler's pool (RENDER_MAX_CONTEXTS contexts), made on first use."""
        pool = getattr(crawler, _ATTRIBUTE, None)
        if pool is None:
            pool = cls(max(1, SettingsReader(crawler.settings).integer("RENDER_MAX_CONTEXTS", minimum=1)))
            setattr(crawler, _ATTRIBUTE, pool)
        return pool

    def name_for(self, site: str) -> str:
        """Sites share a fixed set of RENDER_MAX_CONTEXTS browser contexts (cookies are scoped by domain):
        one context per site would leave a site waiting forever for a context while busier sites keep
        theirs open. Sites take the contexts in turn, in the order they first need the browser, so up to
        RENDER_MAX_CONTEXTS sites each get their own (a hash of the name put two of the benchmark's four
        sites in one context and left another unused)."""
        index = self._site_index.get(site)
        if index is None:
            index = self._site_index[site] = len(self._site_index) % self.max_contexts
        return f"render-{index}"

    def name_for_request(self, request: Request) -> str:
        return self.name_for(site_of(request))

    @staticmethod
    def context_kwargs(request: Request) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(request.meta.get("playwright_context_kwargs") or {})
        user_agent = request.headers.get("User-Agent")
        if user_agent:
            kwargs.setdefault("user_agent", user_agent.decode("latin-1"))
        # Archived bytes must come from the network, not from a service worker's cache, and a service
        # worker's requests bypass the guard's routes: blocked in every context, whatever the request says.
        kwargs["service_workers"] = "block"
        kwargs.setdefault("ignore_https_errors", True)
        return kwargs

    def remember(self, name: str, context: BrowserContext) -> None:
        self._open[name] = context

    async def close_all(self, stats: StatsCollector) -> None:
        # Before scrapy-playwright closes the browser (engine_stopped). The count reaches the crawl's stats, but
        # not the stats file, which an earlier spider_closed handler has already written.
        contexts, self._open = self._open, {}
        for name, context in contexts.items():
            try:
                await context.close()
            except PlaywrightError as exc:
                logger.debug("Closing the browser context %s failed: %s", name, exc)
            else:
                stats.inc_value("render/contexts_closed")
