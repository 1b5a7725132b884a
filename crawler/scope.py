"""Scope guard: every request, redirects included, stays on the hosts the sources file configures.

A downloader middleware early in the chain (it sees the requests RedirectMiddleware makes too). It drops:
non-http(s) URLs (``file:``, ``data:``...), hosts outside every site's ``allowed_domains`` (plus hosts of
sitemaps and feeds the site itself points to), and hosts whose address is loopback, private, link-local,
multicast or reserved, literal or after DNS resolution, unless a site lives on that host (its
``allowed_domains`` entry, as the offline newsroom's ``127.0.0.1:<port>``; see ``crawler.addressguard``).
Names are resolved through the reactor's resolver, the one Scrapy's download connects with (its DNS cache
keeps the answer checked here for the connection). Counted under ``scope/dropped/<reason>``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.statscollectors import StatsCollector
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.error import DNSLookupError

from crawler.addressguard import SiteHosts, literal_ip, url_refusal

logger = logging.getLogger(__name__)

Resolve = Callable[[str], Awaitable[Sequence[str]]]


async def reactor_resolve(host: str) -> Sequence[str]:
    """The address Scrapy's HTTP download will connect to (``()`` when the name does not resolve: the
    download then fails the usual way)."""
    from twisted.internet import reactor

    try:
        address = await maybe_deferred_to_future(reactor.resolver.getHostByName(host))
    except DNSLookupError:
        return ()
    return (str(address),)


class ScopeMiddleware:
    def __init__(self, crawler: Crawler, stats: StatsCollector, resolve: Resolve = reactor_resolve) -> None:
        self.crawler = crawler
        self.stats = stats
        self.resolve = resolve
        self._hosts: SiteHosts | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScopeMiddleware:
        assert crawler.stats is not None
        return cls(crawler, crawler.stats)

    async def process_request(self, request: Request) -> None:
        # The spider holds the sources (scope); Scrapy no longer passes it to middlewares.
        spider = self.crawler.spider
        reason = self.refusal(request, spider)
        if reason is None:
            reason = await self.address_refusal(request, spider)
        if reason:
            self.stats.inc_value(f"scope/dropped/{reason}")
            logger.info("Out of scope (%s), not fetched: %s", reason, request.url)
            raise IgnoreRequest(f"out of scope ({reason}): {request.url}")

    @staticmethod
    def refusal(request: Request, spider: Spider | None) -> str | None:
        """Scheme and host scope (no DNS): ``scheme``, ``offsite`` or None."""
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "scheme"
        sources = getattr(spider, "sources", None)
        if not sources:
            return None
        host = parts.hostname.lower()
        in_scope = any(s.in_scope(request.url) for s in sources)
        trusted = host in getattr(spider, "trusted_hosts", set())
        # A page requisite may come from any host the page embeds from (a CDN); the address rules still apply.
        embed = request.meta.get("kind") == "requisite"
        if not in_scope and not trusted and not embed:
            return "offsite"
        return None

    async def address_refusal(self, request: Request, spider: Spider | None) -> str | None:
        """``private_address`` when the host's address is not public and no site lives on the host."""
        sources = getattr(spider, "sources", None)
        if not sources:
            return None
        if self._hosts is None:
            self._hosts = SiteHosts.of(sources)
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        try:
            if self._hosts.lives_on(host, parts.port, parts.scheme):
                return None
        except ValueError:  # a port that is not a number
            return "scheme"
        addresses = (host,) if literal_ip(host) is not None else await self.resolve(host)
        why = url_refusal(request.url, addresses, self._hosts)
        if why is None:
            return None
        logger.debug("%s resolves to %s (%s)", host, ", ".join(addresses), why)
        return "private_address"
