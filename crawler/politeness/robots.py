"""robots.txt as RFC 9309 says: unreachable means keep off, unavailable means allow, Crawl-delay is kept.

``PolitenessRobotsTxtMiddleware`` takes the place of Scrapy's ``RobotsTxtMiddleware`` (order 100) and
differs from it in what a robots.txt answer that is not a 2xx means (RFC 9309 section 2.3.1):

- 4xx ("unavailable"): no rules, everything allowed (Scrapy parses the error page as rules instead);
- 5xx, 429, or no answer at all ("unreachable", after RetryMiddleware's retries): nothing of the host is
  fetched. Its requests are held back (``RobotsTxtUnreachable``, which the spider does not count as a
  failure) and robots.txt is asked again ROBOTSTXT_UNREACHABLE_RETRY_DELAY seconds later, up to
  ROBOTSTXT_UNREACHABLE_RETRIES times while the crawl runs (the crawl waits for these); when it answers, the
  held requests are scheduled again. A 429 is taken as "unreachable" too: the server asks us to slow down,
  and crawling it without rules would be the opposite;
- a ``Crawl-delay`` for our user agent (Protego reads it) becomes the host's smallest spacing between two
  requests, through the crawl's ``HostGate``.

robots.txt is fetched in its host's download slot (host and port), so it is paced with the host's pages.
Stats: Scrapy's ``robotstxt/*``, plus ``robotstxt/unreachable/<host:port>`` (requests of that host not
fetched because its robots.txt could not be read: listed in the crawl report), ``robotstxt/unreachable_retry``,
``robotstxt/recovered`` and ``robotstxt/crawl_delay/<host:port>`` (seconds).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.utils.asyncio import CallLaterResult, call_later
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawler.politeness.config import PolitenessConfig
from crawler.politeness.extension import host_gate
from crawler.politeness.gate import HostGate

logger = logging.getLogger(__name__)


class RobotsTxtUnreachable(IgnoreRequest):
    """The request's host has a robots.txt that could not be read: the request is held back."""


class UnreachableRobots(RobotParser):
    """Stands in for the rules of a host whose robots.txt could not be read: nothing is allowed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    @classmethod
    def from_crawler(cls, crawler: Crawler, robotstxt_body: bytes) -> UnreachableRobots:
        return cls("unreachable")

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return False

    def crawl_delay(self, user_agent: str | bytes) -> float | None:
        return None


@dataclass
class _Unreachable:
    reason: str
    attempts: int = 1
    held: list[Request] = field(default_factory=list)
    retry: CallLaterResult | None = None  # the next attempt, when one is scheduled
    asking: bool = False  # an attempt is under way


class PolitenessRobotsTxtMiddleware(RobotsTxtMiddleware):
    def __init__(self, crawler: Crawler, gate: HostGate, config: PolitenessConfig) -> None:
        super().__init__(crawler)
        self.gate = gate
        self.config = config
        self._unreachable: dict[str, _Unreachable] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PolitenessRobotsTxtMiddleware:
        mw = cls(crawler, host_gate(crawler), PolitenessConfig.from_settings(crawler.settings))
        crawler.signals.connect(mw.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        # robots.txt requests (made by this middleware) go in their host's slot like its pages.
        request.meta.setdefault("download_slot", urlparse_cached(request).netloc)
        await super().process_request(request)

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        if isinstance(rp, UnreachableRobots):
            netloc = urlparse_cached(request).netloc
            state = self._unreachable[netloc]
            state.held.append(request)
            self._stats.inc_value(f"robotstxt/unreachable/{netloc}")
            raise RobotsTxtUnreachable(f"robots.txt of {netloc} unreachable ({state.reason}): {request.url}")
        super().process_request_2(rp, request)

    # --- the answer ----------------------------------------------------------------------------------

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status >= 500 or response.status == 429:
            self._stats.inc_value("robotstxt/response_count")
            self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
            self._resolve_unreachable(netloc, f"HTTP {response.status}")
            return
        if not 200 <= response.status < 300:
            response = response.replace(body=b"")  # 4xx (or redirects that led nowhere): no rules
        await super()._parse_robots(response, netloc, request)
        rp = self._parsers.get(netloc)
        if rp is None or isinstance(rp, Deferred):
            return
        delay = rp.crawl_delay(self._robotstxt_useragent or self._default_useragent)
        if delay:
            self._stats.set_value(f"robotstxt/crawl_delay/{netloc}", delay)
            logger.info(
                "robots.txt of %s asks for Crawl-delay %.3gs: kept as its smallest delay", netloc, delay
            )
            await self.gate.set_floor(netloc, float(delay))

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if not isinstance(exc, IgnoreRequest):
            self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
            self._resolve_unreachable(netloc, type(exc).__name__)
            return
        super()._robots_error(exc, netloc)  # robots.txt itself refused (out of scope): no rules

    def _resolve_unreachable(self, netloc: str, reason: str) -> None:
        rp = UnreachableRobots(reason)
        waiting = self._parsers.get(netloc)
        self._parsers[netloc] = rp
        state = self._unreachable.get(netloc)
        if state is None:
            state = self._unreachable[netloc] = _Unreachable(reason)
        else:
            state.attempts += 1
            state.reason = reason
        if state.attempts <= self.config.robots_retries:
            logger.warning(
                "robots.txt of %s unreachable (%s): nothing of it is fetched; asking again in %.0fs",
                netloc,
                reason,
                self.config.robots_retry_delay,
            )
            state.retry = call_later(self.config.robots_retry_delay, self._retry, netloc)
        else:
            state.retry = None
            logger.warning(
                "robots.txt of %s unreachable (%s) after %d attempt(s): nothing of it is fetched in this crawl",
                netloc,
                reason,
                state.attempts,
            )
        if isinstance(waiting, Deferred):
            waiting.callback(rp)

    # --- asking again --------------------------------------------------------------------------------

    def _retry(self, netloc: str) -> None:
        state = self._unreachable[netloc]
        state.retry = None
        if not state.held:
            return  # nothing of the host was asked for meanwhile
        self._stats.inc_value("robotstxt/unreachable_retry")
        del self._parsers[netloc]
        state.asking = True
        d = deferred_from_coro(self._ask_again(netloc, state))
        d.addErrback(lambda failure: logger.error("robots.txt retry for %s failed: %s", netloc, failure))

    async def _ask_again(self, netloc: str, state: _Unreachable) -> None:
        try:
            rp = await self.robot_parser(state.held[0])
            # Still unreachable: counted, and maybe scheduled again, by _resolve_unreachable.
            if not isinstance(rp, UnreachableRobots):
                self._release_held(netloc, state)
        finally:
            state.asking = False

    def _release_held(self, netloc: str, state: _Unreachable) -> None:
        held, state.held = state.held, []
        del self._unreachable[netloc]
        self._stats.set_value(f"robotstxt/unreachable/{netloc}", 0)
        self._stats.inc_value("robotstxt/recovered")
        logger.info("robots.txt of %s answered: scheduling its %d held request(s)", netloc, len(held))
        engine = self.crawler.engine
        assert engine is not None
        for request in held:
            engine.crawl(request.replace(dont_filter=True))

    def spider_idle(self, spider: Spider) -> None:
        if any(state.retry is not None or state.asking for state in self._unreachable.values()):
            raise DontCloseSpider  # robots.txt of some host is still to be asked again

    def spider_closed(self, spider: Spider) -> None:
        for state in self._unreachable.values():
            if state.retry is not None:
                state.retry.cancel()
                state.retry = None
