"""CRAWL_FOCUS=prioritise: article requests with no topic signal wait until the crawl has nothing better.

Scrapy's scheduler serves the highest priority first, but whenever it holds only unscored requests (while a
sitemap or the next page of a topic section is still downloading) the idle download slots take them, and a
budgeted crawl spends a large share of its fetches on them. This spider middleware (lowest order, so it sees
what every other spider middleware let through) keeps article requests of priority 0 or below out of the
scheduler and hands them all over when the spider goes idle: everything is still fetched, topic candidates
first. They are handed over as soon as the scheduler runs empty while the downloader holds nothing but
browser renders and the scraper nothing at all: a render takes seconds (up to RENDER_TIMEOUT), yields no
better candidate, and waiting for the idle signal left every other slot empty meanwhile (bench/timeline.py
showed 53 of 86 s of a 1,000-article bench crawl spent so). Not used in Redis mode, where the shared queue
orders requests across workers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.exceptions import DontCloseSpider, NotConfigured

from crawler.focus import FocusConfig


class FocusHoldMiddleware:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.held: list[Request] = []

    @classmethod
    def from_crawler(cls, crawler: Any) -> FocusHoldMiddleware:
        if FocusConfig.from_settings(crawler.settings).mode != "prioritise":
            raise NotConfigured("CRAWL_FOCUS is not prioritise")
        if crawler.settings.get("CRAWL_REDIS_URL"):
            raise NotConfigured("Redis mode: the shared queue orders requests")
        mw = cls(crawler)
        crawler.signals.connect(mw.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(mw.scheduler_empty, signal=signals.scheduler_empty)
        return mw

    def _keep(self, item: Any) -> bool:
        if isinstance(item, Request) and item.meta.get("kind") == "article" and item.priority <= 0:
            self.held.append(item)
            self.crawler.stats.inc_value("focus/held")
            return False
        return True

    def process_spider_output(
        self, response: Any, result: Iterable[Any], spider: Spider | None = None
    ) -> Any:
        return (item for item in result if self._keep(item))

    async def process_spider_output_async(
        self, response: Any, result: AsyncIterator[Any], spider: Spider | None = None
    ) -> AsyncIterator[Any]:
        async for item in result:
            if self._keep(item):
                yield item

    def spider_idle(self, spider: Spider) -> None:
        if self._release():
            raise DontCloseSpider

    def scheduler_empty(self) -> None:
        if self.held and _only_renders_in_flight(self.crawler.engine):
            self._release()
            self.crawler.stats.inc_value("focus/released_early")

    def _release(self) -> bool:
        if not self.held:
            return False
        held, self.held = self.held, []
        engine = self.crawler.engine
        for request in held:
            engine.crawl(request)
        self.crawler.stats.inc_value("focus/released", len(held))
        return True


def _only_renders_in_flight(engine: Any) -> bool:
    """Idle but for browser renders: every start request handled, nothing in the scraper, and every
    request in the downloader a render (``Engine.spider_is_idle`` without its empty-downloader check)."""
    scraper = getattr(getattr(engine, "scraper", None), "slot", None)
    downloader = getattr(engine, "downloader", None)
    if scraper is None or downloader is None or not scraper.is_idle():
        return False
    if getattr(engine, "_start", None) is not None:  # start requests still coming (Scrapy 2.13+)
        return False
    return all(request.meta.get("playwright") for request in downloader.active)
