"""Skips article requests whose listing date is not newer than the last fetch (SPIDER_MIDDLEWARES, 600).

Drops an article request, without fetching it, when the sitemap or feed that listed it gives a modification
date older than our last confirmed fetch (``incremental/skipped_by_date``). It reads
``meta["hint_modified"]`` (a sitemap ``lastmod``); the publication date (``meta["hint_published"]``) only with
INCREMENTAL_SKIP_BY_PUBLISHED, because an edit does not change it. Off with INCREMENTAL_SKIP_BY_DATE off or
INCREMENTAL_REFETCH on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from crawler.incremental.config import is_article
from crawler.incremental.state import incremental_state

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response

logger = logging.getLogger(__name__)


class IncrementalSpiderMiddleware(BaseSpiderMiddleware):
    """Drops article requests whose listing date is older than the article's last confirmed fetch."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.incremental = incremental_state(crawler)
        config = self.incremental.config
        if not config.skip_by_date or config.refetch:
            raise NotConfigured("INCREMENTAL_SKIP_BY_DATE is off (or INCREMENTAL_REFETCH is on)")
        self.use_published = config.skip_by_published
        assert crawler.stats is not None
        self.stats = crawler.stats

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        if not is_article(request):
            return request
        listed = request.meta.get("hint_modified") or request.meta.get("lastmod")
        if not listed and self.use_published:
            listed = request.meta.get("hint_published")
        if not listed:
            return request
        state = self.incremental.site(request.meta["site"])
        if not state.listed_unchanged(request.url, listed):
            return request
        state.record_seen(request.url)
        self.stats.inc_value("incremental/skipped_by_date")
        logger.debug("Unchanged since the last crawl (listed %s): %s", listed, request.url)
        return None
