"""The archive session: the one owner of everything a crawl writes, from its first request to the drain.

``ArchiveSession`` (EXTENSIONS, 90: before every component that writes) parses one frozen ``SessionConfig``
(crawl id, worker id, spool, WARC directory, store, WARC and incremental settings) and builds, once:

* ``storage`` (``crawler.storage.ArchiveStorageExtension``): the store, checked before the first request,
  and the spool with its uploader thread;
* ``warc`` (``crawler.warc.WarcExtension``, None with WARC_ENABLED off): the WARC writer and its digest
  index, which the session fills from ``state/digests.jsonl`` in the store (a later crawl, on any machine,
  writes revisits for payloads an earlier one archived; in a distributed crawl the index lives in Redis and
  this part is off);
* ``manifest`` (``archive.manifest.ManifestWriter``): one JSON line per stored article;
* ``state`` (``crawler.incremental.IncrementalExtension``, None with INCREMENTAL_ENABLED off): the per-site
  incremental state, loaded when the spider opens.

Other components take these objects in their ``from_crawler`` (``ArchiveSession.of(crawler)``); the same
objects are published as ``crawler.archive_storage``, ``crawler.warc_archive`` and
``crawler.incremental_state`` for the components that also run without a session.

Finished WARC files and their CDXJ go to the spool as ``warc/<crawl-id>/<name>`` as soon as the writer
rotates them (WARC_MAX_SIZE, WARC_MAX_AGE), each file's WACZ package a little later as
``wacz/<part>/<warc name>.wacz`` (``crawler.warc``): the data leaves while the crawl runs, and the end of
the crawl uploads only its last pieces. WARCs are hard-linked into the spool (their package is built from
them), and their local copies are removed once their package is handed over.

``close()`` runs at ``spider_closed`` in a thread (the reactor keeps running, Scrapy waits for it), after
every item pipeline has finished and after the other components' ``spider_closed`` handlers have run up to
their first wait, in this order, each step after the one before it is done:

1. WARC: the writer's last records, its last file closed;
2. CDXJ: each finished WARC indexed and handed to the spool;
3. WACZ: the packages not built yet (the last files') built and handed over;
4. digests: the revisit index merged into ``state/digests.jsonl`` in the store;
5. manifest and state: the manifest file handed over, every site's incremental state saved;
6. other components' steps, in the order they were added (``add_closing_step``);
7. upload backlog: what the drain has left to upload, and the backlog's peak, into the stats;
8. report: the crawl report extension, if there is one, writes its objects (the stats are final for
   everything but the drain);
9. drain: wait (bounded) for the uploads, stop the uploaders; what is left stays in the spool
   (``storage/drain_seconds``: how long the drain took).

A step that fails is logged and the next still runs: a broken WACZ must not keep the texts from the store.
Reads CRAWL_ID, CRAWL_WORKER_ID, ARCHIVE_SPOOL_DIR (through ``crawler.identity``) and the settings of
``ArchiveStorageConfig``, ``WarcConfig`` and ``IncrementalConfig``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from scrapy import signals
from scrapy.exceptions import NotConfigured

from archive.digests import JsonlDigestIndex
from archive.keys import state_key, wacz_package_key, warc_key
from archive.manifest import ManifestWriter
from archive.spool import Pending
from archive.store import StoreError
from crawler import identity
from crawler.incremental import IncrementalConfig, IncrementalExtension
from crawler.storage import ArchiveStorageConfig, ArchiveStorageExtension
from crawler.warc import WarcConfig, WarcExtension
from reporting import stats_keys as keys

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider
    from scrapy.statscollectors import StatsCollector
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

DIGESTS_KEY = state_key("digests.jsonl")


class ClosingReport(Protocol):
    """What the session's report step calls (``crawler.report.CrawlReportExtension``)."""

    def finish(self, reason: str) -> object: ...


@dataclass(frozen=True)
class SessionConfig:
    """The crawl's identity and where its files go, parsed once."""

    crawl_id: str
    worker_id: str  # "" for a crawl run by one process
    spool_dir: Path
    storage: ArchiveStorageConfig
    warc: WarcConfig | None  # None: WARC_ENABLED is off
    incremental: IncrementalConfig | None  # None: INCREMENTAL_ENABLED is off

    @property
    def part_name(self) -> str:
        """The crawl id, plus the worker id in a distributed crawl (manifest and WACZ names)."""
        return identity.part_name(self.crawl_id, self.worker_id)

    @property
    def warc_dir(self) -> Path:
        """Where WARC files are written (WARC_DIR; default ``<spool>/warc/<crawl id>``)."""
        if self.warc is not None:
            return self.warc.directory
        return self.spool_dir / "warc" / self.crawl_id

    @property
    def manifest_dir(self) -> Path:
        """The manifest's working file lives here until the session hands it over."""
        return self.spool_dir / "manifests-open"

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> SessionConfig:
        """Raises StoreConfigError or NotConfigured (with the setting's name) for a bad value."""
        crawl_id = identity.crawl_id(settings)  # read once: every part of the session uses this one
        warc = WarcConfig.from_settings(settings, crawl_id=crawl_id)  # checked even when off
        incremental = IncrementalConfig.from_settings(settings, crawl_id=crawl_id)
        return cls(
            crawl_id=crawl_id,
            worker_id=identity.worker_id(settings),
            spool_dir=Path(os.path.abspath(identity.spool_dir(settings))),
            storage=ArchiveStorageConfig.from_settings(settings),
            warc=warc if warc.enabled else None,
            incremental=incremental if incremental.enabled else None,
        )


class ArchiveSession:
    """Owns the store, spool, WARC writer, digest index, manifest and state of one crawl; see the module
    docstring. Reachable as ``crawler.archive_session``."""

    def __init__(
        self,
        config: SessionConfig,
        storage: ArchiveStorageExtension,
        stats: StatsCollector | None = None,
    ) -> None:
        self.config = config
        self.stats = stats
        self.storage = storage
        self.warc = WarcExtension(config.warc, stats) if config.warc is not None else None
        self.manifest = ManifestWriter(config.part_name, config.manifest_dir, storage)
        self.state: IncrementalExtension | None = None
        if config.incremental is not None and stats is not None:
            self.state = IncrementalExtension(config.incremental, stats, storage)
        self.report: ClosingReport | None = None  # set by the report extension
        # Other components' own closing work that writes through the storage (step 6 below).
        self.closing_steps: list[tuple[str, Callable[[], object]]] = []
        self.pending: Pending | None = None
        if self.warc is not None:
            self.warc.on_file_ready.append(self.file_ready)
            self.warc.package_exists = self.package_exists
            self.load_digests()
            self.warc.adopt_leftovers()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveSession:
        config = SessionConfig.from_settings(crawler.settings)
        session = cls(config, ArchiveStorageExtension.build(config.storage, crawler.stats), crawler.stats)
        crawler.archive_session = session  # type: ignore[attr-defined]
        crawler.archive_storage = session.storage  # type: ignore[attr-defined]
        if session.warc is not None:
            session.warc.watch_engine(crawler)
            crawler.warc_archive = session.warc  # type: ignore[attr-defined]
            logger.info("Writing WARC files for crawl %s to %s", config.crawl_id, config.warc_dir)
        if session.state is not None:
            crawler.incremental_state = session.state  # type: ignore[attr-defined]
            crawler.signals.connect(session.state.spider_opened, signal=signals.spider_opened)
        # Connected once the engine runs, after every component has connected its own spider_closed: what
        # those handlers hand over synchronously is in the spool before the closing sequence starts.
        crawler.signals.connect(
            lambda: crawler.signals.connect(session.spider_closed, signal=signals.spider_closed),
            signal=signals.engine_started,
            weak=False,
        )
        return session

    @staticmethod
    def of(crawler: Crawler) -> ArchiveSession:
        """The crawl's session, for a component's ``from_crawler``; NotConfigured when there is none."""
        session = getattr(crawler, "archive_session", None)
        if session is None:
            raise NotConfigured("needs crawler.session.ArchiveSession in EXTENSIONS")
        assert isinstance(session, ArchiveSession)
        return session

    # --- during the crawl -------------------------------------------------------------------------------
    def file_ready(self, path: Path) -> None:
        """A finished WARC, CDXJ or WACZ file: into the spool under its store key (WARC writer thread)."""
        assert self.warc is not None
        spool = self.storage.spool
        if path.suffix == ".wacz":
            key = wacz_package_key(self.config.part_name, path.name.removesuffix(".wacz"))
            spool.add_file(key, path, "application/wacz")
            # The package is in the spool; the WARC and CDXJ it holds are there already under their own keys.
            for member in self.warc.package_members.get(path, ()):
                member.unlink(missing_ok=True)
            return
        content_type = "application/warc" if ".warc" in path.name else "text/plain"
        keep = bool(self.warc.config.wacz_enabled)  # the WACZ is built from these files at close
        spool.add_file(warc_key(self.config.crawl_id, path.name), path, content_type, keep_source=keep)

    def package_exists(self, name: str) -> bool:
        """Whether the package ``name`` (a WARC file's stem) is in the spool or the store already."""
        key = wacz_package_key(self.config.part_name, name)
        if self.storage.spool.has_key(key):
            return True
        try:
            return self.storage.store.exists(key)
        except StoreError:
            return False  # not known: build it (at worst a second copy under another name)

    def load_digests(self) -> None:
        """Fill the revisit index from the store (a JSONL index only; Redis is shared already)."""
        index = self.warc.digest_index if self.warc is not None else None
        if not isinstance(index, JsonlDigestIndex):
            return
        try:
            data = self.storage.store.get_bytes(DIGESTS_KEY)
        except StoreError as exc:
            logger.warning("Revisit index not loaded from the store (%s): payloads are archived in full", exc)
            return
        loaded = 0
        for line in (data or b"").decode("utf-8", "replace").splitlines():
            try:
                entry = json.loads(line)
                index.add(entry["digest"], entry["uri"], entry["date"])
                loaded += 1
            except (ValueError, KeyError, TypeError):
                continue
        logger.info("Revisit index: %d payload digest(s) from earlier crawls", loaded)

    # --- the end ----------------------------------------------------------------------------------------
    def spider_closed(self, spider: Spider, reason: str = "finished") -> Deferred[Pending]:
        from twisted.internet.threads import deferToThread

        return deferToThread(self.close, reason)

    def add_closing_step(self, name: str, step: Callable[[], object]) -> None:
        """Run ``step`` in the closing sequence after the state and before the report (blocking, in the
        closing thread): for a component that hands its last objects to the storage at the end."""
        self.closing_steps.append((name, step))

    def close(self, reason: str = "finished") -> Pending:
        """The closing sequence of the module docstring; returns what is left in the spool. Blocking."""
        steps: list[tuple[str, Callable[[], object]]] = []
        if self.warc is not None:
            steps.append(("WARC, CDXJ and WACZ", self.warc.close))
            steps.append(("revisit index", self.save_digests))
        steps.append(("manifest", self.manifest.close))
        if self.state is not None:
            steps.append(("incremental state", self.state.save))
        steps.extend(self.closing_steps)
        if self.report is not None:
            report = self.report
            steps.append(("report", lambda: report.finish(reason)))
        steps.insert(len(steps) - (self.report is not None), ("upload backlog", self.record_backlog))
        for name, step in steps:
            try:
                step()
            except Exception:  # one failing step (say, the WACZ build) must not keep the rest from the store
                logger.exception("Closing the archive session: the %s step failed", name)
        started = time.monotonic()
        left = self.storage.close()
        if self.stats is not None:
            self.stats.set_value("storage/pending", left.count)
            self.stats.set_value(keys.DRAIN_SECONDS, round(time.monotonic() - started, 3))
        logger.info(
            "Upload drain after the crawl: %.1f s; %d object(s) left in the spool",
            time.monotonic() - started,
            left.count,
        )
        self.pending = left
        return left

    def record_backlog(self) -> None:
        """The upload backlog as the crawl ends (what the drain has left to do) and its peak, for the report."""
        if self.stats is None:
            return
        spool = self.storage.spool
        backlog = spool.pending()
        self.stats.set_value(keys.BACKLOG_AT_END, backlog.count)
        self.stats.set_value(keys.BACKLOG_BYTES_AT_END, backlog.bytes)
        self.stats.set_value(keys.BACKLOG_PEAK_BYTES, spool.peak.bytes)
        logger.info(
            "Upload backlog at the end of the crawl: %d object(s), %d bytes (peak %d bytes)",
            backlog.count,
            backlog.bytes,
            spool.peak.bytes,
        )

    def save_digests(self) -> None:
        """Merge the revisit index into the store's copy: the union of both, the first capture wins."""
        index = self.warc.digest_index if self.warc is not None else None
        if not isinstance(index, JsonlDigestIndex):
            return
        store = self.storage.store
        try:
            # Another crawl may have saved its own meanwhile.
            current = JsonlDigestIndex.load_bytes(
                store.get_bytes(DIGESTS_KEY), index.path.with_suffix(".merge")
            )
            for digest, uri, date in index.entries():
                current.add(digest, uri, date)
            current.close()
            # Written a line at a time through a file: the index is never whole in memory.
            merged = current.dump_file(index.path.with_suffix(".merged"))
            store.put_file(DIGESTS_KEY, merged, content_type="application/jsonl", overwrite=True)
            merged.unlink(missing_ok=True)
            current.path.unlink(missing_ok=True)
        except StoreError as exc:
            logger.warning("Revisit index not saved to the store (%s); the next crawl archives in full", exc)
