"""``HostPolitenessExtension``: every transfer passes the crawl's ``HostGate`` first.

Scrapy has no hook between a download slot letting a request go and the download handler sending it, so at
``spider_opened`` the extension wraps the downloader's handlers (plain HTTP and the browser alike): the gate
is asked just before the handler starts and told how the transfer ended just after, before the slot picks
its next request, so a 429/503 holds the host before anything else of it is sent. Time spent waiting at the
gate is not download latency (the handlers measure that themselves), so AutoThrottle is not misled.

Settings: see ``crawler.politeness.config``; CRAWL_REDIS_URL chooses the cluster-wide gate.
Stats: ``politeness/backoff/<status>`` (answers that held a host back).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from crawler.distributed.config import RedisConfig
from crawler.politeness.config import PolitenessConfig
from crawler.politeness.gate import HostGate, LocalHostGate
from crawler.retry_after import parse_retry_after

logger = logging.getLogger(__name__)


def host_gate(crawler: Crawler) -> HostGate:
    """The crawl's one gate (built on first use, so middlewares and the extension share it)."""
    gate: HostGate | None = getattr(crawler, "host_gate", None)
    if gate is None:
        config = PolitenessConfig.from_settings(crawler.settings)
        redis_config = RedisConfig.from_settings(crawler.settings)
        if redis_config is None:
            gate = LocalHostGate(config)
        else:
            from crawler.distributed.hostgate import RedisHostGate

            gate = RedisHostGate(redis_config, config)
        crawler.host_gate = gate  # type: ignore[attr-defined]
    return gate


def slot_key(request: Request) -> str:
    """The request's download slot: what the spider set, else its host and port."""
    return str(request.meta.get("download_slot") or urlparse_cached(request).netloc)


class HostPolitenessExtension:
    def __init__(self, crawler: Crawler, gate: HostGate, config: PolitenessConfig) -> None:
        self.crawler = crawler
        self.gate = gate
        self.config = config

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostPolitenessExtension:
        ext = cls(crawler, host_gate(crawler), PolitenessConfig.from_settings(crawler.settings))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Spider) -> None:
        assert self.crawler.engine is not None
        handlers = self.crawler.engine.downloader.handlers
        handlers.download_request_async = self._gated(handlers.download_request_async)  # type: ignore[method-assign,assignment]

    async def spider_closed(self, spider: Spider) -> None:
        await self.gate.close()

    def _gated(
        self, download: Callable[[Request], Coroutine[Any, Any, Response]]
    ) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        async def gated_download(request: Request) -> Response:
            if urlparse_cached(request).scheme not in ("http", "https"):
                return await download(request)
            key = slot_key(request)
            delay, concurrency = self._slot_limits(key)
            lease = await self.gate.acquire(key, delay, concurrency)
            status: int | None = None
            retry_after: float | None = None
            try:
                response = await download(request)
                status = response.status
                if status in self.config.backoff_codes:
                    header = response.headers.get(b"Retry-After")
                    retry_after = parse_retry_after(header.decode("latin-1")) if header else None
                    self.crawler.stats.inc_value(f"politeness/backoff/{status}")
                    logger.info(
                        "%s answered %d: holding %s back (Retry-After %s)",
                        request.url,
                        status,
                        key,
                        "none" if retry_after is None else f"{retry_after:.0f}s",
                    )
                return response
            finally:
                await self.gate.release(key, lease, status, retry_after)

        return gated_download

    def _slot_limits(self, key: str) -> tuple[float, int]:
        engine: Any = self.crawler.engine
        slot = engine.downloader.slots.get(key) if engine is not None else None
        if slot is None:
            settings = self.crawler.settings
            return settings.getfloat("DOWNLOAD_DELAY"), settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        return float(slot.delay), int(slot.concurrency)
