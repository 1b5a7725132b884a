"""The watchdog: closes the page of a render that outlives RENDER_HARD_TIMEOUT (``render/watchdog``).

Every wait in a render has its own timeout, but a page can still wedge (a context closed under it, a browser
that stops answering). Closing the page makes the Playwright calls waiting on it fail, so the render ends
through the normal failure path (counted under ``render/failed/watchdog``) and the crawl goes on;
scrapy-playwright may first retry the request in a new page, which is watched afresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from playwright.async_api import Error as PlaywrightError

from .state import RenderState

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector

__all__ = ["RenderWatchdog"]

logger = logging.getLogger(__name__)


class RenderWatchdog:
    """Tracks the renders in flight; one asyncio task watches them while there are any."""

    def __init__(self, limit: float, stats: StatsCollector) -> None:
        self.limit = limit
        self.stats = stats
        self._active: dict[int, RenderState] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self, state: RenderState) -> None:
        self._active[id(state)] = state
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._watch())

    def stop(self, state: RenderState) -> None:
        self._active.pop(id(state), None)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _watch(self) -> None:
        limit = self.limit
        while self._active:
            await asyncio.sleep(min(5.0, limit / 4))
            now = time.monotonic()
            for state in list(self._active.values()):
                page = state.page
                if page is None or now - state.page_since < limit or page.is_closed():
                    continue
                state.watchdog_fired = True
                self.stats.inc_value("render/watchdog")
                logger.warning(
                    "Render in context %s stuck for %.0f s (RENDER_HARD_TIMEOUT): closing its page %s",
                    state.context,
                    now - state.page_since,
                    page.url,
                )
                try:
                    await page.close()
                except PlaywrightError as exc:
                    logger.debug("Closing a stuck page failed: %s", exc)
