"""Scrapy glue for WARC archiving: the extension that owns the writer, and the middleware that feeds it.

``WarcExtension`` owns one ``archive.warc.WarcRotatingWriter`` per crawl. The ``ArchiveSession``
(``crawler.session``) builds it, publishes it as ``crawler.warc_archive`` (so the middleware, pipelines and
the browser renderer all write into the same files) and closes it first in its closing sequence; without a
session (WARC files alone) ``WarcExtension.from_crawler`` builds it and closes it at ``spider_closed``.
The writer finishes a file at WARC_MAX_SIZE bytes or WARC_MAX_AGE seconds (a timer thread rotates an idle
file too), so the data leaves while the crawl runs. Each WARC file finished (a rotation, or the last one at
close) gets a CDXJ index beside it, and then the WARC file and its CDXJ are handed to the ``on_file_ready``
hooks (the session's spool hand-over). Then its own WACZ package (``<warc name>.wacz``; pages: what the
pipelines registered with ``add_page`` for captures in that file) is built and handed over, as soon as the
file's pages are all in (``watch_engine``), the last ones at close. A revisit in one package may point at
a payload in an earlier file's package (or an earlier crawl's): the collection (``archive.collection``)
lists the packages together, and pywb resolves revisits through its merged index. The pages not packaged
yet are journaled (``pages.jsonl`` in WARC_DIR), so a crawl resumed after a kill packages the finished files
the killed run left with their pages. Indexing, packaging and the hooks run in one worker thread, off the
reactor, in that order; a hook must therefore be thread-safe, and one that raises is logged and does not
stop others.

``WarcCaptureMiddleware`` (DOWNLOADER_MIDDLEWARES, order 950: closest to the downloader, so it sees bodies
before HttpCompressionMiddleware (590) decodes them and every 3xx hop before RedirectMiddleware (600)
follows it) turns each plain-HTTP (request, response) into a ``Capture`` and puts the ``CaptureRef`` as a
dict in ``request.meta["warc"]`` (so callbacks see ``response.meta["warc"]`` for the final response).
Responses from the browser (``request.meta["playwright"]``) and from the HTTP cache are skipped: the
renderer writes browser traffic itself through ``crawler.warc_archive``.

Scrapy hands over header names in its own normalised case (``Content-Type``) and the body de-chunked; the
stored headers therefore carry Scrapy's names, and ``Transfer-Encoding: chunked`` is dropped by the writer.

Settings: WARC_ENABLED, WARC_PREFIX, WARC_MAX_SIZE, WARC_MAX_AGE, WACZ_ENABLED, CRAWL_ID (empty: $SCRAPY_JOB, else a UTC
timestamp), OPERATOR_CONTACT, ROBOTSTXT_OBEY, USER_AGENT, CRAWL_SOURCES, ARCHIVE_SPOOL_DIR, and
WARC_DIR (default ``<ARCHIVE_SPOOL_DIR or ./archive-spool>/warc/<crawl id>``), WARC_DIGEST_INDEX (a JSONL
digest index path shared between crawls; default ``<WARC_DIR>/digests.jsonl``, this crawl only),
CRAWL_REDIS_URL (when set, the digest index is ``archive.redis_digests.RedisDigestIndex`` there, shared by
all workers and crawls) and CRAWL_WORKER_ID (goes into WARC file names as ``...-<worker>~<host>.warc.gz``).
Stats: ``warc/records``, ``warc/bytes``, ``warc/files``, ``warc/revisits``, ``wacz/packages``,
``wacz/pages_late`` (pages that came after their file was packaged: left out of every package).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http
import json
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from twisted.internet import threads

from archive.capture import Capture, CaptureRef
from archive.cdxj import cdxj_path, write_cdxj
from archive.digests import DigestIndex, JsonlDigestIndex
from archive.wacz import Page, WaczError, build_wacz, replayable_urls
from archive.warc import OPEN_SUFFIX, WarcRotatingWriter
from crawler import identity
from crawler.config import SettingsReader, project_default

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider
    from scrapy.statscollectors import StatsCollector
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

_MB = 1_000_000
PAGES_JOURNAL = "pages.jsonl"  # in WARC_DIR: the pages not packaged yet, for a resumed crawl
WATCH_INTERVAL = 1.0  # seconds between looks at which finished files have all their pages
_WARC_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.]{1,40}$")


@dataclass(frozen=True)
class WarcConfig:
    """The WARC settings, parsed and checked once at start-up."""

    enabled: bool
    prefix: str
    max_size: int
    wacz_enabled: bool
    crawl_id: str
    directory: Path
    digest_index: Path
    warcinfo: dict[str, str]
    redis_url: str = ""
    worker_id: str | None = None
    max_age: float = 0.0

    @classmethod
    def from_settings(cls, settings: BaseSettings, *, crawl_id: str | None = None) -> WarcConfig:
        """Raises ``ConfigError`` naming every bad WARC setting; ``crawl_id``: the session's."""
        r = SettingsReader(settings)
        crawl_id = crawl_id or r.text("CRAWL_ID") or identity.crawl_id(settings)
        directory = Path(r.text("WARC_DIR") or identity.spool_dir(settings) / "warc" / crawl_id)
        enabled = r.boolean("WARC_ENABLED")
        max_size = r.integer("WARC_MAX_SIZE", minimum=1)
        if enabled and 1 <= max_size <= _MB:
            r.fail(f"WARC_MAX_SIZE must be more than 1 MB (1000000 bytes), got {max_size}; 100 MB is usual")
        max_age = r.number("WARC_MAX_AGE", minimum=0, hint=" (seconds; 0: no rotation by age)")
        if enabled and 0 < max_age < 1:
            r.fail(
                f"WARC_MAX_AGE must be 0 (off) or at least 1 second, got {max_age}; 300 (5 minutes) is usual"
            )
        prefix = r.text("WARC_PREFIX") or str(project_default("WARC_PREFIX"))
        if not _WARC_PREFIX_RE.match(prefix):
            r.fail(
                f"WARC_PREFIX {prefix!r} must be letters, digits, '_' or '.' (no '-' or '/': IIPC file names)"
            )
        wacz_enabled = r.boolean("WACZ_ENABLED")
        digest_index = Path(r.text("WARC_DIGEST_INDEX") or directory / "digests.jsonl")
        redis_url = r.text("CRAWL_REDIS_URL")
        r.text("CRAWL_WORKER_ID")
        worker = identity.worker_id(settings)
        warcinfo = {
            "operator": r.text("OPERATOR_CONTACT"),
            "robots": "obey" if r.boolean("ROBOTSTXT_OBEY") else "ignore",
            "http-header-user-agent": r.text("USER_AGENT"),
            "sources": r.text("CRAWL_SOURCES") or "sources/libya.yaml (packaged default)",
            "description": f"Arabic news coverage of Libya, crawl {crawl_id}",
        }
        r.check()
        return cls(
            enabled=enabled,
            prefix=prefix,
            max_size=max_size,
            wacz_enabled=wacz_enabled,
            crawl_id=crawl_id,
            directory=directory,
            digest_index=digest_index,
            warcinfo=warcinfo,
            redis_url=redis_url,
            worker_id=f"{worker}~" if worker else None,
            max_age=max_age,
        )


class WarcExtension:
    """Owns the crawl's WARC writer; reachable as ``crawler.warc_archive``."""

    def __init__(self, config: WarcConfig, stats: StatsCollector | None = None) -> None:
        self.config = config
        self.stats = stats
        self.on_file_ready: list[Callable[[Path], None]] = []
        self.pages: list[Page] = []
        self.ready_files: list[Path] = []
        self.wacz_path: Path | None = None  # the last package built
        self.wacz_paths: list[Path] = []  # every package built, in order
        # package -> the local WARC and CDXJ files it holds (the session removes them once it is handed over)
        self.package_members: dict[Path, list[Path]] = {}
        # Set by crawler.signing.WaczSigningExtension: signs the WACZ before it is handed over.
        self.wacz_signer: Callable[[Path], None] | None = None
        self._pages_lock = threading.Lock()
        self._page_files: list[str | None] = []  # the WARC file name of each page's capture (None: unknown)
        self._packaged_files: set[str] = set()
        self._late_pages = 0
        # Finished WARC files (indexed, handed over) not packaged yet; the requests each one waits for (ids
        # of the requests in flight when it was finished), and the files whose pages are all in.
        self._unpackaged: list[Path] = []
        self._waiting_on: dict[str, set[int]] = {}
        self._complete: set[str] = set()
        self._watching = False
        # One worker: CDXJ indexing of rotated files, packaging and the hooks run in order, off the reactor.
        self._post = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warc-post")
        # One writer thread for the reactor's records (``*_async``): digests and gzip run there, and the
        # reactor never waits for the writer's lock while a pipeline thread holds it.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warc-write")
        self._pending: list[Future[None]] = []
        self.digest_index: DigestIndex
        if config.redis_url:
            # A distributed crawl: every worker (and every later crawl) shares one index in Redis.
            from archive.redis_digests import RedisDigestIndex

            self.digest_index = RedisDigestIndex(config.redis_url)
        else:
            self.digest_index = JsonlDigestIndex(config.digest_index)
        self.writer = WarcRotatingWriter(
            config.directory,
            config.prefix,
            config.crawl_id,
            max_size=config.max_size,
            max_age=config.max_age,
            warcinfo=config.warcinfo,
            digest_index=self.digest_index,
            worker_id=config.worker_id,
            on_close=self._warc_finished,
        )
        self._pages_journal = config.directory / PAGES_JOURNAL
        self._journal_fh: IO[str] | None = None
        # Finished files a killed run left unpackaged: taken over by ``adopt_leftovers`` once the hooks are on.
        self.leftovers = self._recover() if config.wacz_enabled else []
        # Set by the session: whether the store or spool has a package already (a leftover file whose
        # package was handed over just before the kill is not packaged twice).
        self.package_exists: Callable[[str], bool] | None = None
        self._adopted: set[str] = set()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if config.max_age > 0:
            # Rotation by age must happen even when no record comes (a crawl waiting on slow sites).
            self._ticker = threading.Thread(target=self._tick, name="warc-rotate", daemon=True)
            self._ticker.start()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcExtension:
        """Without an ``ArchiveSession`` (WARC files alone, no store): build it and close it at spider close."""
        session = getattr(crawler, "archive_session", None)
        if session is not None:
            if session.warc is None:
                raise NotConfigured("WARC_ENABLED is off")
            return session.warc
        config = WarcConfig.from_settings(crawler.settings)  # a bad value stops the crawl, even when off
        if not config.enabled:
            raise NotConfigured("WARC_ENABLED is off")
        ext = cls(config, crawler.stats)
        ext.watch_engine(crawler)
        ext.adopt_leftovers()
        crawler.warc_archive = ext  # type: ignore[attr-defined]
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        logger.info("Writing WARC files for crawl %s to %s", config.crawl_id, config.directory)
        return ext

    # --- writing (any thread) -------------------------------------------------------------------------
    def write_capture(self, capture: Capture) -> CaptureRef:
        ref = self.writer.write_capture(capture)
        self._sync_stats()
        return ref

    async def write_capture_async(self, capture: Capture) -> CaptureRef:
        """``write_capture`` in the writer thread, awaited from the reactor's event loop."""
        return await asyncio.wrap_future(self._io.submit(self.write_capture, capture))

    def write_metadata(
        self, refers_to: CaptureRef, content: bytes, content_type: str = "application/json"
    ) -> CaptureRef:
        ref = self.writer.write_metadata(refers_to, content, content_type)
        self._sync_stats()
        return ref

    def write_resource(
        self,
        url: str,
        content: bytes,
        content_type: str,
        *,
        concurrent_to: str | None = None,
        record_type: str = "resource",
        fetched_at: datetime | None = None,
    ) -> CaptureRef:
        ref = self.writer.write_resource(
            url,
            content,
            content_type,
            concurrent_to=concurrent_to,
            record_type=record_type,
            fetched_at=fetched_at,
        )
        self._sync_stats()
        return ref

    def add_page(
        self, url: str, ts: str | datetime, title: str | None = None, *, warc_filename: str | None = None
    ) -> None:
        """Make ``url`` captured at ``ts`` (its ``warc_date``) an entry point of the crawl's WACZ.

        ``warc_filename``: the WARC file holding that capture (``CaptureRef.filename``), so the page goes into
        that file's package; without it the page goes into the first package whose records match it.
        """
        page = Page.create(url, ts, title)
        with self._pages_lock:
            if warc_filename is not None and warc_filename in self._packaged_files:
                # Its file was packaged already: the package's pages were fixed then (see the docstring).
                self._late_pages += 1
                logger.warning("WACZ page %s came after its WARC file %s was packaged", url, warc_filename)
                return
            self.pages.append(page)
            self._page_files.append(warc_filename)
            if self.config.wacz_enabled:
                if self._journal_fh is None:
                    self.config.directory.mkdir(parents=True, exist_ok=True)
                    self._journal_fh = self._pages_journal.open("a", encoding="utf-8")
                entry = {**page.to_json(), "file": warc_filename}
                self._journal_fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
                self._journal_fh.flush()  # a killed process keeps what it wrote; the OS has it

    def _sync_stats(self) -> None:
        if self.stats is None:
            return
        self.stats.set_value("warc/records", self.writer.records)
        self.stats.set_value("warc/bytes", self.writer.bytes_written)
        self.stats.set_value("warc/files", self.writer.files)
        self.stats.set_value("warc/revisits", self.writer.revisits)

    # --- resuming ---------------------------------------------------------------------------------------
    def _recover(self) -> list[Path]:
        """Finished WARC files a killed run of this crawl left unpackaged, and their pages from the journal.

        A package's WARC and CDXJ files are removed once it is handed over, so a finished ``*.warc.gz``
        still here was never packaged; a package or index left half-built is rebuilt from it.
        """
        directory = self.config.directory
        if not directory.is_dir():
            return []
        for stray in [
            *directory.glob("*.wacz"),
            *directory.glob("*.wacz.tmp"),
            *directory.glob("*.cdxj.tmp"),
        ]:
            stray.unlink(missing_ok=True)
        finished = sorted(directory.glob("*.warc.gz"))
        waiting = {p.name for p in finished} | {
            p.name.removesuffix(OPEN_SUFFIX) for p in directory.glob(f"*.warc.gz{OPEN_SUFFIX}")
        }
        if self._pages_journal.exists():
            for line in self._pages_journal.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                    name = entry.get("file")
                    if name is not None and name not in waiting:
                        continue  # its package was handed over by the earlier run
                    self.pages.append(Page(entry["url"], entry.get("ts", ""), entry.get("title", "")))
                    self._page_files.append(name)
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue
        if finished:
            logger.info(
                "Resuming: %d finished WARC file(s) in %s are packaged again", len(finished), directory
            )
        return finished

    # --- finishing --------------------------------------------------------------------------------------
    def adopt_leftovers(self) -> None:
        """Index, hand over and package the finished files a killed run of this crawl left (once)."""
        leftovers, self.leftovers = self.leftovers, []
        for path in leftovers:
            self._adopted.add(path.name)
            self.adopt_finished_file(path)

    def adopt_finished_file(self, path: Path) -> None:
        """Take over a complete WARC file this writer did not write (one repaired after a crash): it is
        indexed, handed over like the others and packed into a WACZ."""
        self.writer.finished_files.append(path)
        self._warc_finished(path)

    def _warc_finished(self, path: Path) -> None:
        self._pending.append(self._post.submit(self._index_and_hand_over, path))

    def _index_and_hand_over(self, warc: Path) -> None:
        cdxj = write_cdxj(warc)
        self._ready(warc)
        self._ready(cdxj)
        if self.config.wacz_enabled:
            with self._pages_lock:
                self._unpackaged.append(warc)
            self._package_due()

    # --- when a file's pages are all in -----------------------------------------------------------------
    def watch_engine(self, crawler: Crawler) -> None:
        """Package each file once its pages are in: once every request that was captured and not through its
        item pipelines yet when the file was finished has left the engine (a page comes from such a
        response: ``response.meta["warc"]``, never from a later one). Without it (no engine: the extension used
        on its own), a file is packaged once the next one is finished, and the last ones at close."""
        from twisted.internet import task

        loop = task.LoopingCall(self._watch_pages, crawler)

        def start() -> None:
            self._watching = True  # from now on a file waits for its requests (not for the next file)
            loop.start(WATCH_INTERVAL, now=False)

        def stop(*_: object, **__: object) -> None:
            if loop.running:
                loop.stop()

        crawler.signals.connect(start, signal=signals.engine_started, weak=False)
        crawler.signals.connect(stop, signal=signals.spider_closed, weak=False)

    def _watch_pages(self, crawler: Crawler) -> None:
        """Reactor thread: note which files' pages are all in; hand those to the post worker."""
        engine = crawler.engine
        if engine is None:
            return
        # A request still downloading has no capture yet (its page's capture goes into a later file) unless
        # it has been captured already (``meta["warc"]``, set as soon as its record is written).
        busy = {id(request) for request in engine.downloader.active if "warc" in request.meta}
        slot = engine.scraper.slot
        if slot is not None:
            busy |= {id(request) for request in slot.active}
        became = False
        with self._pages_lock:
            for warc in self._unpackaged:
                waiting_on = self._waiting_on.get(warc.name)
                if waiting_on is None:
                    # Taken after the file was finished: every response with a capture in it is in here or done.
                    self._waiting_on[warc.name] = busy
                elif warc.name not in self._complete and not (waiting_on & busy):
                    self._complete.add(warc.name)
                    became = True
        if became and not self._stop.is_set():
            with contextlib.suppress(RuntimeError):  # the worker was shut down: close() packages the rest
                self._pending.append(self._post.submit(self._package_due))

    def _tick(self) -> None:
        interval = min(1.0, self.config.max_age / 4)
        while not self._stop.wait(interval):
            try:
                self.writer.rotate_if_due()
            except RuntimeError:  # closed meanwhile
                return
            except Exception:
                logger.exception("Rotating the WARC file by age failed")

    def _package_due(self, final: bool = False) -> None:
        """Package every finished file whose pages are in (post worker): one package per WARC file.

        A file's articles reach the pipelines a little after its captures: see ``watch_engine``. At the end
        of the crawl (``final``) every pipeline is done, and every file left is packaged.
        """
        while True:
            with self._pages_lock:
                if final:
                    due = list(self._unpackaged)
                elif self._watching:
                    due = [w for w in self._unpackaged if w.name in self._complete]
                else:
                    due = self._unpackaged[:-1]
                for warc in due:
                    self._unpackaged.remove(warc)
                    self._waiting_on.pop(warc.name, None)
            if not due:
                return
            for warc in due:
                self._package(warc)

    def _package(self, warc: Path) -> None:
        stem = warc.name.removesuffix(".warc.gz")
        if warc.name in self._adopted and self.package_exists is not None and self.package_exists(stem):
            # The killed run handed this file's package over and died before removing the file.
            logger.info("%s was packaged by the earlier run already", warc.name)
            with self._pages_lock:
                self._packaged_files.add(warc.name)
            self.package_members[warc] = [warc, cdxj_path(warc)]
            for member in self.package_members[warc]:
                member.unlink(missing_ok=True)
            return
        with self._pages_lock:
            self._packaged_files.add(warc.name)
            mine = [p for p, f in zip(self.pages, self._page_files, strict=True) if f == warc.name]
            unfiled = [p for p, f in zip(self.pages, self._page_files, strict=True) if f is None]
        if unfiled:
            captured = replayable_urls([warc])
            mine += [p for p in unfiled if p.url in captured]
        wacz = self.config.directory / f"{stem}.wacz"
        try:
            build_wacz(
                [warc],
                wacz,
                mine,
                title=f"Libya news crawl {self.config.crawl_id} ({stem})",
                description=self.config.warcinfo.get("description"),
                detect=False,  # a package without articles has no pages: its captures are requisites
            )
        except WaczError:
            logger.exception("Could not build the WACZ for %s (crawl %s)", warc.name, self.config.crawl_id)
            return
        with self._pages_lock:
            taken = set(map(id, mine))
            kept = [(p, f) for p, f in zip(self.pages, self._page_files, strict=True) if id(p) not in taken]
            self.pages = [p for p, _ in kept]
            self._page_files = [f for _, f in kept]
        if self.wacz_signer is not None:
            self.wacz_signer(wacz)
        self.wacz_path = wacz
        self.wacz_paths.append(wacz)
        self.package_members[wacz] = [warc, cdxj_path(warc)]
        if self.stats is not None:
            self.stats.set_value("wacz/packages", len(self.wacz_paths))
            self.stats.set_value("wacz/pages_late", self._late_pages)
        self._ready(wacz)

    def _ready(self, path: Path) -> None:
        self.ready_files.append(path)
        for hook in self.on_file_ready:
            try:
                hook(path)
            except Exception:
                # A hook is someone else's code (an uploader); one failing must not keep the file from the rest.
                logger.exception("on_file_ready hook %r failed for %s", hook, path)

    def spider_closed(self, spider: Spider, reason: str) -> Deferred[None]:
        return threads.deferToThread(self.close)

    def close(self) -> None:
        """Finish the WARC files, their CDXJ indexes and the last packages; call the hooks. Blocking."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        try:
            self._io.shutdown(wait=True)  # records already handed to the writer thread go in first
            self.writer.close()
            self._sync_stats()
        finally:
            if isinstance(self.digest_index, JsonlDigestIndex):
                self.digest_index.close()
            if self.config.wacz_enabled:
                self._pending.append(self._post.submit(self._package_due, True))
            self._post.shutdown(wait=True)
        for future in self._pending:
            future.result()  # re-raise an indexing, packaging or hook failure here, where Scrapy logs it
        with self._pages_lock:
            if self._journal_fh is not None:
                self._journal_fh.close()
                self._journal_fh = None
            if self.pages:
                logger.warning("%d WACZ page(s) matched no capture of this crawl; left out", len(self.pages))
        if self.config.wacz_enabled and not self._unpackaged:
            self._pages_journal.unlink(missing_ok=True)


def _headers(headers: Any) -> list[tuple[str, str]]:
    # Scrapy keeps header values as bytes; latin-1 maps each byte to one char, so the writer restores them.
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        for value in values
    ]


def capture_from_scrapy(request: Request, response: Response, fetched_at: datetime | None = None) -> Capture:
    """A ``Capture`` of one plain-HTTP exchange, as seen closest to the downloader."""
    try:
        reason = http.HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    ip = getattr(response, "ip_address", None)
    return Capture(
        url=response.url,
        method=request.method,
        request_headers=_headers(request.headers),
        status=response.status,
        reason=reason,
        response_headers=_headers(response.headers),
        body=response.body,
        fetched_at=fetched_at or datetime.now(UTC),
        request_body=request.body,
        protocol=getattr(response, "protocol", None) or "HTTP/1.1",
        ip_address=str(ip) if ip is not None else None,
        source="http",
    )


class WarcCaptureMiddleware:
    """Writes every plain-HTTP response (each redirect hop too) to the crawl's WARC files."""

    def __init__(self, archive: WarcExtension) -> None:
        self.archive = archive

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        archive = getattr(crawler, "warc_archive", None)
        if archive is None:
            raise NotConfigured(
                "No WARC archive: WARC_ENABLED is off, or crawler.warc.WarcExtension is missing from EXTENSIONS"
            )
        return cls(archive)

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if request.meta.get("playwright") or "cached" in response.flags:
            return response
        if not response.url.startswith(("http://", "https://")):
            return response
        latency = request.meta.get("download_latency")
        now = datetime.now(UTC)
        # WARC-Date is when the capture began; Scrapy measured how long the download took.
        fetched_at = datetime.fromtimestamp(now.timestamp() - latency, UTC) if latency else now
        capture = capture_from_scrapy(request, response, fetched_at)
        earlier = request.meta.get("incremental_refers_to")
        if response.status == 304 and earlier:
            capture = dataclasses.replace(
                capture,
                extra={
                    "refers_to_uri": str(earlier.get("target_uri") or ""),
                    "refers_to_date": str(earlier.get("warc_date") or ""),
                    "refers_to_record_id": str(earlier.get("record_id") or ""),
                    "refers_to_payload_digest": str(earlier.get("payload_digest") or ""),
                },
            )
        ref = await self.archive.write_capture_async(capture)
        request.meta["warc"] = ref.to_dict()
        return response
