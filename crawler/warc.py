"""Scrapy glue for WARC archiving: the extension that owns the writer, and the middleware that feeds it.

``WarcExtension`` owns one ``archive.warc.WarcRotatingWriter`` per crawl. The ``ArchiveSession``
(``crawler.session``) builds it, publishes it as ``crawler.warc_archive`` (so the middleware, pipelines and
the browser renderer all write into the same files) and closes it first in its closing sequence; without a
session (WARC files alone) ``WarcExtension.from_crawler`` builds it and closes it at ``spider_closed``.
Each WARC file finished (rotation during the crawl, or the last one at close) gets a CDXJ index beside it,
and then the WARC file and its CDXJ are handed to the ``on_file_ready`` hooks (the session's spool
hand-over). At close, the crawl's WACZ (pages: what pipelines registered with ``add_page``) is built and
handed over last. Indexing, packaging and the hooks run in one worker thread, off the reactor, in
that order; a hook must therefore be thread-safe, and one that raises is logged and does not stop others.

``WarcCaptureMiddleware`` (DOWNLOADER_MIDDLEWARES, order 950: closest to the downloader, so it sees bodies
before HttpCompressionMiddleware (590) decodes them and every 3xx hop before RedirectMiddleware (600)
follows it) turns each plain-HTTP (request, response) into a ``Capture`` and puts the ``CaptureRef`` as a
dict in ``request.meta["warc"]`` (so callbacks see ``response.meta["warc"]`` for the final response).
Responses from the browser (``request.meta["playwright"]``) and from the HTTP cache are skipped: the
renderer writes browser traffic itself through ``crawler.warc_archive``.

Scrapy hands over header names in its own normalised case (``Content-Type``) and the body de-chunked; the
stored headers therefore carry Scrapy's names, and ``Transfer-Encoding: chunked`` is dropped by the writer.

Settings: WARC_ENABLED, WARC_PREFIX, WARC_MAX_SIZE, WACZ_ENABLED, CRAWL_ID (empty: $SCRAPY_JOB, else a UTC
timestamp), OPERATOR_CONTACT, ROBOTSTXT_OBEY, USER_AGENT, CRAWL_SOURCES, ARCHIVE_SPOOL_DIR, and
WARC_DIR (default ``<ARCHIVE_SPOOL_DIR or ./archive-spool>/warc/<crawl id>``), WARC_DIGEST_INDEX (a JSONL
digest index path shared between crawls; default ``<WARC_DIR>/digests.jsonl``, this crawl only),
CRAWL_REDIS_URL (when set, the digest index is ``archive.redis_digests.RedisDigestIndex`` there, shared by
all workers and crawls) and CRAWL_WORKER_ID (goes into WARC file names as ``...-<worker>~<host>.warc.gz``).
Stats: ``warc/records``, ``warc/bytes``, ``warc/files``, ``warc/revisits``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from twisted.internet import threads

from archive.capture import Capture, CaptureRef
from archive.cdxj import write_cdxj
from archive.digests import DigestIndex, JsonlDigestIndex
from archive.wacz import Page, WaczError, build_wacz
from archive.warc import WarcRotatingWriter
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

    @classmethod
    def from_settings(cls, settings: BaseSettings, *, crawl_id: str | None = None) -> WarcConfig:
        """Raises ``ConfigError`` naming every bad WARC setting; ``crawl_id``: the session's."""
        r = SettingsReader(settings)
        crawl_id = crawl_id or r.text("CRAWL_ID") or identity.crawl_id(settings)
        directory = Path(r.text("WARC_DIR") or identity.spool_dir(settings) / "warc" / crawl_id)
        enabled = r.boolean("WARC_ENABLED")
        max_size = r.integer("WARC_MAX_SIZE", minimum=1)
        if enabled and 1 <= max_size <= _MB:
            r.fail(f"WARC_MAX_SIZE must be more than 1 MB (1000000 bytes), got {max_size}; 1 GB is usual")
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
        )


class WarcExtension:
    """Owns the crawl's WARC writer; reachable as ``crawler.warc_archive``."""

    def __init__(self, config: WarcConfig, stats: StatsCollector | None = None) -> None:
        self.config = config
        self.stats = stats
        self.on_file_ready: list[Callable[[Path], None]] = []
        self.pages: list[Page] = []
        self.ready_files: list[Path] = []
        self.wacz_path: Path | None = None
        # Set by crawler.signing.WaczSigningExtension: signs the WACZ before it is handed over.
        self.wacz_signer: Callable[[Path], None] | None = None
        self._pages_lock = threading.Lock()
        # One worker: CDXJ indexing of rotated files and the hooks run in order, off the reactor thread.
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
            warcinfo=config.warcinfo,
            digest_index=self.digest_index,
            worker_id=config.worker_id,
            on_close=self._warc_finished,
        )

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

    def add_page(self, url: str, ts: str | datetime, title: str | None = None) -> None:
        """Make ``url`` captured at ``ts`` (its ``warc_date``) an entry point of the crawl's WACZ."""
        with self._pages_lock:
            self.pages.append(Page.create(url, ts, title))

    def _sync_stats(self) -> None:
        if self.stats is None:
            return
        self.stats.set_value("warc/records", self.writer.records)
        self.stats.set_value("warc/bytes", self.writer.bytes_written)
        self.stats.set_value("warc/files", self.writer.files)
        self.stats.set_value("warc/revisits", self.writer.revisits)

    # --- finishing --------------------------------------------------------------------------------------
    def adopt_finished_file(self, path: Path) -> None:
        """Take over a complete WARC file this writer did not write (one repaired after a crash): it is
        indexed, handed over like the others and packed into the crawl's WACZ."""
        self.writer.finished_files.append(path)
        self._warc_finished(path)

    def _warc_finished(self, path: Path) -> None:
        self._pending.append(self._post.submit(self._index_and_hand_over, path))

    def _index_and_hand_over(self, warc: Path) -> None:
        cdxj = write_cdxj(warc)
        self._ready(warc)
        self._ready(cdxj)

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
        """Finish the WARC files, their CDXJ indexes and the WACZ; call the hooks. Blocking."""
        try:
            self._io.shutdown(wait=True)  # records already handed to the writer thread go in first
            self.writer.close()
            self._sync_stats()
        finally:
            if isinstance(self.digest_index, JsonlDigestIndex):
                self.digest_index.close()
            self._post.shutdown(wait=True)
        for future in self._pending:
            future.result()  # re-raise an indexing or hook failure here, where Scrapy logs it
        warcs = self.writer.finished_files
        if not (self.config.wacz_enabled and warcs):
            return
        # Named like its store key (wacz/<crawl-id>.wacz); WARC files keep the IIPC names.
        wacz = self.config.directory / f"{self.config.crawl_id.replace('/', '_')}.wacz"
        with self._pages_lock:
            pages = list(self.pages)
        try:
            self.wacz_path = build_wacz(
                warcs,
                wacz,
                pages,
                title=f"Libya news crawl {self.config.crawl_id}",
                description=self.config.warcinfo.get("description"),
            )
        except WaczError:
            logger.exception("Could not build the WACZ for crawl %s", self.config.crawl_id)
            return
        if self.wacz_signer is not None:
            self.wacz_signer(self.wacz_path)
        self._ready(self.wacz_path)


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
