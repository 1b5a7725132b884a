"""Keeps the store's replay collection (archive/collection.py) up to date as each crawl closes.

``CollectionExtension`` (EXTENSIONS, after the session) watches the crawl's finished files: each CDXJ index
is copied aside (``<spool>/collection/<crawl-id>/``) when it is ready, because the session removes the local
copies once the WACZ is built; the crawl's WACZ packages (however many) are those it handed to the spool,
with the SHA-256 the spool took. In the session's closing sequence
(``add_closing_step``: after the WACZ, before the report and the uploads' drain) the crawl's CDXJ become one
new sorted part of the collection index, compacted with the older parts by merging sorted runs
(``archive.collection.add_crawl``); ``collection.json`` lists the crawl's packages at their store paths.
The index points at ``warc/<crawl-id>/...`` in the store, where the drain puts the WARC files next.

Only for a store on a local disk (``ARCHIVE_URI`` a directory): with an S3 store the collection is built on
a copy (``scrapy collection build``). Settings: COLLECTION_UPDATE (default True), COLLECTION_NAME (``libya``),
COLLECTION_ZIPNUM_LINES (a part of this many lines or more is a ZipNum compressed index; default 100000).
Stats: ``collection/records_added``, ``collection/records``, ``collection/parts``, ``collection/seconds``.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from archive.collection import DEFAULT_NAME, ZIPNUM_MIN_LINES, Package, add_crawl
from archive.store import FileStore
from crawler.config import SettingsReader
from crawler.session import ArchiveSession

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@dataclass(frozen=True)
class CollectionConfig:
    enabled: bool
    name: str
    zipnum_lines: int

    @classmethod
    def from_settings(cls, settings: Any) -> CollectionConfig:
        r = SettingsReader(settings)
        enabled = r.boolean("COLLECTION_UPDATE")
        name = r.text("COLLECTION_NAME") or DEFAULT_NAME
        if not _NAME_RE.match(name):
            r.fail(
                f"COLLECTION_NAME {name!r} must be 1-40 letters, digits, '_' or '-' (a pywb collection name)"
            )
        zipnum = r.integer("COLLECTION_ZIPNUM_LINES", minimum=1)
        r.check()
        return cls(enabled=enabled, name=name, zipnum_lines=zipnum or ZIPNUM_MIN_LINES)


class CollectionExtension:
    def __init__(
        self, config: CollectionConfig, session: ArchiveSession, root: Path, stats: StatsCollector | None
    ) -> None:
        self.config = config
        self.session = session
        self.root = root
        self.stats = stats
        assert session.warc is not None
        self.crawl_id = session.warc.config.crawl_id
        self.aside = session.storage.spool.directory / "collection" / self.crawl_id.replace("/", "_")
        self.cdxj: list[Path] = []
        self._lock = threading.Lock()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CollectionExtension:
        config = CollectionConfig.from_settings(crawler.settings)
        if not config.enabled:
            raise NotConfigured("COLLECTION_UPDATE is off")
        session = ArchiveSession.of(crawler)
        if session.warc is None:
            raise NotConfigured("WARC_ENABLED is off: no index to add")
        store = session.storage.store
        if not isinstance(store, FileStore):
            logger.info(
                "The replay collection is not updated at close: the store (%s) is not a local directory; "
                "build it on a copy with `scrapy collection build`",
                store.describe(),
            )
            raise NotConfigured("the store is not a local directory")
        ext = cls(config, session, store.root, crawler.stats)
        # First: the session's own hook moves the WACZ into the spool (and later removes the local CDXJ).
        session.warc.on_file_ready.insert(0, ext.file_ready)
        session.add_closing_step("replay collection", ext.update)
        return ext

    def file_ready(self, path: Path) -> None:
        """A finished file of the crawl (WARC writer's finishing thread): keep a copy of its CDXJ."""
        if path.suffix == ".cdxj":
            self.aside.mkdir(parents=True, exist_ok=True)
            copy = self.aside / path.name
            shutil.copyfile(path, copy)
            with self._lock:
                self.cdxj.append(copy)

    def packages(self) -> list[Package]:
        """The crawl's WACZ packages as handed to the store (key, size and SHA-256 as the spool hashed them)."""
        entries = list(getattr(self.session.storage.spool, "added", []))
        return [
            Package(e.key.removeprefix("wacz/"), e.size, e.sha256, self.crawl_id)
            for e in entries
            if e.key.startswith("wacz/") and e.key.endswith(".wacz")
        ]

    def update(self) -> None:
        """Closing step: the crawl's index into the collection (``archive.collection.add_crawl``)."""
        with self._lock:
            cdxj = sorted(self.cdxj)
        packages = self.packages()
        result = add_crawl(
            self.root,
            self.crawl_id,
            cdxj,
            packages,
            self.config.name,
            zipnum_min_lines=self.config.zipnum_lines,
        )
        if self.stats is not None:
            self.stats.set_value("collection/records_added", result.added)
            self.stats.set_value("collection/records", result.collection.records)
            self.stats.set_value("collection/parts", len(result.collection.parts))
            self.stats.set_value("collection/seconds", round(result.seconds, 3))
        shutil.rmtree(self.aside, ignore_errors=True)
