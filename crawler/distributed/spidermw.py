"""``InflightSpiderMiddleware``: a response is done once all its spider output is safe elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler.distributed.coordinator import RedisCoordinator


class InflightSpiderMiddleware:
    """Hands the spider's output for a response to the ``RedisCoordinator``, which takes the response out
    of the in-flight hash once the output has ended, each request it yielded is in the shared queue and
    each article it yielded has its pipeline outcome (see ``RedisCoordinator.output_started``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> InflightSpiderMiddleware:
        if not crawler.settings.get("CRAWL_REDIS_URL"):
            raise NotConfigured("CRAWL_REDIS_URL is empty")
        return cls(crawler)

    @property
    def coordinator(self) -> RedisCoordinator | None:
        return getattr(self.crawler, "redis_coordinator", None)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any], spider: Spider | None = None
    ) -> AsyncIterator[Any]:
        coordinator = self.coordinator
        if coordinator is None or response.request is None:
            async for obj in result:
                yield obj
            return
        output = coordinator.output_started(response.request)
        try:
            async for obj in result:
                coordinator.output_item(output, obj)
                yield obj
        finally:
            coordinator.output_ended(output)

    def process_spider_output(
        self, response: Response, result: Iterable[Any], spider: Spider | None = None
    ) -> Iterator[Any]:
        coordinator = self.coordinator
        if coordinator is None or response.request is None:
            yield from result
            return
        output = coordinator.output_started(response.request)
        try:
            for obj in result:
                coordinator.output_item(output, obj)
                yield obj
        finally:
            coordinator.output_ended(output)

    def process_spider_exception(
        self, response: Response, exception: Exception, spider: Spider | None = None
    ) -> None:
        coordinator = self.coordinator
        if coordinator is not None:
            coordinator.output_failed(response)
