"""Extraction pipeline: HTML to the article record, in a process pool off the Twisted reactor.

Reads EXTRACT_WORKERS (0: one worker per core). A page that is not an article (section page, empty or
binary body) is dropped with its reason counted under ``extract/no_article/<reason>``; an extraction
that crashes is logged, counted under ``extract/failed`` and skipped, and the crawl goes on.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from archive.record import text_sha256
from crawler.config import SettingsReader
from crawler.items import ArticlePage
from crawler.pipelines.relevance import topic_path
from crawler.urls import canonicalize_url

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
        from relevance import Topic

        topic = _TOPICS.get(topic_path)
        if topic is None:
            topic = _TOPICS[topic_path] = Topic.load(topic_path)
        record["relevance"] = topic.score(record.get("title") or "", record.get("text") or "").to_dict()
        if corpus and record["relevance"]["relevant"]:
            from corpus.worker import corpus_features

            record["corpus"] = corpus_features(
                topic_path, record.get("title") or "", record.get("text") or ""
            )
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


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _worker_start(parent_pid: int) -> None:
    """Runs first in every worker: die with the crawl, then import trafilatura and friends once.

    A crawl killed with SIGKILL (the OOM killer, ``kill -9``) runs no clean-up, and a worker waiting on its
    task queue would never notice: it holds that queue's write end itself. So the kernel kills it when its
    parent dies (Linux ``PR_SET_PDEATHSIG``; the parent is the thread that started it, the reactor thread,
    which lives as long as the crawl), or, elsewhere, a thread watches the parent pid. With the workers gone,
    multiprocessing's resource tracker sees the last copy of its pipe close and exits too.
    """
    if not _parent_death_signal(signal.SIGKILL):
        threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:  # the crawl died before the signal was set up
        os._exit(1)
    import extraction  # noqa: F401


def _parent_death_signal(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(1)


@dataclass(frozen=True)
class ExtractConfig:
    workers: int  # processes in the pool
    topic_path: str  # scored next to the extraction, from the file the relevance pipeline reads

    @classmethod
    def from_settings(cls, settings: Any) -> ExtractConfig:
        """Raises ``ConfigError`` for a bad EXTRACT_WORKERS (0: one worker per core)."""
        r = SettingsReader(settings)
        workers = r.integer("EXTRACT_WORKERS", minimum=0, hint=" (0 means one per core)")
        r.check()
        return cls(workers or os.cpu_count() or 1, str(topic_path(settings)))


class ExtractPipeline:
    def __init__(
        self, stats: StatsCollector, workers: int, topic_path: str | None = None, corpus: bool = False
    ) -> None:
        self.stats = stats
        self.workers = workers
        self.topic_path = topic_path
        self.corpus = corpus  # entity tags and near-duplicate signature too (crawler.corpus)
        self._executor: Executor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        config = ExtractConfig.from_settings(crawler.settings)
        assert crawler.stats is not None
        corpus = crawler.settings.getbool("CORPUS_ENABLED", True)
        pipeline = cls(crawler.stats, config.workers, config.topic_path, corpus)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def _pool(self) -> Executor:
        if self._executor is None:
            # spawn: forking a process that runs threads (uploads, the browser) is unsafe.
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_worker_start,
                initargs=(os.getpid(),),
            )
        return self._executor

    async def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, ArticlePage):
            return item
        started = time.monotonic()
        loop = asyncio.get_running_loop()
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
            record = await loop.run_in_executor(self._pool(), extract_record, *args)
        except BrokenProcessPool:
            self.stats.inc_value("extract/failed/worker_died")
            logger.error("Extraction worker died on %s; restarting the pool", item.url)
            self._executor = None
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

    def spider_closed(self, spider: Spider) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
