"""Extraction pipeline: HTML to the article record, in a process pool off the Twisted reactor.

Reads EXTRACT_WORKERS (0: one worker per core) through ``crawler.workers``, whose pool it shares with the
requisites middleware. A page that is not an article (section page, empty or
binary body) is dropped with its reason counted under ``extract/no_article/<reason>``; an extraction
that crashes is logged, counted under ``extract/failed`` and skipped, and the crawl goes on.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from archive.record import text_sha256
from crawler.items import ArticlePage
from crawler.pipelines.relevance import topic_path
from crawler.urls import canonicalize_url
from crawler.workers import WorkerPool, configured_workers

logger = logging.getLogger(__name__)


_TOPICS: dict[str, Any] = {}


def extract_record(
    body: bytes,
    url: str,
    headers: dict[str, str],
    feed_content: str | None,
    hint_published: str | None,
    topic_path: str | None = None,
    corpus: bool = False,
    trace: list[Any] | None = None,
) -> dict[str, Any]:
    """Run in a worker process: the article record, or ``{"status": "no_article", "reason": ...}``.

    With ``topic_path`` the record also carries the relevance decision (``relevance``), scored here so the
    CPU work stays off the crawler's reactor thread; with ``corpus`` a relevant article also carries its
    entity tags and near-duplicate signature (``corpus``, see ``corpus.worker``). ``trace`` collects what
    the clean-up removed (``extraction.cleanup.Removal``; ``scrapy extract --explain``).
    """
    record = _extract(body, url, headers, feed_content, hint_published, trace)
    if topic_path and record.get("status") == "article":
        from relevance import Topic, tokenize_parts

        topic = _TOPICS.get(topic_path)
        if topic is None:
            topic = _TOPICS[topic_path] = Topic.load(topic_path)
        title, text = record.get("title") or "", record.get("text") or ""
        parts = tokenize_parts(title, text)  # once: the score, the entity tags and the shingles read it
        record["relevance"] = topic.score(title, text, parts=parts).to_dict()
        if corpus and record["relevance"]["relevant"]:
            from corpus.worker import corpus_features

            record["corpus"] = corpus_features(topic_path, title, text, parts=parts, topic=topic)
    return record


def _extract(
    body: bytes,
    url: str,
    headers: dict[str, str],
    feed_content: str | None,
    hint_published: str | None,
    trace: list[Any] | None = None,
) -> dict[str, Any]:
    from extraction import Article, extract, extract_feed_entry

    result = extract(body, url, headers, trace=trace)
    if not isinstance(result, Article) and feed_content:
        # The page gave no article text (a broken template, a stub); the feed carried the whole body.
        fallback = extract_feed_entry(feed_content, url, None, hint_published)
        if isinstance(fallback, Article):
            record = fallback.to_record()
            record["status"] = "article"
            record["text_source"] = "feed"
            return record
    record = result.to_record()
    if isinstance(result, Article):
        record["status"] = "article"
        record["text_source"] = "page"
        if not record.get("published") and hint_published:
            record["published"] = hint_published
            record["published_source"] = "listing"
    return record


@dataclass(frozen=True)
class ExtractConfig:
    workers: int  # processes in the pool
    topic_path: str  # scored next to the extraction, from the file the relevance pipeline reads

    @classmethod
    def from_settings(cls, settings: Any) -> ExtractConfig:
        """Raises ``ConfigError`` for a bad EXTRACT_WORKERS (0: one worker per core)."""
        return cls(configured_workers(settings), str(topic_path(settings)))


class ExtractPipeline:
    def __init__(
        self,
        stats: StatsCollector,
        workers: int | WorkerPool,
        topic_path: str | None = None,
        corpus: bool = False,
    ) -> None:
        self.stats = stats
        # The crawl's shared pool (crawler.workers), or one of its own for ``workers`` processes.
        self.pool = workers if isinstance(workers, WorkerPool) else WorkerPool(workers)
        self.topic_path = topic_path
        self.corpus = corpus  # entity tags and near-duplicate signature too (crawler.corpus)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        config = ExtractConfig.from_settings(crawler.settings)
        assert crawler.stats is not None
        corpus = crawler.settings.getbool("CORPUS_ENABLED", True)
        return cls(crawler.stats, WorkerPool.of(crawler), config.topic_path, corpus)

    async def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, ArticlePage):
            return item
        started = time.monotonic()
        args = (
            item.body,
            item.response_url,
            item.headers,
            item.feed_content,
            item.hint_published,
            self.topic_path,
            self.corpus,
        )
        try:
            record = await self.pool.run(extract_record, *args)
        except BrokenProcessPool:
            self.stats.inc_value("extract/failed/worker_died")
            logger.error("Extraction worker died on %s; restarting the pool", item.url)
            raise DropItem(f"extraction worker died on {item.url}") from None
        except Exception as exc:  # an extraction bug must not stop the crawl
            self.stats.inc_value("extract/failed/error")
            logger.exception("Extraction failed on %s", item.url)
            raise DropItem(f"extraction failed on {item.url}: {exc!r}") from None
        self.stats.inc_value("extract/milliseconds", int((time.monotonic() - started) * 1000))
        if record.get("status") != "article":
            reason = record.get("reason", "unknown")
            self.stats.inc_value(f"extract/no_article/{reason}")
            self.stats.inc_value(f"extract/no_article_by_site/{item.site}")
            raise DropItem(f"no article at {item.url}: {reason}")
        self.stats.inc_value("extract/articles")
        self.stats.inc_value(f"extract/articles_by_site/{item.site}")
        if not record.get("published"):
            self.stats.inc_value("extract/missing_date")
            self.stats.inc_value(f"extract/missing_date_by_site/{item.site}")
        item.record = record
        # Computed once per article here; the incremental and store pipelines, the state and the report
        # read them from the item (and from its StoredRecord).
        item.canonical_url = canonicalize_url(record.get("canonical_url") or item.url)
        item.text_sha256 = text_sha256(record.get("text") or "")
        return item
