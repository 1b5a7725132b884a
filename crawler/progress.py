"""Crawl progress for operators: one log line every PROGRESS_INTERVAL seconds, and a progress bar on a terminal.

The line (logger ``crawler.progress``, INFO)::

    Progress: 412 pages (96/min), 180 articles (41/min), 23 rendered, WARC 12.4 MB, upload backlog 3 (8.1 MB), 2 failed, 0 errors

pages are responses received, articles are articles stored, rates are over the last interval; rendered pages
``render/pages``; WARC bytes ``warc/bytes``; the upload backlog is the spool's pending objects and their bytes (read live
from ``crawler.archive_storage`` when there is one, else ``storage/pending``; each line also sets
``storage/backlog`` and ``storage/backlog_bytes``); failed are the ``crawl/failed/*`` fetches and errors the
ERROR log lines.

The bar (stderr, redrawn in place every second) shows requests done against requests scheduled so far: a
crawl discovers its work as it goes, so the bar can move back when new links are found.

Settings: PROGRESS_INTERVAL (seconds, default 30; 0 switches the log line off), PROGRESS_BAR (auto | on | off;
auto: only when stderr is a terminal). Both off: the extension is not loaded.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.config import SettingsReader
from reporting import stats_keys as keys
from reporting.formatting import format_bytes

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider
    from scrapy.statscollectors import StatsCollector
    from twisted.internet.task import LoopingCall

logger = logging.getLogger(__name__)

BAR_INTERVAL = 1.0
BAR_WIDTH = 30


@dataclass(frozen=True)
class ProgressConfig:
    """Progress settings, parsed and checked once."""

    interval: float
    bar: bool

    @classmethod
    def from_settings(cls, settings: BaseSettings, stream: TextIO | None = None) -> ProgressConfig:
        """Raises ``ConfigError`` naming every bad PROGRESS_* setting."""
        r = SettingsReader(settings)
        interval = r.number("PROGRESS_INTERVAL", minimum=0, hint=" (seconds; 0: off)")
        mode = r.choice("PROGRESS_BAR", ("auto", "on", "off"))
        r.check()
        out = stream if stream is not None else sys.stderr
        bar = mode == "on" or (mode == "auto" and _isatty(out))
        return cls(interval=interval, bar=bar)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def _sum_prefix(stats: dict[str, Any], prefix: str) -> int:
    return int(sum(v for k, v in stats.items() if k.startswith(prefix) and isinstance(v, (int, float))))


@dataclass(frozen=True)
class Snapshot:
    """The counters one progress line is made of."""

    pages: int
    articles: int
    rendered: int
    warc_bytes: int
    backlog: int
    failed: int
    errors: int
    scheduled: int
    dropped: int = 0  # articles dropped as not relevant (logged at DEBUG, so counted here)
    backlog_bytes: int | None = None  # None: not known (no spool to ask)

    @classmethod
    def of(
        cls, stats: dict[str, Any], backlog: int | None = None, backlog_bytes: int | None = None
    ) -> Snapshot:
        def number(key: str) -> int:
            value = stats.get(key, 0)
            return int(value) if isinstance(value, (int, float)) else 0

        return cls(
            pages=number(keys.PAGES),
            articles=number(keys.ARTICLES),
            rendered=number(keys.RENDERED),
            warc_bytes=number(keys.WARC_BYTES),
            backlog=number(keys.UPLOAD_BACKLOG) if backlog is None else backlog,
            failed=_sum_prefix(stats, keys.FAILED_PREFIX),
            errors=number(keys.ERRORS),
            scheduled=number(keys.SCHEDULED),
            dropped=number(keys.NOT_RELEVANT),
            backlog_bytes=backlog_bytes,
        )


def progress_line(now: Snapshot, before: Snapshot | None, seconds: float) -> str:
    """The log line for ``now``; rates per minute against ``before`` over ``seconds``."""
    minutes = seconds / 60 if seconds > 0 else 0

    def per_min(current: int, previous: int) -> str:
        return f"{(current - previous) / minutes:.0f}/min" if minutes else "-/min"

    prev = before or Snapshot(0, 0, 0, 0, 0, 0, 0, 0)
    return (
        f"Progress: {now.pages} pages ({per_min(now.pages, prev.pages)}), "
        f"{now.articles} articles ({per_min(now.articles, prev.articles)}), {now.dropped} not relevant, "
        f"{now.rendered} rendered, "
        f"WARC {format_bytes(now.warc_bytes)}, upload backlog {_backlog(now)}, {now.failed} failed, "
        f"{now.errors} errors"
    )


def _backlog(now: Snapshot) -> str:
    return (
        str(now.backlog)
        if now.backlog_bytes is None
        else f"{now.backlog} ({format_bytes(now.backlog_bytes)})"
    )


def progress_bar(now: Snapshot, width: int = BAR_WIDTH) -> str:
    """``[#######.......]  41% 120/290 requests | 80 articles | WARC 3.1 MB`` (no newline)."""
    done = now.pages + now.failed
    total = max(now.scheduled, done, 1)
    filled = int(width * done / total)
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {done / total:4.0%} {done}/{total} requests | "
        f"{now.articles} articles | {now.rendered} rendered | WARC {format_bytes(now.warc_bytes)} | "
        f"backlog {_backlog(now)} | {now.failed} failed"
    )


class ProgressExtension:
    """Logs progress lines and draws the bar; see the module docstring."""

    def __init__(
        self,
        config: ProgressConfig,
        stats: StatsCollector,
        crawler: Crawler | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.config = config
        self.stats = stats
        self.crawler = crawler
        self.stream = stream if stream is not None else sys.stderr
        self.lines: list[str] = []
        self._last: Snapshot | None = None
        self._log_task: LoopingCall | None = None
        self._bar_task: LoopingCall | None = None
        self._bar_drawn = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressExtension:
        config = ProgressConfig.from_settings(crawler.settings)
        if not config.interval and not config.bar:
            raise NotConfigured("PROGRESS_INTERVAL is 0 and there is no progress bar")
        assert crawler.stats is not None
        ext = cls(config, crawler.stats, crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def backlog(self) -> tuple[int, int] | None:
        """Objects and bytes waiting in the upload spool right now (None without the storage extension)."""
        storage = getattr(self.crawler, "archive_storage", None)
        spool = getattr(storage, "spool", None)
        if spool is None:
            return None
        try:
            pending = spool.pending()
            return int(pending.count), int(pending.bytes)
        except (AttributeError, RuntimeError, OSError):
            return None

    def snapshot(self) -> Snapshot:
        backlog = self.backlog()
        if backlog is None:
            return Snapshot.of(self.stats.get_stats())
        return Snapshot.of(self.stats.get_stats(), *backlog)

    def spider_opened(self, spider: Spider) -> None:
        from twisted.internet import task

        self._last = self.snapshot()
        if self.config.interval:
            self._log_task = task.LoopingCall(self.log_progress)
            self._log_task.start(self.config.interval, now=False)
        if self.config.bar:
            self._bar_task = task.LoopingCall(self.draw_bar)
            self._bar_task.start(BAR_INTERVAL, now=True)

    def log_progress(self) -> str:
        """Log (and return) one progress line."""
        now = self.snapshot()
        if now.backlog_bytes is not None:
            self.stats.set_value(keys.BACKLOG, now.backlog)
            self.stats.set_value(keys.BACKLOG_BYTES, now.backlog_bytes)
        line = progress_line(now, self._last, self.config.interval)
        self._last = now
        self.lines.append(line)
        self._clear_bar()
        logger.info("%s", line)
        return line

    def draw_bar(self) -> None:
        try:
            self.stream.write("\r" + progress_bar(self.snapshot()) + "\x1b[K")
            self.stream.flush()
            self._bar_drawn = True
        except (OSError, ValueError):  # the terminal went away: stop drawing, keep crawling
            self._stop(self._bar_task)
            self._bar_task = None

    def _clear_bar(self) -> None:
        if self._bar_drawn:
            try:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self._bar_drawn = False

    @staticmethod
    def _stop(loop: LoopingCall | None) -> None:
        if loop is not None and loop.running:
            loop.stop()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        self._stop(self._log_task)
        self._stop(self._bar_task)
        if self._bar_drawn:
            self.draw_bar()
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self._bar_drawn = False
