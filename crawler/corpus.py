"""Scrapy glue for the research corpus: entity tags and near-duplicate clusters in each stored record, and
the Parquet dataset written in parts as the crawl goes (``corpus/`` does the work, without Scrapy).

- ``CorpusExtension`` (EXTENSIONS, after storage) owns the crawl's ``corpus.annotate.Annotator`` (the topic's
  entity tagger and the near-duplicate index, loaded from the store's ``state/neardup/`` segments and, in a
  distributed crawl, shared in Redis at ``libya:neardup:*``) and its ``corpus.dataset.DatasetWriter``.
  In the session's closing sequence it writes the last parts and the index's new segment.
- ``StorePipeline`` has ``CorpusExtension.annotated`` put ``entities`` and ``cluster`` into each record, in
  the store's thread, before anything of the article is written (the index query rides on the store's own
  hand-off to a thread: no pipeline stage and thread hop of its own, which cost the reactor thread more
  than the query), and hands each stored record to ``CorpusExtension.add_row`` right before its manifest line
  (a resumed crawl skips what its manifest has, so those articles must have their row already); a part
  goes to storage every DATASET_PART_ROWS rows or DATASET_PART_SECONDS seconds, encoded in a thread of
  its own (the store's threads only queue rows; pyarrow is imported when the first part is written).

Work files live in the spool (``<ARCHIVE_SPOOL_DIR>/corpus/<crawl part>/``), so a crawl killed and resumed
with the same CRAWL_ID writes each row once (``corpus.dataset``); the near-duplicate index's SQLite state
is ``<ARCHIVE_SPOOL_DIR>/corpus/neardup-<store hash>.sqlite``, kept from crawl to crawl.

The near-duplicate index runs in a process of its own (``crawler.corpus_index``: in the crawler's process an
assignment's SQLite statements took their CPU from the process whose reactor paces the crawl), except in a
distributed crawl (each assignment holds the workers' Redis lock) or with NEARDUP_PROCESS off.

Reads CORPUS_ENABLED (on), DATASET_PART_ROWS (1000), DATASET_PART_SECONDS (300), NEARDUP_JACCARD (0.5),
NEARDUP_CONTAINMENT (0.7), NEARDUP_PROCESS (on), RELEVANCE_TOPIC and CRAWL_REDIS_URL; the crawl id, worker and spool come from the
``ArchiveSession``, which writes everything through its storage and runs the corpus's closing step.
Stats: ``corpus/annotated``, ``corpus/copies`` (a row that joined an earlier cluster), ``corpus/merges``,
``corpus/index_unavailable`` (the store was down at start), ``corpus/index_process_lost`` (the index's
process died; the index went on in the crawler's process), ``dataset/rows``, ``dataset/duplicate_rows``, ``dataset/bad_rows`` (logged), ``dataset/parts``,
``dataset/part_errors`` (a part not handed over during the crawl, logged; retried).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from archive.keys import article_id, safe_segment
from archive.record import StoredRecord, text_sha256
from archive.store import StoreError
from corpus.annotate import Annotator, version_key
from corpus.dataset import DatasetWriter, row_from_record
from corpus.entities import EntityTagger, entities_path
from corpus.neardup import EventLog, NearDupConfig, NearDupIndex, RedisEventLog, StoreEventLog
from corpus.worker import features_signature
from crawler.config import SettingsReader
from crawler.corpus_index import IndexProcess
from crawler.items import ArticlePage
from crawler.pipelines.relevance import topic_path
from crawler.session import ArchiveSession
from crawler.urls import canonicalize_url
from relevance.topic import TopicError

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

REDIS_NAMESPACE = "libya"  # shared across crawls, like the revisit digests (libya:digests)
COMMIT_EVERY = 64  # at most this many near-duplicate assignments a SQLite transaction
COMMIT_SECONDS = 1.0  # and an open one is committed this long after the last assignment


@dataclass(frozen=True)
class CorpusConfig:
    """Corpus settings, parsed and checked once (the topic's entities file loaded here too)."""

    enabled: bool
    part_rows: int
    part_seconds: float
    neardup: NearDupConfig
    topic: Path
    tagger: EntityTagger | None
    #: the index in a process of its own (``crawler.corpus_index``), unless the crawl is distributed
    process: bool = True

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> CorpusConfig:
        """Raise ``ConfigError`` naming every unusable CORPUS_*, DATASET_* or NEARDUP_* setting."""
        r = SettingsReader(settings)
        enabled = r.boolean("CORPUS_ENABLED")
        part_rows = r.integer(
            "DATASET_PART_ROWS", minimum=1, hint=" (rows a partition collects before it becomes a part)"
        )
        part_seconds = r.number("DATASET_PART_SECONDS", positive=True, hint=" (seconds)")
        process = r.boolean("NEARDUP_PROCESS")
        thresholds = {}
        for name in ("NEARDUP_JACCARD", "NEARDUP_CONTAINMENT"):
            value = r.number(name, positive=True)
            if value > 1:
                r.fail(f"{name} must be between 0 and 1, got {value}")
            thresholds[name] = value
        topic = topic_path(settings)
        tagger = None
        if enabled:
            try:
                tagger = load_tagger(topic)
            except TopicError as exc:
                r.fail(f"RELEVANCE_TOPIC entities: {exc}")
        r.check()
        return cls(
            enabled=enabled,
            part_rows=part_rows,
            part_seconds=part_seconds,
            neardup=NearDupConfig(
                jaccard=thresholds["NEARDUP_JACCARD"], containment=thresholds["NEARDUP_CONTAINMENT"]
            ),
            topic=topic,
            tagger=tagger,
            process=process,
        )


_TAGGERS: dict[tuple[str, int, int], EntityTagger] = {}


def load_tagger(topic: Path) -> EntityTagger | None:
    """The topic's entity tagger, or None (with a log line) when the topic has no entities file.

    Loaded once per process and files' versions (the settings check and the extension both ask).
    """
    entities = entities_path(topic)
    if not entities.exists():
        logger.info("topic %s has no %s: records get no entity tags", topic, entities.name)
        return None
    key = (str(topic.resolve()), topic.stat().st_mtime_ns, entities.stat().st_mtime_ns)
    if key not in _TAGGERS:
        _TAGGERS[key] = EntityTagger.load(topic)
    return _TAGGERS[key]


class CorpusExtension:
    """Owns the annotator and the dataset writer of one crawl; see the module docstring."""

    def __init__(
        self, annotator: Annotator, writer: DatasetWriter, stats: StatsCollector | None = None
    ) -> None:
        self.annotator = annotator
        self.writer = writer
        self.stats = stats
        # Parts are encoded and handed over in a thread of their own: the store's threads only queue rows.
        self._parts = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataset-parts")
        # Ends the index's open transaction COMMIT_SECONDS after an assignment (commit_soon).
        self._committing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="corpus-commit")
        self._flushing: Future[None] | None = None
        self._commit_due = False
        self._closing = threading.Event()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CorpusExtension:
        settings = crawler.settings
        config = CorpusConfig.from_settings(settings)
        if not config.enabled:
            raise NotConfigured("CORPUS_ENABLED is off")
        session = ArchiveSession.of(crawler)
        storage = session.storage
        part = session.config.part_name
        work = Path(storage.config.spool_dir) / "corpus" / safe_segment(part or "crawl")
        redis_url = settings.get("CRAWL_REDIS_URL") or ""
        store_id = hashlib.sha1(str(getattr(storage.store, "uri", "")).encode()).hexdigest()[:12]
        state = Path(storage.config.spool_dir) / "corpus" / f"neardup-{store_id}.sqlite"

        def index(reader: Any) -> NearDupIndex:
            log: EventLog = StoreEventLog(reader, storage, work / "neardup", part or "crawl")
            if redis_url:
                import redis

                log = RedisEventLog(redis.Redis.from_url(redis_url), REDIS_NAMESPACE, log)  # type: ignore[arg-type]
            # The index itself: SQLite in the spool, kept from crawl to crawl (each store segment read once),
            # one file per store (a spool reused for another archive does not mix the two).
            # One SQLite transaction for up to COMMIT_EVERY assignments (ended COMMIT_SECONDS after the last
            # one: CorpusExtension.commit_soon), but each its own when the log's lock is shared with others.
            return NearDupIndex(config.neardup, log, state, commit_every=1 if redis_url else COMMIT_EVERY)

        try:
            neardup = index(storage.store)
        except StoreError as exc:
            # The store is down at start: the crawl goes on (everything waits in the spool), and so do the
            # clusters, from this crawl's articles only: a copy of an earlier crawl's story founds a new one.
            logger.warning("near-duplicate index not loaded from the store (%s): clusters start empty", exc)
            if crawler.stats is not None:
                crawler.stats.set_value("corpus/index_unavailable", 1)
            neardup = index(None)
        served: NearDupIndex | IndexProcess = neardup
        if config.process and not redis_url:
            # The state is up to date (the store's segments and a killed run's journals applied, those
            # journals handed over): the child serves it from here (crawler.corpus_index).
            neardup.close()
            stats = crawler.stats

            def lost() -> None:
                if stats is not None:
                    stats.inc_value("corpus/index_process_lost")

            served = IndexProcess(
                config.neardup,
                state,
                work / "neardup",
                part or "crawl",
                storage,
                commit_every=COMMIT_EVERY,
                on_lost=lost,
            )
        annotator = Annotator(served, config.tagger)
        writer = DatasetWriter(
            storage,
            work / "dataset",
            part or "crawl",
            crawl_id=session.config.crawl_id,
            part_rows=config.part_rows,
            part_seconds=config.part_seconds,
        )
        ext = cls(annotator, writer, crawler.stats)
        crawler.corpus = ext  # type: ignore[attr-defined]
        # The last part and the index segment go to the spool before the storage drain uploads it.
        session.add_closing_step("corpus: last dataset parts, near-duplicate index segment", ext.close)
        logger.info("corpus: %d article versions in the near-duplicate index", len(annotator.index))
        return ext

    def _inc(self, name: str, value: int = 1) -> None:
        if self.stats is not None and value:
            self.stats.inc_value(name, value)

    def commit_soon(self) -> None:
        """(Any thread, after an assignment) the index's open transaction ends within COMMIT_SECONDS, in
        the commit thread: a crawl gone quiet leaves nothing uncommitted for long. One wait at a time
        (two threads racing here only commit twice)."""
        if not self._commit_due:
            self._commit_due = True
            with contextlib.suppress(RuntimeError):  # shut down: close() commits
                self._committing.submit(self._commit_later)

    def _commit_later(self) -> None:
        self._closing.wait(COMMIT_SECONDS)
        self._commit_due = False  # an assignment from here on asks for the next commit
        self.annotator.index.commit()

    def annotated(self, item: ArticlePage, record: StoredRecord) -> StoredRecord:
        """``record`` with the article's entity tags and cluster (``annotate``; a store thread calls it)."""
        self.annotate(item)
        self.commit_soon()
        return dataclasses.replace(record, entities=item.record["entities"], cluster=item.record["cluster"])

    def annotate(self, item: ArticlePage) -> None:
        """Entity tags and cluster into ``item.record`` (CPU-bound and thread-safe: runs in a thread)."""
        record = item.record
        canonical = item.canonical_url or canonicalize_url(record.get("canonical_url") or item.url)
        digest = item.text_sha256 or text_sha256(record.get("text") or "")
        key = version_key(article_id(canonical), digest)
        # Usually computed next to the extraction, in the worker process (corpus.worker).
        features = record.pop("corpus", None)
        signature = None
        if isinstance(features, dict):
            signature = features_signature(features)
            if features.get("entities") is not None:
                record["entities"] = features["entities"]
        note = self.annotator.annotate(
            {**record, "fetched_at": item.fetched_at}, record.get("text") or "", key=key, signature=signature
        )
        record["entities"] = note.entities
        record["cluster"] = note.cluster
        self._inc("corpus/annotated")
        self._inc("corpus/copies", int(note.duplicate_of is not None))
        for merge in note.merges:
            self.writer.add_merge(merge.cluster, merge.into, merge.at)
        self._inc("corpus/merges", len(note.merges))

    def add_row(self, record: dict[str, Any], text: str) -> None:
        """The stored record's dataset row; hands parts over when due (file writes: runs in a thread)."""
        try:
            added = self.writer.add(row_from_record(record, text))
        except ValueError as exc:
            logger.error("%s", exc)
            self._inc("dataset/bad_rows")
            return
        self._inc("dataset/rows" if added else "dataset/duplicate_rows")
        if self.writer.due() and (self._flushing is None or self._flushing.done()):
            self._flushing = self._parts.submit(self._flush)

    def _flush(self) -> None:
        try:
            parts = self.writer.flush_due()
            self.annotator.index.flush()
        except Exception:
            # The rows stay queued (and journaled): the next flush, or the closing one, tries again.
            logger.exception("dataset parts not handed over; they are retried")
            self._inc("dataset/part_errors")
            return
        self._inc("dataset/parts", len(parts))

    def close(self) -> None:
        self._closing.set()  # a commit waiting runs now
        self._committing.shutdown(wait=True)
        self._parts.shutdown(wait=True)
        parts = self.writer.close()
        self.annotator.index.close()
        self._inc("dataset/parts", len(parts))
        logger.info(
            "corpus: %d dataset rows in %d parts", self.writer.rows_written, len(self.writer.parts_written)
        )
