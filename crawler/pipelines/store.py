"""Store pipeline: the clean text and its ``StoredRecord``, written through the archive session.

For each relevant article: ``text/<site>/<yyyy>/<mm>/<id>.txt`` (the text) and ``.json`` (the record), a
WARC ``metadata`` record that refers to the article's capture, the article as a WACZ entry page, and one
line in the crawl manifest. The record is built here, once (``archive.record.StoredRecord``): its version
and keys come from the incremental state, which learns the new version in the same step. It carries the WARC
file, offset, length and record id of its capture. Uses the ``ArchiveSession``: storage, WARC writer,
manifest and state (reads no settings itself).
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from archive.capture import CaptureRef
from archive.keys import article_id, text_key
from archive.record import EXTRACTED_FIELDS, StoredRecord
from crawler.incremental import versioned_keys
from crawler.items import ArticlePage
from crawler.session import ArchiveSession

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

WRITE_THREADS = 16


class StorePipeline:
    def __init__(self, session: ArchiveSession, stats: StatsCollector, corpus: Any = None) -> None:
        self.session = session
        self.stats = stats
        self.corpus = corpus  # crawler.corpus.CorpusExtension, when the corpus is on
        self._stored: set[str] = set()
        # Each article is two files with two fsyncs each, a WARC record and a manifest line: mostly waiting
        # on the disk (or the spool's), with the GIL released. Enough threads that the writes of the pages
        # in flight overlap, and their own, so they do not queue behind other components' to_thread work.
        self._io = ThreadPoolExecutor(max_workers=WRITE_THREADS, thread_name_prefix="store-write")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        assert crawler.stats is not None
        return cls(ArchiveSession.of(crawler), crawler.stats, getattr(crawler, "corpus", None))

    def build_record(self, item: ArticlePage) -> StoredRecord:
        """The article's record: keys and version from the site's incremental state (version 1 without)."""
        extracted = item.record
        canonical = item.canonical_url
        aid = article_id(canonical)
        published = extracted.get("published")
        state = self.session.state.site(item.site) if self.session.state is not None else None
        # A changed article becomes a new version beside the earlier ones (incremental crawls).
        keys, previous = versioned_keys(
            state,
            canonical,
            item.text_sha256,
            text_key(item.site, published, aid, "txt"),
            text_key(item.site, published, aid, "json"),
        )
        return StoredRecord(
            id=aid,
            crawl_id=self.session.config.crawl_id,
            url=item.url,
            response_url=item.response_url,
            canonical_url=canonical,
            site=item.site,
            **{name: extracted.get(name) for name in EXTRACTED_FIELDS},
            fetched_at=item.fetched_at,
            discovered_via=item.discovered_via,
            rendered=item.rendered,
            render_reason=item.render_reason,
            relevance=item.relevance,
            text_key=keys.text_key,
            json_key=keys.json_key,
            text_sha256=item.text_sha256,
            version=keys.version,
            previous_version=previous,
            text_chars=len(extracted.get("text") or ""),
            warc=item.warc,
            entities=extracted.get("entities"),
            cluster=extracted.get("cluster"),
        )

    def _write(self, item: ArticlePage, record: StoredRecord, text: str) -> StoredRecord:
        if self.corpus is not None:
            # Entity tags and near-duplicate cluster (crawler.corpus), in this thread, before anything is written.
            record = self.corpus.annotated(item, record)
        warc = self.session.warc
        if warc is not None and item.warc:
            ref = CaptureRef.from_dict(item.warc)
            payload = json.dumps({**record.to_dict(), "text": text}, ensure_ascii=False).encode("utf-8")
            record = record.with_warc_metadata(
                warc.write_metadata(ref, payload, "application/json").to_dict()
            )
            warc.add_page(ref.target_uri, ref.warc_date, record.title, warc_filename=ref.filename)
        storage = self.session.storage
        assert record.text_key is not None and record.json_key is not None
        storage.put_text(record.text_key, text)
        storage.put_json(record.json_key, record.to_dict())
        if self.corpus is not None:
            # The dataset row is journaled before the manifest line: a resumed crawl skips the articles
            # its manifest has, so each of them must already have its row.
            self.corpus.add_row(record.to_dict(), text)
        self.session.manifest.write(record.to_dict())
        return record

    async def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, ArticlePage) or not item.record:
            return item
        canonical = item.canonical_url
        if canonical in self._stored:
            self.stats.inc_value("store/duplicate")
            raise DropItem(f"already stored in this crawl: {canonical}")
        self._stored.add(canonical)
        record = self.build_record(item)
        # File writes (WARC record, spool objects with their fsyncs, manifest line) run in a thread: the
        # reactor thread stays free for fetching. The writers are thread-safe.
        loop = asyncio.get_running_loop()
        text = item.record.get("text") or ""
        item.stored = await loop.run_in_executor(self._io, self._write, item, record, text)
        if self.session.state is not None and record.text_key:
            state = self.session.state.site(item.site)
            state.record_text(
                item.url,
                canonical_url=canonical,
                text_sha256=record.text_sha256,
                version=record.version or 1,
                text_key=record.text_key,
                json_key=record.json_key or "",
            )
            if record.previous_version is not None:
                self.stats.inc_value("incremental/new_versions")
        self.stats.inc_value("store/articles")
        self.stats.inc_value(f"store/articles_by_site/{item.site}")
        return item

    def close_spider(self, spider: Spider | None = None) -> None:
        self._io.shutdown(wait=True)
