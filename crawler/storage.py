"""Archive storage for a crawl: one store, one spool and its uploader thread (built by ``ArchiveSession``).

Reads ARCHIVE_URI, ARCHIVE_SPOOL_DIR, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
AWS_ENDPOINT_URL, AWS_REGION_NAME, AWS_USE_SSL, AWS_VERIFY, S3_ADDRESSING_STYLE, S3_MULTIPART_THRESHOLD,
S3_UPLOAD_RETRIES and ARCHIVE_DRAIN_TIMEOUT (seconds to wait for uploads at spider close; default 300).

``ArchiveStorageConfig.from_settings`` parses them once; ``ArchiveStorageExtension.build`` checks the store
before the engine starts: a malformed URI, a missing bucket or refused credentials raise
``StoreConfigError``/``StoreError`` and the crawl ends before its first request. An unreachable store is
only a warning: the spool keeps everything until it comes back (or ``scrapy upload`` drains it).
Other components reach it as ``crawler.archive_storage`` (``put_text``, ``put_json``, ``put_bytes``,
``add_file``). Stats: ``storage/uploaded``, ``storage/bytes``, ``storage/upload_failed/<reason>``,
``storage/pending``. Credentials are never logged.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import signals

from archive.spool import Pending, Spool, SpoolEntry
from archive.store import (
    DEFAULT_CONTENT_TYPE,
    FileStore,
    Store,
    StoreConfig,
    StoreError,
    StoreUnavailableError,
    store_from_config,
)
from crawler import identity

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider
    from scrapy.statscollectors import StatsCollector
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

DEFAULT_DRAIN_TIMEOUT = 300.0


@dataclass(frozen=True)
class ArchiveStorageConfig:
    """Storage settings, parsed and validated once."""

    store: StoreConfig
    spool_dir: str
    retries: int
    drain_timeout: float

    @classmethod
    def from_settings(cls, settings: BaseSettings, *, archive_uri: str | None = None) -> ArchiveStorageConfig:
        """Build from Scrapy settings; ``archive_uri`` overrides ARCHIVE_URI. Raises StoreConfigError."""
        verify: Any = settings.get("AWS_VERIFY")
        options = {
            "endpoint_url": settings.get("AWS_ENDPOINT_URL") or None,
            "region": settings.get("AWS_REGION_NAME") or None,
            "access_key": settings.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": settings.get("AWS_SECRET_ACCESS_KEY") or None,
            "session_token": settings.get("AWS_SESSION_TOKEN") or None,
            "use_ssl": settings.get("AWS_USE_SSL"),
            "verify": verify,
            "addressing_style": settings.get("S3_ADDRESSING_STYLE") or "auto",
            "multipart_threshold": settings.get("S3_MULTIPART_THRESHOLD"),
            "retries": settings.get("S3_UPLOAD_RETRIES"),
        }
        store = StoreConfig.from_uri(archive_uri or settings.get("ARCHIVE_URI") or "", options)
        spool_dir = os.path.abspath(identity.spool_dir(settings))
        if store.scheme == "file" and os.path.commonpath([store.root, spool_dir]) in (store.root, spool_dir):
            from archive.store import StoreConfigError

            raise StoreConfigError(
                f"ARCHIVE_SPOOL_DIR ({spool_dir}) and the archive directory ({store.root}) must not contain "
                "each other: point them at separate directories"
            )
        return cls(
            store=store,
            spool_dir=spool_dir,
            retries=settings.getint("S3_UPLOAD_RETRIES", 5),
            drain_timeout=settings.getfloat("ARCHIVE_DRAIN_TIMEOUT", DEFAULT_DRAIN_TIMEOUT),
        )


class ArchiveStorageExtension:
    """Owns the store and the spool for one crawl; see the module docstring."""

    def __init__(
        self, config: ArchiveStorageConfig, store: Store, stats: StatsCollector | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.stats = stats
        self.spool = Spool(config.spool_dir, store, retries=config.retries, stats=self._count)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveStorageExtension:
        """Without an ``ArchiveSession`` (a crawl that wants storage alone): build and close it itself."""
        session = getattr(crawler, "archive_session", None)
        if session is not None:
            return session.storage
        ext = cls.build(ArchiveStorageConfig.from_settings(crawler.settings), crawler.stats)
        crawler.archive_storage = ext  # type: ignore[attr-defined]
        # spider_closed is connected at engine start, after every component has connected its own: our drain
        # then runs after the other components have handed over their last files.
        crawler.signals.connect(
            lambda: crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed),
            signal=signals.engine_started,
            weak=False,
        )
        return ext

    @classmethod
    def build(cls, config: ArchiveStorageConfig, stats: StatsCollector | None) -> ArchiveStorageExtension:
        """Open the store and check it before the first request; start the spool."""
        store = store_from_config(config.store)
        try:
            store.check()
        except StoreUnavailableError as exc:
            logger.warning("%s; objects will wait in spool %s", exc, config.spool_dir)
        except StoreError as exc:
            # Wrong credentials or no bucket: stop now, before the first request, not after hours of crawling.
            logger.error("archive storage is not usable: %s", exc)
            raise
        ext = cls(config, store, stats)
        logger.info("archive storage: %s (spool %s)", store.describe(), config.spool_dir)
        return ext

    def _count(self, name: str, value: int) -> None:
        if self.stats is not None:
            stat = (
                "storage/bytes" if name == "bytes" else f"storage/{name.replace('failed/', 'upload_failed/')}"
            )
            self.stats.inc_value(stat, value)

    # -- what other components call (all non-blocking apart from a local write) --

    def put_bytes(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> object:
        if isinstance(self.store, FileStore):
            # A local directory: one atomic write in place. Through the spool it would be written twice and
            # read back once, with nothing gained: there is no network to wait for.
            written = self.store.put_bytes(key, data, content_type=content_type)
            self._count("uploaded", 1)
            self._count("bytes", len(data))
            return written
        return self.spool.add_bytes(key, data, content_type)

    def put_text(self, key: str, text: str) -> object:
        return self.put_bytes(key, text.encode("utf-8"), "text/plain; charset=utf-8")

    def put_json(self, key: str, obj: Any) -> object:
        data = json.dumps(obj, ensure_ascii=False, indent=1, default=str).encode("utf-8")
        return self.put_bytes(key, data, "application/json")

    def add_file(
        self, key: str, path: str | os.PathLike[str], content_type: str = DEFAULT_CONTENT_TYPE
    ) -> SpoolEntry:
        """Hand over a closed file (it is moved into the spool)."""
        return self.spool.add_file(key, path, content_type)

    def spider_closed(self, spider: Spider) -> Deferred[Pending]:
        """Drain in a thread (the reactor keeps running); Scrapy waits for the returned Deferred."""
        from twisted.internet.threads import deferToThread

        def record(left: Pending) -> Pending:
            if self.stats is not None:
                self.stats.set_value("storage/pending", left.count)
            return left

        return deferToThread(self.close).addCallback(record)

    def close(self) -> Pending:
        """Wait (bounded) for the uploads, then stop the uploader; return what is left in the spool."""
        left = self.spool.drain(self.config.drain_timeout)
        left = self.spool.close()
        if left.count:
            logger.warning(
                "%d objects (%d bytes) could not be uploaded to %s yet; they are safe in spool %s and "
                "`scrapy upload` will drain it",
                left.count,
                left.bytes,
                self.store.describe(),
                self.config.spool_dir,
            )
        return left
