"""Crash recovery: a crawl killed (even with SIGKILL) and started again with the same CRAWL_ID finishes the
remaining work, with nothing archived fetched again and nothing lost.

Why not Scrapy's JOBDIR alone: JOBDIR keeps the pending requests in disk queues whose index (``active.json``,
queuelib's ``info.json``) is only written at a clean close, and the duplicate filter's ``requests.seen`` is
written as requests are *scheduled*. After SIGKILL the queue index is stale or missing while the filter
already holds every scheduled request, so a restart would silently drop those requests. JOBDIR is fine for
a clean pause (one SIGINT/SIGTERM), not for a crash.

So the crawl keeps its own small state, and a restart rediscovers (home, sitemaps and feeds are fetched again,
they are cheap and may have changed) and skips what is done:

* ``CrawlRecoveryExtension`` (EXTENSIONS, 95: after the ``ArchiveSession``, which it needs): at start-up repairs every
  ``*.warc.gz.open`` left in the crawl's WARC directory (``archive.repair``: cut after the last whole record,
  rename) and, once the engine runs, hands the repaired files to the WARC extension like any finished file
  (CDXJ, upload). It keeps a journal, ``<CRAWL_STATE_DIR>/<crawl id>.done``, of the canonical URLs of
  article pages that went through every item pipeline (stored, or dropped on purpose: irrelevant, not an
  article); each line is flushed as it is written, so a killed process loses nothing the OS got. At start it
  loads that journal, plus the lines of the crawl's manifest working file (the ``ArchiveSession``'s
  ``manifest.path``), into the set of done URLs.
* ``SkipDoneSpiderMiddleware`` (SPIDER_MIDDLEWARES): drops article requests whose canonical URL is done,
  before they reach the scheduler (``recovery/skipped_done``).

What a restart fetches again: discovery pages; articles that were downloaded but not yet through the
pipelines when the process died (in flight at the kill); failed, non-HTML and out-of-budget pages.

Settings: RECOVERY_ENABLED (True), CRAWL_STATE_DIR (default ``<ARCHIVE_SPOOL_DIR or ./archive-spool>/state``),
and the crawl id, spool and WARC directory of the ``ArchiveSession``. Stats: ``recovery/warc_repaired``,
``recovery/warc_records_kept``, ``recovery/warc_bytes_dropped``, ``recovery/done_loaded``,
``recovery/skipped_done``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from archive.diskmap import DiskSet
from archive.keys import safe_segment
from archive.repair import RepairResult, repair_directory
from crawler import identity
from crawler.config import SettingsReader
from crawler.session import ArchiveSession
from crawler.urls import canonicalize_url

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response
    from scrapy.spiders import Spider
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class DoneJournal:
    """An append-only, line-per-URL file of finished article URLs; thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = DiskSet()  # on disk: memory does not grow with the crawl
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("r", encoding="utf-8", errors="replace") as fh:
                # A line cut by the crash has no newline: ignore it (that URL is simply fetched again).
                self.done.update(line[:-1] for line in fh if line.endswith("\n") and len(line) > 1)
        self._fh = path.open("a", encoding="utf-8")

    def add(self, url: str) -> None:
        with self._lock:
            if url in self.done or self._fh.closed:
                return
            self.done.add(url)
            self._fh.write(url + "\n")
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh.closed:
                return
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()


def _manifest_urls(path: Path) -> set[str]:
    urls: set[str] = set()
    if not path.is_file():
        return urls
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.endswith("\n"):
                continue  # torn last line
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            for key in ("canonical_url", "url"):
                if isinstance(record.get(key), str):
                    urls.add(record[key])  # both canonical already (the store pipeline's record)
    return urls


def recovery_state_dir(settings: Any) -> Path | None:
    """Where the done journal lives (None: RECOVERY_ENABLED is off); raises ``ConfigError`` for a bad value."""
    r = SettingsReader(settings)
    enabled = r.boolean("RECOVERY_ENABLED")
    state_dir = Path(r.text("CRAWL_STATE_DIR") or identity.spool_dir(settings) / "state")
    r.check()
    return state_dir if enabled else None


class CrawlRecoveryExtension:
    """Repairs leftover WARC files and keeps the journal of finished articles; see the module docstring."""

    def __init__(
        self,
        warc_dir: Path,
        journal: DoneJournal,
        manifest_path: Path,
        warc: Any | None = None,
        stats: StatsCollector | None = None,
    ) -> None:
        self.warc_dir = warc_dir
        self.journal = journal
        self.manifest_path = manifest_path  # the crawl manifest's working file (the session's)
        self.warc = warc  # the session's WARC extension, which takes the repaired files
        self.stats = stats
        self.repaired: list[RepairResult] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRecoveryExtension:
        settings = crawler.settings
        state_dir = recovery_state_dir(settings)
        if state_dir is None:
            raise NotConfigured("RECOVERY_ENABLED is off")
        session = ArchiveSession.of(crawler)
        config = session.config
        journal = DoneJournal(state_dir / f"{safe_segment(config.crawl_id)}.done")
        ext = cls(config.warc_dir, journal, session.manifest.path, session.warc, crawler.stats)
        # Repair now, before any component can open a new WARC file in the same directory (the writer
        # opens its first file with its first record).
        if config.warc_dir.is_dir():
            ext.repaired = [r for r in repair_directory(config.warc_dir) if r.path is not None]
        crawler.recovery = ext  # type: ignore[attr-defined]
        crawler.signals.connect(ext.engine_started, signal=signals.engine_started)
        crawler.signals.connect(ext.item_done, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_done, signal=signals.item_dropped)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    @property
    def done(self) -> DiskSet:
        return self.journal.done

    def engine_started(self) -> None:
        self.journal.done.update(_manifest_urls(self.manifest_path))
        if self.stats is not None:
            self.stats.set_value("recovery/done_loaded", len(self.journal.done))
            self.stats.set_value("recovery/warc_repaired", len(self.repaired))
            self.stats.set_value("recovery/warc_records_kept", sum(r.records for r in self.repaired))
            self.stats.set_value("recovery/warc_bytes_dropped", sum(r.dropped_bytes for r in self.repaired))
        if self.journal.done or self.repaired:
            logger.info(
                "Resuming crawl: %d articles already done, %d WARC file(s) repaired in %s",
                len(self.journal.done),
                len(self.repaired),
                self.warc_dir,
            )
        if self.warc is None:
            if self.repaired:
                logger.warning("WARC is off: the repaired files stay in %s", self.warc_dir)
            return
        # A repaired file is a finished file: CDXJ index and upload, like one the writer rotated.
        for result in self.repaired:
            self.warc.adopt_finished_file(result.path)

    def item_done(
        self, item: Any, response: Response | None = None, spider: Spider | None = None, **_: Any
    ) -> None:
        # The URL the article was requested by, canonical already (the spider made it so): what the
        # skip middleware compares a new request with.
        url = getattr(item, "url", None)
        if isinstance(url, str) and url:
            self.journal.add(url)

    def spider_closed(self, spider: Spider, reason: str = "") -> None:
        self.journal.close()


class SkipDoneSpiderMiddleware(BaseSpiderMiddleware):
    """Drops requests for articles a previous run of this crawl already finished."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        recovery = getattr(crawler, "recovery", None)
        if recovery is None:
            raise NotConfigured("crawler.recovery.CrawlRecoveryExtension is not enabled in EXTENSIONS")
        self.recovery: CrawlRecoveryExtension = recovery
        assert crawler.stats is not None
        self.stats = crawler.stats

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        if request.meta.get("kind") != "article" or not self.recovery.done:
            return request
        if canonicalize_url(request.url) in self.recovery.done:
            self.stats.inc_value("recovery/skipped_done")
            return None
        return request
