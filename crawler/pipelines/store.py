"""Store pipeline: the clean text and its metadata record, written through the archive store.

For each relevant article: ``text/<site>/<yyyy>/<mm>/<id>.txt`` (the text) and ``.json`` (the record), a
WARC ``metadata`` record that refers to the article's capture, the article as a WACZ entry page, and one
line in the crawl manifest. The record carries the WARC file, offset, length and record id of its capture.
Reads CRAWL_ID. Uses the storage extension (``crawler.archive_storage``) and, when WARC is on, the WARC
extension (``crawler.warc_archive``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.statscollectors import StatsCollector

from archive.capture import CaptureRef
from archive.keys import article_id, text_key
from archive.manifest import ManifestWriter
from crawler.config import crawl_part_name
from crawler.incremental import record_text_sha256, site_state, versioned_keys
from crawler.items import ArticlePage
from crawler.urls import canonicalize_url

logger = logging.getLogger(__name__)

RECORD_FIELDS = ("title", "author", "published", "language", "encoding", "text_source", "published_source")
# Set by crawler.corpus.CorpusAnnotatePipeline when the corpus is on.
CORPUS_FIELDS = ("entities", "cluster")


class StorePipeline:
    def __init__(self, crawler: Crawler, crawl_id: str, stats: StatsCollector) -> None:
        self.crawler = crawler
        self.crawl_id = crawl_id
        self.stats = stats
        self._stored: set[str] = set()
        self._manifest: ManifestWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        assert crawler.stats is not None
        return cls(crawler, crawler.settings.get("CRAWL_ID") or "", crawler.stats)

    def open_spider(self, spider: Spider | None = None) -> None:
        storage = self._storage()
        work_dir = Path(storage.config.spool_dir) / "manifests-open"
        self._manifest = ManifestWriter(crawl_part_name(self.crawler.settings), work_dir, storage)

    def close_spider(self, spider: Spider | None = None) -> None:
        # Before the storage extension drains (spider_closed): the manifest is handed over complete.
        if self._manifest is not None:
            self._manifest.close()
            self._manifest = None

    def _write(self, item: ArticlePage, meta: dict[str, Any], text: str) -> None:
        warc = getattr(self.crawler, "warc_archive", None)
        if warc is not None and item.warc:
            ref = CaptureRef.from_dict(item.warc)
            payload = json.dumps({**meta, "text": text}, ensure_ascii=False).encode("utf-8")
            meta["warc_metadata"] = warc.write_metadata(ref, payload, "application/json").to_dict()
            warc.add_page(ref.target_uri, ref.warc_date, item.record.get("title"))
        storage = self._storage()
        storage.put_text(meta["text_key"], text)
        storage.put_json(meta["json_key"], meta)
        corpus = getattr(self.crawler, "corpus", None)
        if corpus is not None:
            # The dataset row is journaled before the manifest line: a resumed crawl skips the articles
            # its manifest has, so each of them must already have its row.
            corpus.add_row(meta, text)
        assert self._manifest is not None
        self._manifest.write(meta)

    def _storage(self) -> Any:
        storage = getattr(self.crawler, "archive_storage", None)
        if storage is None:
            raise NotConfigured("StorePipeline needs crawler.storage.ArchiveStorageExtension in EXTENSIONS")
        return storage

    async def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, ArticlePage) or not item.record:
            return item
        record = item.record
        canonical = canonicalize_url(record.get("canonical_url") or item.url)
        if canonical in self._stored:
            self.stats.inc_value("store/duplicate")
            raise DropItem(f"already stored in this crawl: {canonical}")
        self._stored.add(canonical)
        aid = article_id(canonical)
        text: str = record.get("text") or ""
        published = record.get("published")
        text_sha256 = record_text_sha256(record)
        # A changed article becomes a new version beside the earlier ones (incremental crawls).
        keys, previous = versioned_keys(
            site_state(self.crawler, item.site),
            canonical,
            text_sha256,
            text_key(item.site, published, aid, "txt"),
            text_key(item.site, published, aid, "json"),
        )
        txt_key, json_key = keys.text_key, keys.json_key
        meta: dict[str, Any] = {
            "id": aid,
            "crawl_id": self.crawl_id,
            "url": item.url,
            "response_url": item.response_url,
            "canonical_url": canonical,
            "site": item.site,
            **{name: record.get(name) for name in RECORD_FIELDS},
            "fetched_at": item.fetched_at,
            "discovered_via": item.discovered_via,
            "rendered": item.rendered,
            "render_reason": item.render_reason,
            "relevance": item.relevance,
            "text_key": txt_key,
            "json_key": json_key,
            "text_sha256": text_sha256,
            "version": keys.version,
            "previous_version": previous,
            "text_chars": len(text),
            "warc": item.warc,
            **{name: record[name] for name in CORPUS_FIELDS if name in record},
        }
        # File writes (WARC record, spool objects with their fsyncs, manifest line) run in a thread: the
        # reactor thread stays free for fetching. The writers are thread-safe.
        await asyncio.to_thread(self._write, item, meta, text)
        item.stored = {"text": meta["text_key"], "json": meta["json_key"]}
        self.stats.inc_value("store/articles")
        self.stats.inc_value(f"store/articles_by_site/{item.site}")
        return item
