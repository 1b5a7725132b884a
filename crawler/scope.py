"""Scope guard: every request, redirects included, stays on the hosts the sources file configures.

A downloader middleware early in the chain (it sees the requests RedirectMiddleware makes too). It drops:
non-http(s) URLs (``file:``, ``data:``...), hosts outside every site's ``allowed_domains`` (plus hosts of
sitemaps and feeds the site itself points to), and literal private or loopback IP addresses unless a site
is configured on that address (as the offline newsroom is). Counted under ``scope/dropped/<reason>``.
"""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class ScopeMiddleware:
    def __init__(self, crawler: Crawler, stats: StatsCollector) -> None:
        self.crawler = crawler
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScopeMiddleware:
        assert crawler.stats is not None
        return cls(crawler, crawler.stats)

    def process_request(self, request: Request) -> None:
        # The spider holds the sources (scope); Scrapy no longer passes it to middlewares.
        reason = self.refusal(request, self.crawler.spider)
        if reason:
            self.stats.inc_value(f"scope/dropped/{reason}")
            logger.info("Out of scope (%s), not fetched: %s", reason, request.url)
            raise IgnoreRequest(f"out of scope ({reason}): {request.url}")

    @staticmethod
    def refusal(request: Request, spider: Spider | None) -> str | None:
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
        ip = _literal_ip(host)
        if ip is not None and (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved):
            hostport = f"{host}:{parts.port}" if parts.port else host
            configured = any(d in (host, hostport) for s in sources for d in s.allowed_domains)
            if not configured:
                return "private_address"
        return None
