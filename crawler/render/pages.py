"""Browser pages kept open between renders: a render's page goes back to its context's idle pages and the
context's next render navigates it instead of opening a new one.

A new page costs a renderer process, Playwright's set-up of the page and the guard's (a DevTools session,
its interception, the routes); in the benchmark that was about a third of a render's CPU. A page is given
back only after a render that ended well, and only once the guard has stopped its
document (``BrowserGuard.freeze``: its scripts run no more, what its workers ask for is refused, so nothing of
the last render runs on; the next render's navigation replaces the document). A page serves the context it
was opened in (its cookies and storage are that context's) and at most ``max_uses`` renders, then it is
closed. Pages idle for IDLE_SECONDS are closed when the spider idles (the spider idles often in a crawl,
between sitemap batches), and every idle page when it closes. Stats: ``render/pages_reused``, ``render/pages_closed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING

from playwright.async_api import Error as PlaywrightError

if TYPE_CHECKING:
    from playwright.async_api import Page
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

__all__ = ["PagePool"]

logger = logging.getLogger(__name__)

# Renders one page serves before it is closed (a fresh renderer process bounds what a page can accumulate).
MAX_USES = 100
_ATTRIBUTE = "_render_page_pool"
# How long a page may wait for the next render before an idle spider closes it.
IDLE_SECONDS = 30.0


class PagePool:
    """Idle render pages by context name; shared by the download handler (``take``) and the middleware
    (``give_back``) through the crawler (``PagePool.of(crawler)``)."""

    def __init__(self, stats: StatsCollector, max_uses: int = MAX_USES) -> None:
        self.stats = stats
        self.max_uses = max_uses
        # Idle pages by context, each with the time it came back.
        self._idle: dict[str, list[tuple[Page, float]]] = defaultdict(list)
        self._uses: dict[int, int] = {}
        self._changed = asyncio.Event()

    @classmethod
    def of(cls, crawler: Crawler) -> PagePool:
        pool = getattr(crawler, _ATTRIBUTE, None)
        if pool is None:
            assert crawler.stats is not None
            pool = cls(crawler.stats)
            setattr(crawler, _ATTRIBUTE, pool)
        return pool

    def take(self, context: str) -> Page | None:
        """An idle page of ``context``, or None (then a new page is opened)."""
        idle = self._idle.get(context)
        while idle:
            page, _ = idle.pop()
            if not page.is_closed():
                self.stats.inc_value("render/pages_reused")
                return page
        return None

    def idle_count(self, older_than: float = 0.0) -> int:
        now = time.monotonic()
        return sum(now - since >= older_than for pages in self._idle.values() for _, since in pages)

    def give_back(self, context: str, page: Page) -> bool:
        """Keep ``page`` (its document stopped) for the context's next render; False when it must be closed instead."""
        uses = self._uses.pop(id(page), 0) + 1
        if uses >= self.max_uses or page.is_closed():
            return False
        self._uses[id(page)] = uses
        self._idle[context].append((page, time.monotonic()))
        self.notify()
        return True

    def notify(self) -> None:
        """A page came back or closed: wake the renders waiting for one."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_page(self, timeout: float) -> None:
        """Until a page comes back or closes (any context), or ``timeout`` seconds pass."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def forget(self, page: Page) -> None:
        self._uses.pop(id(page), None)

    async def close_idle(self, older_than: float = 0.0) -> None:
        """Close the pages idle for more than ``older_than`` seconds (their contexts stay open)."""
        now = time.monotonic()
        closing: list[Page] = []
        for context, pages in self._idle.items():
            keep = [(page, since) for page, since in pages if now - since < older_than]
            closing += [page for page, since in pages if now - since >= older_than]
            self._idle[context] = keep
        for page in closing:
            self._uses.pop(id(page), None)
            if page.is_closed():
                continue
            try:
                await page.close()
            except PlaywrightError as exc:
                logger.debug("Closing an idle browser page failed: %s", exc)
            else:
                self.stats.inc_value("render/pages_closed")
