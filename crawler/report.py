"""Scrapy glue for the crawl report: stats dump, report (Markdown + HTML), extraction health history.

``CrawlReportExtension`` (EXTENSIONS) remembers every stored article as a manifest line (``item_scraped``),
loads the previous runs' health of the crawl's sites from the store in a thread when the spider opens, and
at the end (the report step of the ``ArchiveSession``'s closing sequence; ``spider_closed`` without one):

* dumps all stats (JSON, datetimes as ISO strings, plus ``finish_reason``) to ``reports/<crawl-id>/stats.json``;
* builds the report (``reporting.model``) and writes ``reports/<crawl-id>/report.md``, ``report.html`` and
  ``report.json``;
* logs a summary, and every layout-drift warning at WARNING level ("layout drift on site X: ...");
* appends this run's health line per site to ``state/health/<site>.jsonl`` (``reporting.health``).

Report objects go through the session's storage (the spool, so a store outage loses nothing) when there is
a session; a copy of each is always written to REPORT_DIR/<crawl-id>/ so an operator can open
the HTML at once. The health history is state, rewritten in place, so it goes straight to the store (in a
thread) rather than through the spool, whose writes never overwrite.

The stats are a snapshot taken after the WARC files are closed and before the uploader finishes:
``storage/pending`` is the backlog at that moment (CRAWL_STATS_FILE has the final values). Scrapy's own ``finish_time`` is set after ``spider_closed``;
the snapshot carries our own ``finish_time`` and ``elapsed_time_seconds``.

Settings: REPORT_ENABLED (default True), REPORT_DIR (default ``<ARCHIVE_SPOOL_DIR or ./archive-spool>/reports``),
REPORT_PYWB_VENV (``.pywb-venv``, used in the replay commands), DRIFT_MEDIAN_RATIO (0.5), DRIFT_RATE_RISE
(0.30), DRIFT_WINDOW (10 previous runs), DRIFT_MIN_PAGES (3), REPORT_HISTORY_TIMEOUT (60 s to wait at close for
the history still loading); and CRAWL_ID, ARCHIVE_URI.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from archive.fsutil import write_bytes_atomic
from archive.keys import is_archive_file
from archive.record import StoredRecord
from archive.store import StoreError
from crawler import identity
from crawler.config import ConfigError, SettingsReader
from crawler.secrets import SecretMasker
from reporting.health import DriftThresholds, HealthLog, HealthStore, SiteHealth
from reporting.model import CrawlReport, ManifestSummary, StoredFile, build_report, jsonable_stats, report_key

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportConfig:
    """Report settings, parsed and checked once."""

    crawl_id: str
    directory: Path
    pywb_venv: str
    thresholds: DriftThresholds
    history_timeout: float

    @classmethod
    def from_settings(cls, settings: BaseSettings, *, crawl_id: str | None = None) -> ReportConfig:
        """Raises ``ConfigError`` naming every bad REPORT_* / DRIFT_* setting; ``crawl_id``: the session's."""
        r = SettingsReader(settings)
        crawl_id = crawl_id or r.text("CRAWL_ID")
        directory = Path(r.text("REPORT_DIR") or identity.spool_dir(settings) / "reports").absolute()
        ratio = r.number("DRIFT_MEDIAN_RATIO", minimum=0)
        rise = r.number("DRIFT_RATE_RISE", minimum=0)
        window = r.integer("DRIFT_WINDOW", minimum=1)
        min_pages = r.integer("DRIFT_MIN_PAGES", minimum=0)
        timeout = r.number("REPORT_HISTORY_TIMEOUT", minimum=0, hint=" (seconds)")
        pywb_venv = r.text("REPORT_PYWB_VENV")
        r.boolean("REPORT_ENABLED")
        r.check()
        try:
            thresholds = DriftThresholds(
                median_ratio=ratio, rate_rise=rise, window=window, min_pages=min_pages
            )
        except ValueError as exc:
            raise ConfigError(f"DRIFT_* thresholds: {exc}") from exc
        if not crawl_id:  # not a bad value: a crawl without an id (the libya spider always sets one)
            raise NotConfigured("CrawlReportExtension needs CRAWL_ID (the libya spider sets it)")
        return cls(
            crawl_id=crawl_id,
            directory=directory,
            pywb_venv=pywb_venv,
            thresholds=thresholds,
            history_timeout=timeout,
        )


def manifest_line(item: Any) -> dict[str, Any] | None:
    """The manifest fields the report uses, from a stored ``ArticlePage``'s record (None for anything else)."""
    record = getattr(item, "stored", None)
    if not isinstance(record, StoredRecord):
        return None
    return {
        "site": record.site or "",
        "url": record.url,
        "title": record.title,
        "published": record.published,
        "text_chars": record.text_chars,
        "rendered": bool(record.rendered),
        "relevance": record.relevance,
        "fetched_at": record.fetched_at,
        "warc": record.warc,
    }


class CrawlReportExtension:
    """Writes the stats dump, the report and the health history; see the module docstring."""

    def __init__(
        self,
        config: ReportConfig,
        stats: StatsCollector,
        storage: Any | None = None,
        store: HealthStore | None = None,
    ) -> None:
        self.config = config
        self.stats = stats
        self.storage = storage  # crawler.archive_storage (put_json, put_bytes), or None
        self.store = store  # an archive.store.Store for the health history, or None
        # What the report uses of each stored article's manifest line, added as they are stored.
        self.manifest = ManifestSummary()
        self.sites: list[str] = []
        self.report: CrawlReport | None = None
        self.written: dict[str, str] = {}  # name -> where (store key or local path)
        self._history: Future[dict[str, list[SiteHealth]]] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crawl-report")
        self.masker = SecretMasker(())  # the crawl's credentials, masked in everything written

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlReportExtension:
        session = getattr(crawler, "archive_session", None)
        # A bad value is an error, even when the report is off.
        config = ReportConfig.from_settings(
            crawler.settings, crawl_id=session.config.crawl_id if session is not None else None
        )
        if not crawler.settings.getbool("REPORT_ENABLED", True):
            raise NotConfigured("REPORT_ENABLED is off")
        assert crawler.stats is not None
        storage = session.storage if session is not None else None
        ext = cls(
            config,
            crawler.stats,
            storage,
            getattr(storage, "store", None),
        )
        ext.masker = SecretMasker.from_settings(crawler.settings)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        if session is not None:
            # The session writes the report in its closing sequence: after the WARC files, the revisit
            # index and the state, before the drain.
            session.report = ext
        else:
            crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    # --- during the crawl -------------------------------------------------------------------------------
    def spider_opened(self, spider: Spider) -> None:
        self.sites = sorted({str(getattr(s, "name", s)) for s in getattr(spider, "sources", None) or []})
        if self.store is not None and self.sites:
            self._history = self._executor.submit(self.load_history, self.sites)

    def item_scraped(self, item: Any, spider: Spider) -> None:
        line = manifest_line(item)
        if line is not None:
            self.manifest.add(line)

    def load_history(self, sites: Sequence[str]) -> dict[str, list[SiteHealth]]:
        """Previous runs per site from the store (blocking); a site whose history cannot be read has none."""
        if self.store is None:
            return {}
        log = HealthLog(self.store)
        history: dict[str, list[SiteHealth]] = {}
        for site in sites:
            try:
                history[site] = log.load(site)
            except (StoreError, OSError) as exc:
                logger.warning("Could not read the extraction health history of %s: %s", site, exc)
        return history

    # --- at the end -------------------------------------------------------------------------------------
    def snapshot(self, reason: str) -> dict[str, Any]:
        """All stats now, JSON-ready, with this crawl's finish reason, time and duration."""
        data: dict[str, Any] = dict(self.stats.get_stats())
        now = datetime.now(UTC)
        data.setdefault("finish_reason", reason)
        data.setdefault("finish_time", now)
        start = data.get("start_time")
        if isinstance(start, datetime) and "elapsed_time_seconds" not in data:
            start = start if start.tzinfo else start.replace(tzinfo=UTC)
            data["elapsed_time_seconds"] = round((now - start).total_seconds(), 3)
        data["crawl_id"] = self.config.crawl_id
        return jsonable_stats(data)

    def stored_files(self) -> list[StoredFile]:
        """The archive files this crawl handed to the store (WARC, CDXJ, WACZ, manifest, datasets, state;
        not the article texts, whose SHA-256 the manifest lists, nor this report), with their SHA-256."""
        spool = getattr(self.storage, "spool", None)
        entries = list(getattr(spool, "added", None) or [])
        return [StoredFile(e.key, e.size, e.sha256) for e in entries if is_archive_file(e.key)]

    def _previous_runs(self) -> dict[str, list[SiteHealth]]:
        if self._history is None:
            return {}
        try:
            return self._history.result(timeout=self.config.history_timeout)
        except FutureTimeoutError:
            logger.warning(
                "The extraction health history was not loaded within %ss; no drift check this run",
                self.config.history_timeout,
            )
            return {}

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        """Write everything that goes through the spool now; append the health lines in a thread.

        Everything before the ``await`` runs when the signal is sent, before the storage drain starts.
        """
        self.close(reason)
        if self.store is None or self.report is None:
            self._executor.shutdown(wait=False)
            return
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet.threads import deferToThread

        runs = [h for h in self.report.health if h.pages > 0]
        await maybe_deferred_to_future(deferToThread(self._append_health, runs))

    def finish(self, reason: str) -> CrawlReport:
        """The session's report step (blocking, in its closing thread): the report, then the health lines."""
        report = self.close(reason)
        if self.store is not None:
            self._append_health([h for h in report.health if h.pages > 0])
        else:
            self._executor.shutdown(wait=False)
        return report

    def close(self, reason: str) -> CrawlReport:
        """Snapshot the stats, build the report, write the report objects and log the summary."""
        stats = self.snapshot(reason)
        report = build_report(
            self.config.crawl_id,
            stats,
            self.manifest,
            sites=self.sites,
            history=self._previous_runs(),
            thresholds=self.config.thresholds,
            store_uri=str(getattr(self.store, "uri", "") or ""),
            pywb_venv=self.config.pywb_venv,
            files=self.stored_files(),
        )
        self.report = report
        self._write("stats.json", _json_bytes(stats), "application/json")
        self._write("report.json", _json_bytes(report.to_dict()), "application/json")
        self._write("report.md", report.to_markdown().encode("utf-8"), "text/markdown; charset=utf-8")
        self._write("report.html", report.to_html().encode("utf-8"), "text/html; charset=utf-8")
        for line in report.summary_lines():
            if line.startswith("layout drift"):
                logger.warning("%s", line)
            else:
                logger.info("%s", line)
        local = self.config.directory / _safe_dir(self.config.crawl_id) / "report.html"
        where = (
            report.store_location(report_key(self.config.crawl_id, "report.html")) if self.storage else None
        )
        logger.info("Crawl report: %s%s", local, f" (store: {where})" if where else "")
        return report

    def _append_health(self, runs: list[SiteHealth]) -> None:
        if self.store is None:
            return
        log = HealthLog(self.store)
        for run in runs:
            try:
                log.append(run)
            except (StoreError, OSError) as exc:
                logger.warning("Could not append the extraction health of %s: %s", run.site, exc)
        self._executor.shutdown(wait=False)

    def _write(self, name: str, data: bytes, content_type: str) -> None:
        key = report_key(self.config.crawl_id, name)
        data = self.masker.mask_bytes(data)
        if self.storage is not None:
            try:
                self.storage.put_bytes(key, data, content_type)
                self.written[name] = key
            except (OSError, RuntimeError, ValueError) as exc:
                logger.error("Could not hand %s to the archive storage: %s", key, exc)
        path = self.config.directory / _safe_dir(self.config.crawl_id) / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, data)
            self.written.setdefault(name, str(path))
        except OSError as exc:
            logger.error("Could not write %s: %s", path, exc)


def _safe_dir(crawl_id: str) -> str:
    return report_key(crawl_id, "x").split("/")[1]


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str).encode("utf-8")
