"""``RenderQueueDownloader`` (``DOWNLOADER``): a browser render waits for a free browser page in a queue of
its own, outside the CONCURRENT_REQUESTS slots, so plain pages keep flowing while renders wait.

Scrapy's downloader counts every request it holds against CONCURRENT_REQUESTS (``needs_backout``): a render
entered it, then waited there (in its download slot, then in the download handler) until one of its
context's RENDER_MAX_PAGES_PER_CONTEXT pages was free. With more renders than pages, the waiting ones took
the slots of plain pages: in the benchmark 40 of the 55 requests in the downloader were renders, most of
them only waiting, and the extraction workers ran dry.

Here a render (``meta["playwright"]``) passes the downloader's middlewares, its download slot and the host
gate only once its context has a free page: until then it waits in its context's queue (best priority
first, then first come). A waiting render stays in ``Downloader.active``, so the engine does not see the
spider idle, the frontier does not count it lost, and a distributed worker keeps it in its in-flight hash
as before; only ``needs_backout`` leaves out up to RENDER_QUEUE_SIZE waiting renders. Beyond that, waiting
renders count again, which bounds what they hold in memory (each carries its gated page's body).

Nothing about politeness moves: an admitted render goes through the downloader middlewares (robots.txt
included), its ``render:<site>`` download slot (delay, concurrency) and the host gate as before; it only
reaches them later. What is queued is what Scrapy held in memory before (the downloader's requests), so a
killed crawl resumes its renders as it did: the frontier row of a queued render is still QUEUED, and goes
back to PENDING on restart.

Settings: RENDER_QUEUE_SIZE (default 64; 0: waiting renders count against CONCURRENT_REQUESTS as in
Scrapy's downloader), RENDER_MAX_PAGES_PER_CONTEXT. Stats: ``render/queue/waited`` (renders that waited
for a page), ``render/queue/peak`` (the most waiting at once).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter
from typing import TYPE_CHECKING, TypeVar

from scrapy.core.downloader import Downloader
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future

from crawler.config import SettingsReader, render_queue_size

from .contexts import ContextPool

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure

__all__ = ["RENDER_DOWNLOADER", "RenderQueueDownloader"]

_Result = TypeVar("_Result")

RENDER_DOWNLOADER = "crawler.render.queue.RenderQueueDownloader"


class RenderQueueDownloader(Downloader):
    """Scrapy's downloader with the render queue of the module docstring."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        r = SettingsReader(self.settings)
        self.render_queue_size = render_queue_size(r)
        self.pages_per_context = r.integer("RENDER_MAX_PAGES_PER_CONTEXT", minimum=1)
        r.check()
        self.contexts = ContextPool.of(crawler)
        # Renders past the queue (in a page, or on their way to one) by context.
        self._admitted: Counter[str] = Counter()
        self._waiting: dict[str, list[tuple[int, int, asyncio.Future[None]]]] = {}
        self._order = itertools.count()
        self.renders_waiting = 0

    @property
    def renders_uncounted(self) -> int:
        """Waiting renders that do not count against CONCURRENT_REQUESTS."""
        return min(self.renders_waiting, self.render_queue_size)

    def needs_backout(self) -> bool:
        return 0 < self.total_concurrency <= len(self.active) - self.renders_uncounted

    def fetch(self, request: Request, spider: Spider | None = None) -> Deferred[Response | Request]:
        if not request.meta.get("playwright"):
            return super().fetch(request)

        # In ``active`` from now until the callback chain that hands the result to the engine (which adds
        # its own callbacks after ``delivered``): the coroutine starts a loop turn after this call and its
        # end reaches the Deferred a turn after it ends. A render in neither the scheduler, the downloader
        # nor the scraper meanwhile let the engine find the spider idle and close it, and the page's links
        # were scheduled into a closing engine.
        self.active.add(request)

        def delivered(result: Response | Request | Failure) -> Response | Request | Failure:
            self.active.discard(request)
            return result

        return deferred_from_coro(self._fetch_render(request)).addBoth(delivered)

    async def _fetch_render(self, request: Request) -> Response | Request:
        context = str(request.meta.get("playwright_context") or self.contexts.name_for_request(request))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting.setdefault(context, []), (-request.priority, next(self._order), future))
        self._admit(context)
        if not future.done():
            await self._wait(request, context, future)
        try:
            # Scrapy's fetch takes the request out of ``active`` when it ends, and this coroutine resumes a
            # loop turn later: back in at once, in the Deferred's own callback chain, until ``fetch`` delivers.
            dfd = super().fetch(request)
            dfd.addBoth(self._keep_active, request)
            return await maybe_deferred_to_future(dfd)
        finally:
            self._admitted[context] -= 1
            self._admit(context)

    def _keep_active(self, result: _Result, request: Request) -> _Result:
        self.active.add(request)
        return result

    async def _wait(self, request: Request, context: str, future: asyncio.Future[None]) -> None:
        """Until ``_admit`` hands this render one of ``context``'s pages (``request`` stays in ``active``)."""
        self.renders_waiting += 1
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("render/queue/waited")
            stats.max_value("render/queue/peak", self.renders_waiting)
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                # Admitted, then cancelled before it ran: the page goes to the next one.
                self._admitted[context] -= 1
                self._admit(context)
            future.cancel()
            raise
        finally:
            self.renders_waiting -= 1

    def _admit(self, context: str) -> None:
        queue = self._waiting.get(context)
        while queue and self._admitted[context] < self.pages_per_context:
            _, _, future = heapq.heappop(queue)
            if not future.done():
                self._admitted[context] += 1
                future.set_result(None)
        if not queue:
            self._waiting.pop(context, None)
