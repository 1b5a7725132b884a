"""Drops an article whose text is unchanged since its latest stored version (ITEM_PIPELINES, 250).

After relevance, before the store: an article whose clean text has the same SHA-256 as its latest stored
version makes no new record (``incremental/text_unchanged``). The canonical URL and the SHA-256 are the
ones the extraction pipeline put on the item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem

from crawler.incremental.state import IncrementalExtension, incremental_state
from crawler.items import ArticlePage

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.spiders import Spider
    from scrapy.statscollectors import StatsCollector


class IncrementalPipeline:
    """Drops an article whose clean text is the same as its latest stored version."""

    def __init__(self, incremental: IncrementalExtension, stats: StatsCollector) -> None:
        self.incremental = incremental
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalPipeline:
        assert crawler.stats is not None
        return cls(incremental_state(crawler), crawler.stats)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, ArticlePage) or not item.record:
            return item
        state = self.incremental.site(item.site)
        canonical = item.canonical_url
        known = state.by_canonical(canonical)
        if known is not None and state.text_unchanged(canonical, item.text_sha256):
            state.record_seen(item.url)
            self.stats.inc_value("incremental/text_unchanged")
            raise DropItem(
                f"text unchanged since crawl {known.text_crawl} (version {known.version}): {item.url}"
            )
        return item
