"""Archive storage for a crawl: one store, one spool and its uploader thread (built by ``ArchiveSession``).

Reads ARCHIVE_URI, ARCHIVE_SPOOL_DIR, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
AWS_ENDPOINT_URL, AWS_REGION_NAME, AWS_USE_SSL, AWS_VERIFY, S3_ADDRESSING_STYLE, S3_MULTIPART_THRESHOLD,
S3_UPLOAD_RETRIES, ARCHIVE_UPLOAD_CONCURRENCY (uploads at once: the spool's uploader threads, and the S3
client's connection pool is sized for them) and ARCHIVE_DRAIN_TIMEOUT (seconds to wait for uploads at spider
close; default 300).

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
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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
from crawler.config import ConfigError, SettingsReader

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider
    from scrapy.statscollectors import StatsCollector
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

S3_MIN_PART = 5 * 1024 * 1024
MAX_UPLOAD_CONCURRENCY = 32
_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass(frozen=True)
class ArchiveStorageConfig:
    """Storage settings, parsed and validated once."""

    store: StoreConfig
    spool_dir: str
    retries: int
    drain_timeout: float
    concurrency: int = 1

    @classmethod
    def from_settings(cls, settings: BaseSettings, *, archive_uri: str | None = None) -> ArchiveStorageConfig:
        """Build from Scrapy settings; ``archive_uri`` overrides ARCHIVE_URI. Raises ``ConfigError`` naming
        every bad setting (the store's own URI rules included; credentials are never echoed)."""
        from archive.store import StoreConfigError

        r = SettingsReader(settings)
        uri = (archive_uri or "").strip() or r.text("ARCHIVE_URI")
        scheme = urlsplit(uri).scheme.lower()
        if not uri:
            r.fail("ARCHIVE_URI is empty: give a directory, file:///abs/dir or s3://bucket/prefix")
        elif scheme not in ("", "file", "s3") and not re.match(r"^[A-Za-z]:[\\/]", uri):
            r.fail(
                f"ARCHIVE_URI {uri!r}: unknown scheme {scheme!r}; use a path, file:///abs/dir or s3://bucket"
            )
        credentials = {name: r.secret(name) for name in _CREDENTIALS}
        endpoint = r.text("AWS_ENDPOINT_URL")
        if endpoint and (urlsplit(endpoint).scheme not in ("http", "https") or not urlsplit(endpoint).netloc):
            r.fail(f"AWS_ENDPOINT_URL {endpoint!r} must be an http(s) URL such as http://127.0.0.1:8333")
        region = r.text("AWS_REGION_NAME")
        use_ssl = r.boolean("AWS_USE_SSL") if settings.get("AWS_USE_SSL") is not None else None
        verify: Any = settings.get("AWS_VERIFY")
        if verify is not None and not isinstance(verify, bool):
            text = str(verify)
            if text.lower() in ("true", "false", "0", "1"):
                verify = r.boolean("AWS_VERIFY")
            elif not Path(text).is_file():
                r.fail(
                    f"AWS_VERIFY must be True, False or the path of a CA bundle file; {text!r} is none of them"
                )
        style = r.choice("S3_ADDRESSING_STYLE", ("auto", "path", "virtual"))
        threshold = r.integer("S3_MULTIPART_THRESHOLD", minimum=S3_MIN_PART, hint=" (S3's smallest part)")
        retries = r.integer("S3_UPLOAD_RETRIES", minimum=0)
        drain_timeout = r.number("ARCHIVE_DRAIN_TIMEOUT", minimum=0, hint=" (seconds)")
        concurrency = r.integer(
            "ARCHIVE_UPLOAD_CONCURRENCY",
            minimum=1,
            maximum=MAX_UPLOAD_CONCURRENCY,
            hint=" (uploads at once; 4 is usual)",
        )
        r.text("ARCHIVE_SPOOL_DIR")
        spool_dir = os.path.abspath(identity.spool_dir(settings))
        r.check()
        options = {
            "endpoint_url": endpoint or None,
            "region": region or None,
            "access_key": credentials["AWS_ACCESS_KEY_ID"],
            "secret_key": credentials["AWS_SECRET_ACCESS_KEY"],
            "session_token": credentials["AWS_SESSION_TOKEN"],
            "use_ssl": use_ssl,
            "verify": verify,
            "addressing_style": style,
            "multipart_threshold": threshold,
            "retries": retries,
            # The uploaders, plus the crawl's own lookups (the revisit index, the near-duplicate index).
            "max_connections": concurrency + 2,
        }
        try:
            store = StoreConfig.from_uri(uri, options)
        except StoreConfigError as exc:
            raise ConfigError(f"ARCHIVE_URI / ARCHIVE_SPOOL_DIR / S3_*: {exc}") from None
        if store.scheme == "file" and os.path.commonpath([store.root, spool_dir]) in (store.root, spool_dir):
            raise ConfigError(
                f"ARCHIVE_SPOOL_DIR ({spool_dir}) and the archive directory ({store.root}) must not contain "
                "each other: point them at separate directories"
            )
        return cls(
            store=store,
            spool_dir=spool_dir,
            retries=retries,
            drain_timeout=drain_timeout,
            concurrency=concurrency,
        )


class ArchiveStorageExtension:
    """Owns the store and the spool for one crawl; see the module docstring."""

    def __init__(
        self, config: ArchiveStorageConfig, store: Store, stats: StatsCollector | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.stats = stats
        self.spool = Spool(
            config.spool_dir,
            store,
            retries=config.retries,
            stats=self._count,
            concurrency=config.concurrency,
        )

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
