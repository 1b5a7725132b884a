"""``InflightSpiderMiddleware``: a response is done once the spider's output for it is exhausted."""

from __future__ import annotations

from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler.items import ArticlePage


class InflightSpiderMiddleware:
    """Marks a response done once the spider's output for it is exhausted, unless it yielded an article
    (then the article's pipeline outcome marks it)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> InflightSpiderMiddleware:
        if not crawler.settings.get("CRAWL_REDIS_URL"):
            raise NotConfigured("CRAWL_REDIS_URL is empty")
        return cls(crawler)

    async def process_spider_output_async(
        self, response: Response, result: Any, spider: Spider | None = None
    ) -> Any:
        yielded_article = False
        async for obj in result:
            if isinstance(obj, ArticlePage):
                yielded_article = True
            yield obj
        if not yielded_article:
            self._done(response)

    def process_spider_output(self, response: Response, result: Any, spider: Spider | None = None) -> Any:
        yielded_article = False
        for obj in result:
            if isinstance(obj, ArticlePage):
                yielded_article = True
            yield obj
        if not yielded_article:
            self._done(response)

    def process_spider_exception(
        self, response: Response, exception: Exception, spider: Spider | None = None
    ) -> None:
        self._done(response)

    def _done(self, response: Response) -> None:
        coordinator = getattr(self.crawler, "redis_coordinator", None)
        if coordinator is not None:
            coordinator.done(response.request)
