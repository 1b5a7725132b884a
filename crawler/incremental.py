"""Incremental crawls: fetch only what changed since the last crawl, store a changed text as a new version.

The per-site state (``archive.state``) lives in the archive store, so a crawl on any machine continues where
the last one stopped. Components (all switched off by ``INCREMENTAL_ENABLED = False``):

* ``IncrementalExtension`` (EXTENSIONS, 105: after WARC, before storage, so its save at spider close runs
  while the storage spool is still open): loads every site's state when the spider opens, publishes itself
  as ``crawler.incremental_state``, records each stored text (``item_scraped``) and saves the state when the
  spider closes (directly to the store; if the store is unreachable, the run's delta goes to the spool).
* ``IncrementalDownloaderMiddleware`` (DOWNLOADER_MIDDLEWARES, 580: below the WARC middleware at 950, so the
  304 is archived before it is turned away): adds ``If-None-Match`` / ``If-Modified-Since`` to article
  requests for known URLs and puts the earlier capture in ``request.meta["incremental_refers_to"]``; a 304
  answers ``NotModified`` (an ``IgnoreRequest``: nothing reaches the spider callback) and counts
  ``incremental/unchanged``; a 200 records the new validators and payload digest.
* ``IncrementalSpiderMiddleware`` (SPIDER_MIDDLEWARES, 600): drops an article request, without fetching it,
  when the sitemap or feed that listed it gives a modification date older than our last confirmed fetch
  (``incremental/skipped_by_date``). It reads ``meta["hint_modified"]`` (a sitemap ``lastmod``); the
  publication date (``meta["hint_published"]``) only with INCREMENTAL_SKIP_BY_PUBLISHED, because an edit
  does not change it.
* ``IncrementalPipeline`` (ITEM_PIPELINES, 250: after relevance, before the store): drops an article whose
  clean text has the same SHA-256 as its latest stored version (``incremental/text_unchanged``).
* ``versioned_keys()``: the store pipeline's helper for the keys of a new text version and the link back to
  the previous one.

Settings: INCREMENTAL_ENABLED (True), INCREMENTAL_STATE_PREFIX ("state/sites"), INCREMENTAL_SKIP_BY_DATE
(True), INCREMENTAL_SKIP_BY_PUBLISHED (False), INCREMENTAL_REFETCH (False: when True no conditional
headers and no skipping, every article is fetched in full, the state is still updated), CRAWL_ID.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from scrapy import signals
from scrapy.exceptions import DropItem, IgnoreRequest, NotConfigured
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware
from twisted.internet import threads

from archive.state import CrawlState, SaveResult, StateStore, utc_now, version_key
from archive.storage import StoreError
from archive.warc import payload_digest
from crawler.config import SettingsReader
from crawler.items import ArticlePage
from crawler.urls import canonicalize_url

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response
    from scrapy.settings import BaseSettings
    from scrapy.spiders import Spider
    from scrapy.statscollectors import StatsCollector
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

ARTICLE_KINDS = frozenset({"article"})


class NotModified(IgnoreRequest):
    """The server answered 304 to our conditional request: the article is unchanged since the last crawl."""


@dataclass(frozen=True)
class IncrementalConfig:
    enabled: bool
    prefix: str
    skip_by_date: bool
    skip_by_published: bool
    refetch: bool
    crawl_id: str

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> IncrementalConfig:
        """Raises ``ConfigError`` naming every bad INCREMENTAL_* setting."""
        r = SettingsReader(settings)
        raw_prefix = r.text("INCREMENTAL_STATE_PREFIX")
        prefix = raw_prefix.strip("/")
        if not prefix or ".." in prefix.split("/"):
            r.fail(
                f"INCREMENTAL_STATE_PREFIX must be a relative key prefix such as state/sites, not {raw_prefix!r}"
            )
        config = cls(
            enabled=r.boolean("INCREMENTAL_ENABLED"),
            prefix=prefix,
            skip_by_date=r.boolean("INCREMENTAL_SKIP_BY_DATE"),
            skip_by_published=r.boolean("INCREMENTAL_SKIP_BY_PUBLISHED"),
            refetch=r.boolean("INCREMENTAL_REFETCH"),
            crawl_id=r.text("CRAWL_ID"),
        )
        r.check()
        return config


def _stored_key(value: Any) -> str:
    # The storage extension hands back a SpoolEntry (with .key); a plain store hands back the key.
    return str(getattr(value, "key", value))


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_text_sha256(record: dict[str, Any]) -> str:
    """SHA-256 of an article record's text, computed once and kept in the record (``text_sha256``): the
    incremental pipeline, the store pipeline and the state extension all need it for the same article."""
    sha = record.get("text_sha256")
    if not isinstance(sha, str):
        sha = record["text_sha256"] = text_sha256(record.get("text") or "")
    return sha


class IncrementalExtension:
    """Owns the per-site ``CrawlState`` objects of one crawl; reachable as ``crawler.incremental_state``."""

    def __init__(self, crawler: Crawler, config: IncrementalConfig, stats: StatsCollector) -> None:
        self.crawler = crawler
        self.config = config
        self.stats = stats
        self.states: dict[str, CrawlState] = {}
        self._state_store: StateStore | None = None
        self.saved: list[SaveResult] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalExtension:
        config = IncrementalConfig.from_settings(crawler.settings)
        if not config.enabled:
            raise NotConfigured("INCREMENTAL_ENABLED is off")
        assert crawler.stats is not None
        ext = cls(crawler, config, crawler.stats)
        crawler.incremental_state = ext  # type: ignore[attr-defined]
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        # Connected here, before the storage extension (110) connects its own, so this runs first.
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    @property
    def crawl_id(self) -> str:
        return self.config.crawl_id or str(self.crawler.settings.get("CRAWL_ID") or "")

    def _store(self) -> StateStore:
        if self._state_store is None:
            storage = getattr(self.crawler, "archive_storage", None)
            if storage is None:
                raise NotConfigured(
                    "Incremental crawling keeps its state in the archive store: add "
                    "crawler.storage.ArchiveStorageExtension to EXTENSIONS (or set INCREMENTAL_ENABLED=False)"
                )
            self._state_store = StateStore(storage.store, self.config.prefix)
        return self._state_store

    def site(self, name: str) -> CrawlState:
        """The state of site ``name`` (loaded from the store on first use; normally at spider open)."""
        state = self.states.get(name)
        if state is None:
            try:
                state = self._store().load(name, self.crawl_id)
            except StoreError as exc:
                # The store is down: crawl this site as if for the first time (nothing is lost; this run's
                # delta is saved, or spooled, at the end and merged with the earlier state later).
                logger.warning("Incremental state of %s unavailable (%s): fetching it in full", name, exc)
                self.stats.inc_value("incremental/state_unavailable")
                state = CrawlState(name, self.crawl_id)
            self.states[name] = state
            self.stats.inc_value("incremental/known_articles", len(state))
        return state

    def spider_opened(self, spider: Spider) -> Deferred[None]:
        names = [str(s.name) for s in getattr(spider, "sources", [])]
        return threads.deferToThread(self._load_all, names)

    def _load_all(self, names: list[str]) -> None:
        for name in names:
            self.site(name)

    def item_scraped(self, item: Any, response: Response | None = None, spider: Spider | None = None) -> None:
        if not isinstance(item, ArticlePage) or not item.stored.get("text") or not item.record:
            return
        state = self.site(item.site)
        canonical = canonicalize_url(item.record.get("canonical_url") or item.url)
        sha = record_text_sha256(item.record)
        version, previous = state.next_version(canonical, sha)
        state.record_text(
            item.url,
            canonical_url=canonical,
            text_sha256=sha,
            version=version,
            text_key=_stored_key(item.stored["text"]),
            json_key=_stored_key(item.stored.get("json", "")),
        )
        if previous is not None:
            self.stats.inc_value("incremental/new_versions")

    def spider_closed(self, spider: Spider, reason: str = "") -> None:
        # Blocking on purpose: it must finish before the storage extension closes its spool.
        self.save()

    def save(self) -> list[SaveResult]:
        """Save every site's state; a site whose delta cannot reach the store puts it in the spool."""
        results: list[SaveResult] = []
        for name, state in sorted(self.states.items()):
            try:
                result = self._store().save(state)
            except StoreError as exc:
                self.stats.inc_value("incremental/save_failed")
                self._spool_delta(state, exc)
                continue
            results.append(result)
            self.stats.inc_value("incremental/saved_sites")
            logger.info(
                "Incremental state for %s saved: %d article(s), delta %s",
                name,
                result.articles,
                result.delta_key,
            )
        self.saved.extend(results)
        return results

    def _spool_delta(self, state: CrawlState, exc: StoreError) -> None:
        storage = getattr(self.crawler, "archive_storage", None)
        key = self._store().delta_key(state.site, state.crawl_id)
        changes = state.changes()
        if storage is None or not changes:
            logger.error("Could not save the incremental state of %s: %s", state.site, exc)
            return
        delta = {"format": 1, "site": state.site, "crawl_id": state.crawl_id, "saved_at": utc_now()}
        delta["articles"] = changes
        storage.put_bytes(key, json.dumps(delta, ensure_ascii=False).encode("utf-8"), "application/json")
        logger.warning(
            "Could not save the incremental state of %s (%s); its delta %s waits in the spool",
            state.site,
            exc,
            key,
        )


def _incremental(crawler: Crawler) -> IncrementalExtension:
    ext = getattr(crawler, "incremental_state", None)
    if ext is None:
        raise NotConfigured(
            "crawler.incremental.IncrementalExtension is not in EXTENSIONS (or INCREMENTAL_ENABLED is off)"
        )
    assert isinstance(ext, IncrementalExtension)
    return ext


def _is_article(request: Request) -> bool:
    return request.meta.get("kind") in ARTICLE_KINDS and bool(request.meta.get("site"))


class IncrementalDownloaderMiddleware:
    """Conditional requests for known articles; 304 ends the request, 200 updates the state."""

    def __init__(self, incremental: IncrementalExtension, stats: StatsCollector, refetch: bool) -> None:
        self.incremental = incremental
        self.stats = stats
        self.refetch = refetch

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalDownloaderMiddleware:
        ext = _incremental(crawler)
        assert crawler.stats is not None
        return cls(ext, crawler.stats, ext.config.refetch)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if not _is_article(request) or request.meta.get("playwright") or self.refetch:
            return
        state = self.incremental.site(request.meta["site"])
        known = state.get(request.url)
        if known is None:
            return
        headers = state.conditional_headers(request.url)
        added = False
        for name, value in headers.items():
            if name not in request.headers:
                request.headers[name] = value
                added = True
        if added:
            request.meta["incremental_conditional"] = True
            if known.capture:
                # For the WARC writer: the capture a server-not-modified revisit record refers to.
                request.meta["incremental_refers_to"] = dict(known.capture)
            self.stats.inc_value("incremental/conditional_requests")

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        if not _is_article(request) or request.meta.get("playwright"):
            return response
        state = self.incremental.site(request.meta["site"])
        if response.status == 304 and request.meta.get("incremental_conditional"):
            state.record_not_modified(request.url)
            self.stats.inc_value("incremental/unchanged")
            raise NotModified(f"not modified since the last crawl: {request.url}")
        if response.status != 200:
            return response
        known = state.get(request.url)
        warc = request.meta.get("warc") or {}
        state.record_fetch(
            request.url,
            status=response.status,
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            payload_digest=warc.get("payload_digest") or payload_digest(response.body),
            capture=warc or None,
        )
        self.stats.inc_value("incremental/refetched" if known is not None else "incremental/new")
        return response


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


class IncrementalSpiderMiddleware(BaseSpiderMiddleware):
    """Drops article requests whose listing date is older than the article's last confirmed fetch."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.incremental = _incremental(crawler)
        config = self.incremental.config
        if not config.skip_by_date or config.refetch:
            raise NotConfigured("INCREMENTAL_SKIP_BY_DATE is off (or INCREMENTAL_REFETCH is on)")
        self.use_published = config.skip_by_published
        assert crawler.stats is not None
        self.stats = crawler.stats

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        if not _is_article(request):
            return request
        listed = request.meta.get("hint_modified") or request.meta.get("lastmod")
        if not listed and self.use_published:
            listed = request.meta.get("hint_published")
        if not listed:
            return request
        state = self.incremental.site(request.meta["site"])
        if not state.listed_unchanged(request.url, listed):
            return request
        state.record_seen(request.url)
        self.stats.inc_value("incremental/skipped_by_date")
        logger.debug("Unchanged since the last crawl (listed %s): %s", listed, request.url)
        return None


class IncrementalPipeline:
    """Drops an article whose clean text is the same as its latest stored version."""

    def __init__(self, incremental: IncrementalExtension, stats: StatsCollector) -> None:
        self.incremental = incremental
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalPipeline:
        assert crawler.stats is not None
        return cls(_incremental(crawler), crawler.stats)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, ArticlePage) or not item.record:
            return item
        state = self.incremental.site(item.site)
        canonical = canonicalize_url(item.record.get("canonical_url") or item.url)
        known = state.by_canonical(canonical)
        if known is not None and state.text_unchanged(canonical, record_text_sha256(item.record)):
            state.record_seen(item.url)
            self.stats.inc_value("incremental/text_unchanged")
            raise DropItem(
                f"text unchanged since crawl {known.text_crawl} (version {known.version}): {item.url}"
            )
        return item


class VersionKeys(NamedTuple):
    """Where a text version goes: ``text_key`` (.txt), ``json_key`` (.json) and its ``version`` number."""

    text_key: str
    json_key: str
    version: int


def versioned_keys(
    state: CrawlState | None, canonical_url: str, text_sha256: str, text_key: str, json_key: str
) -> tuple[VersionKeys, dict[str, Any] | None]:
    """The keys for storing this text and the ``previous_version`` link (None for a first version).

    ``text_key``/``json_key`` are the usual keys (``archive.keys.text_key``); version 1 keeps them, version
    N > 1 becomes ``<id>.vN.txt`` / ``<id>.vN.json`` beside them. Without state (incremental off) every
    text is version 1. An unchanged text keeps its version and keys (the pipeline normally drops it first).
    """
    if state is None:
        return VersionKeys(text_key, json_key, 1), None
    version, previous = state.next_version(canonical_url, text_sha256)
    if version <= 1:
        return VersionKeys(text_key, json_key, 1), previous
    return (
        VersionKeys(version_key(text_key, version), version_key(json_key, version), version),
        previous,
    )


def site_state(crawler: Crawler, site: str) -> CrawlState | None:
    """The ``CrawlState`` of ``site`` when incremental crawling is on, else None (for the store pipeline)."""
    ext = getattr(crawler, "incremental_state", None)
    return ext.site(site) if isinstance(ext, IncrementalExtension) else None
