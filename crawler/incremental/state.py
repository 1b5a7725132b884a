"""The per-site incremental state of one crawl: loaded from the archive store, saved back at the end.

``IncrementalExtension`` owns one ``archive.state.CrawlState`` per site. The ``ArchiveSession`` builds it
(INCREMENTAL_ENABLED on), loads every site when the spider opens and saves it in its closing sequence
(directly to the store; if the store is unreachable, the run's delta goes to the spool). The store pipeline
records each stored text version in it. Reachable as ``crawler.incremental_state``.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import threads

from archive.state import CrawlState, utc_now
from archive.state_store import SaveResult, StateStore
from archive.store import StoreError
from crawler.incremental.config import IncrementalConfig

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.spiders import Spider
    from scrapy.statscollectors import StatsCollector
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)


class IncrementalExtension:
    """Owns the per-site ``CrawlState`` objects of one crawl; see the module docstring."""

    def __init__(self, config: IncrementalConfig, stats: StatsCollector, storage: Any) -> None:
        self.config = config
        self.stats = stats
        self.storage = storage  # crawler.storage.ArchiveStorageExtension: .store, and put_bytes for a delta
        self.states: dict[str, CrawlState] = {}
        self.store = StateStore(storage.store, config.prefix)
        self.saved: list[SaveResult] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalExtension:
        """The session's state; without a session (storage alone), built here and saved at spider close."""
        session = getattr(crawler, "archive_session", None)
        if session is not None:
            if session.state is None:
                raise NotConfigured("INCREMENTAL_ENABLED is off")
            return session.state
        config = IncrementalConfig.from_settings(crawler.settings)
        if not config.enabled:
            raise NotConfigured("INCREMENTAL_ENABLED is off")
        storage = getattr(crawler, "archive_storage", None)
        if storage is None:
            raise NotConfigured(
                "Incremental crawling keeps its state in the archive store: add "
                "crawler.session.ArchiveSession to EXTENSIONS (or set INCREMENTAL_ENABLED=False)"
            )
        assert crawler.stats is not None
        ext = cls(config, crawler.stats, storage)
        crawler.incremental_state = ext  # type: ignore[attr-defined]
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    @property
    def crawl_id(self) -> str:
        return self.config.crawl_id

    def site(self, name: str) -> CrawlState:
        """The state of site ``name`` (loaded from the store on first use; normally at spider open)."""
        state = self.states.get(name)
        if state is None:
            try:
                state = self.store.load(name, self.crawl_id)
            except StoreError as exc:
                # The store is down: crawl this site as if for the first time (nothing is lost; this run's
                # delta is saved, or spooled, at the end and merged with the earlier state later).
                logger.warning("Incremental state of %s unavailable (%s): fetching it in full", name, exc)
                self.stats.inc_value("incremental/state_unavailable")
                state = CrawlState(name, self.crawl_id)
            self.states[name] = state
            self.stats.inc_value("incremental/known_articles", len(state))
        return state

    def spider_opened(self, spider: Spider) -> Deferred[None]:
        names = [str(s.name) for s in getattr(spider, "sources", [])]
        return threads.deferToThread(self._load_all, names)

    def _load_all(self, names: list[str]) -> None:
        for name in names:
            self.site(name)

    def spider_closed(self, spider: Spider, reason: str = "") -> None:
        # Without a session only. Blocking on purpose: it must finish before the storage drain.
        self.save()

    def save(self) -> list[SaveResult]:
        """Save every site's state; a site whose delta cannot reach the store puts it in the spool."""
        results: list[SaveResult] = []
        for name, state in sorted(self.states.items()):
            try:
                result = self.store.save(state)
            except StoreError as exc:
                self.stats.inc_value("incremental/save_failed")
                self._spool_delta(state, exc)
                continue
            results.append(result)
            self.stats.inc_value("incremental/saved_sites")
            logger.info(
                "Incremental state for %s saved: %d article(s), delta %s",
                name,
                result.articles,
                result.delta_key,
            )
        self.saved.extend(results)
        return results

    def _spool_delta(self, state: CrawlState, exc: StoreError) -> None:
        key = self.store.delta_key(state.site, state.crawl_id)
        changes = state.changes()
        if not changes:
            logger.error("Could not save the incremental state of %s: %s", state.site, exc)
            return
        delta = {"format": 1, "site": state.site, "crawl_id": state.crawl_id, "saved_at": utc_now()}
        delta["articles"] = changes
        self.storage.put_bytes(key, json.dumps(delta, ensure_ascii=False).encode("utf-8"), "application/json")
        logger.warning(
            "Could not save the incremental state of %s (%s); its delta %s waits in the spool",
            state.site,
            exc,
            key,
        )


def incremental_state(crawler: Crawler) -> IncrementalExtension:
    """The crawl's incremental state, for the middlewares and the pipeline; NotConfigured when it is off."""
    ext = getattr(crawler, "incremental_state", None)
    if ext is None:
        raise NotConfigured(
            "No incremental state: INCREMENTAL_ENABLED is off, or crawler.session.ArchiveSession is missing "
            "from EXTENSIONS"
        )
    assert isinstance(ext, IncrementalExtension)
    return ext


def site_state(crawler: Crawler, site: str) -> CrawlState | None:
    """The ``CrawlState`` of ``site`` when incremental crawling is on, else None (for the store pipeline)."""
    ext = getattr(crawler, "incremental_state", None)
    return ext.site(site) if isinstance(ext, IncrementalExtension) else None
