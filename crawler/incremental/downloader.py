"""Conditional requests for known articles (DOWNLOADER_MIDDLEWARES, 580).

Below the WARC middleware (950), so a 304 is archived before it is turned away. Adds ``If-None-Match`` /
``If-Modified-Since`` to article requests for known URLs and puts the earlier capture in
``request.meta["incremental_refers_to"]``; a 304 answers ``NotModified`` (an ``IgnoreRequest``: nothing
reaches the spider callback) and counts ``incremental/unchanged``; a 200 records the new validators and
payload digest. Reads INCREMENTAL_REFETCH (through the state's config).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archive.warc_fields import payload_digest
from crawler.incremental.config import NotModified, is_article
from crawler.incremental.state import IncrementalExtension, incremental_state

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response
    from scrapy.spiders import Spider
    from scrapy.statscollectors import StatsCollector


class IncrementalDownloaderMiddleware:
    """Conditional requests for known articles; 304 ends the request, 200 updates the state."""

    def __init__(self, incremental: IncrementalExtension, stats: StatsCollector, refetch: bool) -> None:
        self.incremental = incremental
        self.stats = stats
        self.refetch = refetch

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalDownloaderMiddleware:
        ext = incremental_state(crawler)
        assert crawler.stats is not None
        return cls(ext, crawler.stats, ext.config.refetch)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not is_article(request) or request.meta.get("playwright") or self.refetch:
            return
        state = self.incremental.site(request.meta["site"])
        known = state.get(request.url)
        if known is None:
            return
        headers = state.conditional_headers(request.url)
        added = False
        for name, value in headers.items():
            if name not in request.headers:
                request.headers[name] = value
                added = True
        if added:
            request.meta["incremental_conditional"] = True
            if known.capture:
                # For the WARC writer: the capture a server-not-modified revisit record refers to.
                request.meta["incremental_refers_to"] = dict(known.capture)
            self.stats.inc_value("incremental/conditional_requests")

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if not is_article(request) or request.meta.get("playwright"):
            return response
        state = self.incremental.site(request.meta["site"])
        if response.status == 304 and request.meta.get("incremental_conditional"):
            state.record_not_modified(request.url)
            self.stats.inc_value("incremental/unchanged")
            raise NotModified(f"not modified since the last crawl: {request.url}")
        if response.status != 200:
            return response
        known = state.get(request.url)
        warc = request.meta.get("warc") or {}
        state.record_fetch(
            request.url,
            status=response.status,
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            payload_digest=warc.get("payload_digest") or payload_digest(response.body),
            capture=warc or None,
        )
        self.stats.inc_value("incremental/refetched" if known is not None else "incremental/new")
        return response


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
