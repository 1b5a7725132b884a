"""Honour ``Retry-After`` on 429 and 503 answers: retry once the host may be asked again.

Scrapy 2.19's RetryMiddleware retries 429/503 at once (``RETRY_HTTP_CODES``) and never reads ``Retry-After``.
This downloader middleware sits just above it (order 555: ``process_response`` runs from high to low, so it
sees the response first). For a response whose status is in RETRY_AFTER_HTTP_CODES and that carries a
``Retry-After`` (seconds or an HTTP date):

- a delay up to RETRY_AFTER_MAX_DELAY seconds: hand back the retry request at once (Scrapy's
  ``get_retry_request``: same RETRY_TIMES budget, same ``retry/*`` stats). The waiting is not done here:
  the crawl's host gate (``crawler.politeness.gate``) already holds the whole host, this request's retry
  included, for the time the server asked;
- a longer delay, or no retries left: the response goes on as a failure (``crawl/failed/http_429`` via the
  spider's errback) and is not retried, because asking again sooner is what the server asked us not to do.

Responses without the header are left to RetryMiddleware (the host gate backs the host off for them too).
Settings: RETRY_AFTER_ENABLED, RETRY_AFTER_HTTP_CODES, RETRY_AFTER_MAX_DELAY, RETRY_TIMES. Stats:
``retry_after/waited``, ``retry_after/seconds``, ``retry_after/too_long``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector

from crawler.config import SettingsReader

logger = logging.getLogger(__name__)


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date); None when unparseable."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryAfterConfig:
    enabled: bool  # RETRY_AFTER_ENABLED and Scrapy's RETRY_ENABLED
    codes: set[int]
    max_delay: float

    @classmethod
    def from_settings(cls, settings: Any) -> RetryAfterConfig:
        """Raises ``ConfigError`` naming every bad RETRY_AFTER_* setting."""
        r = SettingsReader(settings)
        enabled = r.boolean("RETRY_AFTER_ENABLED") and r.boolean("RETRY_ENABLED")
        codes = set(r.int_list("RETRY_AFTER_HTTP_CODES", low=100, high=599))
        max_delay = r.number("RETRY_AFTER_MAX_DELAY", minimum=0, hint=" (seconds)")
        r.check()
        return cls(enabled, codes, max_delay)


class RetryAfterMiddleware:
    def __init__(self, crawler: Crawler, stats: StatsCollector, codes: set[int], max_delay: float) -> None:
        self.crawler = crawler
        self.stats = stats
        self.codes = codes
        self.max_delay = max_delay

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        config = RetryAfterConfig.from_settings(crawler.settings)
        if not config.enabled:
            raise NotConfigured("RETRY_AFTER_ENABLED or RETRY_ENABLED is off")
        assert crawler.stats is not None
        return cls(crawler, crawler.stats, config.codes, config.max_delay)

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if response.status not in self.codes or request.meta.get("dont_retry"):
            return response
        header = response.headers.get(b"Retry-After")
        if not header:
            return response
        delay = parse_retry_after(header.decode("latin-1"))
        if delay is None:
            return response
        if delay > self.max_delay:
            self.stats.inc_value("retry_after/too_long")
            logger.warning(
                "%s answered %d with Retry-After %.0fs (over RETRY_AFTER_MAX_DELAY %.0fs); not retried",
                request.url,
                response.status,
                delay,
                self.max_delay,
            )
            request.meta["dont_retry"] = True
            return response
        target = spider or self.crawler.spider
        assert target is not None
        retry = get_retry_request(
            request, spider=target, reason=f"{response.status} with Retry-After {delay:.0f}s"
        )
        if retry is None:
            request.meta["dont_retry"] = True  # budget spent: RetryMiddleware must not try once more
            return response
        self.stats.inc_value("retry_after/waited")
        self.stats.inc_value("retry_after/seconds", round(delay))
        logger.info(
            "%s answered %d: retrying once its host may be asked again (Retry-After %.1fs)",
            request.url,
            response.status,
            delay,
        )
        return retry
