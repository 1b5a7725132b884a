"""Incremental crawl state per site, kept in the archive store so that any machine can pick it up.

A ``CrawlState`` remembers, for every article URL a site has shown us: the validators of the last full fetch
(``etag``, ``last_modified``), its WARC payload digest (``sha1:BASE32`` of the body, as in the WARC record) and
capture, the SHA-256 of the clean text we stored, the text version count and the keys of the latest text
record, and when (which crawl, what time) the article was last seen and last confirmed (200 or 304). The
crawler uses it to send conditional requests, to skip articles whose listing date is older than our last
confirmation, and to store a changed text as a new version linked to the previous one.

Layout in the store (``prefix`` defaults to ``state/sites``)::

    state/sites/<site>.json                  snapshot: every article, plus the run deltas folded into it
    state/sites/<site>/runs/<crawl-id>.json  delta: what one crawl learned (written once, never replaced)

Concurrency: merge-on-save. A lock with a lease would need delete and compare-and-swap, which the ``Store``
protocol does not offer (and a crashed holder leaves a stale lock); instead each save first writes its own
immutable delta with ``put_bytes(overwrite=False)`` (two crawls never share a key: a clash gets ``.1``), then
folds the snapshot and every delta not yet in it into a new snapshot, written with ``overwrite=True`` (an
atomic replace on both stores). ``load`` does the same fold. Merging is a join: each group of fields carries
its own clock and the newer (or the higher version) wins, so the result does not depend on the order in which
deltas are merged. Two savers racing can only overwrite each other's *snapshot*; a delta missing from the
winning snapshot is not listed in its ``merged_runs`` and is folded in again by the next load, so no update
is lost and no reader ever sees a half-written object.

No Scrapy here: plain data and JSON; ``archive.state_store.StateStore`` keeps it in a ``Store``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from archive.dates import parse_datetime
from archive.diskmap import DiskMap
from archive.keys import SITES_STATE_PREFIX, check_key

logger = logging.getLogger(__name__)

STATE_FORMAT = 1
DEFAULT_PREFIX = SITES_STATE_PREFIX

# Field groups: each merges as a unit, by its own clock (the first field of the tuple).
_SEEN = ("last_seen_at", "last_seen")
_FETCH = ("fetched_at", "etag", "last_modified", "payload_digest", "capture", "status", "fetch_crawl")
_TEXT = ("text_at", "version", "text_sha256", "text_key", "json_key", "canonical_url", "text_crawl")
_MAX_FIELDS = ("confirmed_at",)
_GROUPS = (_SEEN, _FETCH, _TEXT)
_ALL_FIELDS = frozenset((*_SEEN, *_FETCH, *_TEXT, *_MAX_FIELDS))
_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


def utc_now() -> str:
    """The current time as the state writes it: ISO 8601 UTC with microseconds, sortable as a string."""
    return format_time(datetime.now(UTC))


def format_time(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 or RFC 822 date/datetime as an aware UTC datetime; None when absent or unreadable.

    A bare date (``2024-05-01``) means the *end* of that day in UTC: a listing that gives only a day cannot
    tell whether a change came before or after our fetch on that day, so it is read the safe way.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    if _DATE_ONLY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        return datetime.combine(day, time.max, tzinfo=UTC)
    parsed = parse_datetime(text)
    return parsed.astimezone(UTC) if parsed is not None else None


def _group_key(entry: Mapping[str, Any], group: tuple[str, ...]) -> tuple[Any, ...]:
    if group is _TEXT:
        # The higher version wins; then the later recording; then the digest, so ties are deterministic.
        return (int(entry.get("version") or 0), entry.get("text_at") or "", entry.get("text_sha256") or "")
    return (entry.get(group[0]) or "", json.dumps([entry.get(f) for f in group[1:]], sort_keys=True))


def version_key(key: str, version: int) -> str:
    """``dir/<id>.txt`` -> ``dir/<id>.v<version>.txt``: where version N > 1 of a text record goes."""
    if version <= 1:
        return key
    head, _, name = key.rpartition("/")
    stem, dot, ext = name.partition(".")
    new = f"{stem}.v{version}{dot}{ext}"
    return check_key(f"{head}/{new}" if head else new)


def merge_entries(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Join two records of one article: per field group, the newer one wins (commutative, idempotent)."""
    merged: dict[str, Any] = {}
    for group in _GROUPS:
        has_a = any(a.get(f) is not None for f in group)
        has_b = any(b.get(f) is not None for f in group)
        if not (has_a or has_b):
            continue
        winner = a if not has_b or (has_a and _group_key(a, group) >= _group_key(b, group)) else b
        for name in group:
            if winner.get(name) is not None:
                merged[name] = winner[name]
    for name in _MAX_FIELDS:
        values = [v for v in (a.get(name), b.get(name)) if v]
        if values:
            merged[name] = max(values)
    return merged


@dataclass(frozen=True)
class ArticleState:
    """A read-only view of one article's record (see the module docstring for the fields)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    payload_digest: str | None = None
    capture: dict[str, Any] | None = None
    text_sha256: str | None = None
    version: int = 0
    text_key: str | None = None
    json_key: str | None = None
    canonical_url: str | None = None
    last_seen: str | None = None
    last_seen_at: str | None = None
    confirmed_at: str | None = None
    fetched_at: str | None = None
    text_crawl: str | None = None

    @classmethod
    def from_entry(cls, url: str, entry: Mapping[str, Any]) -> ArticleState:
        return cls(
            url=url,
            etag=entry.get("etag"),
            last_modified=entry.get("last_modified"),
            payload_digest=entry.get("payload_digest"),
            capture=entry.get("capture"),
            text_sha256=entry.get("text_sha256"),
            version=int(entry.get("version") or 0),
            text_key=entry.get("text_key"),
            json_key=entry.get("json_key"),
            canonical_url=entry.get("canonical_url"),
            last_seen=entry.get("last_seen"),
            last_seen_at=entry.get("last_seen_at"),
            confirmed_at=entry.get("confirmed_at"),
            fetched_at=entry.get("fetched_at"),
            text_crawl=entry.get("text_crawl"),
        )

    def previous_version(self) -> dict[str, Any] | None:
        """What a new text version links back to; None when no text was ever stored."""
        if not self.version or not self.text_key:
            return None
        return {
            "version": self.version,
            "text_key": self.text_key,
            "json_key": self.json_key,
            "text_sha256": self.text_sha256,
            "crawl_id": self.text_crawl,
        }


class CrawlState:
    r"""One site's article records: loaded at crawl start, updated during the crawl, saved at its end.

    Thread-safe. Every update also goes into this crawl's delta (``changes()``), which is what ``save``
    persists first; the snapshot is derived from the deltas. The records, the delta and the canonical-URL
    index are ``archive.diskmap.DiskMap``\ s (SQLite scratch files), so memory does not grow with the site.
    """

    def __init__(
        self, site: str, crawl_id: str, entries: Mapping[str, Mapping[str, Any]] | DiskMap | None = None
    ) -> None:
        self.site = site
        self.crawl_id = crawl_id
        self._entries = entries if isinstance(entries, DiskMap) else DiskMap()
        self._delta = DiskMap()
        self._by_canonical = DiskMap()
        self._lock = threading.Lock()
        if not isinstance(entries, DiskMap):
            for url, entry in (entries or {}).items():
                self._entries[url] = dict(entry)
        for url, entry in self._entries.items():
            if entry.get("canonical_url"):
                self._by_canonical[entry["canonical_url"]] = url
        #: The store's run keys folded into the records at load (``StateStore.load``).
        self.loaded_runs: list[str] = []

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, url: object) -> bool:
        return url in self._entries

    def urls(self) -> list[str]:
        return list(self._entries.keys())

    def get(self, url: str) -> ArticleState | None:
        with self._lock:
            entry = self._entries.get(url)
            return ArticleState.from_entry(url, entry) if entry is not None else None

    def by_canonical(self, canonical_url: str) -> ArticleState | None:
        """The article whose stored text has this canonical URL (or whose fetch URL it is)."""
        with self._lock:
            url = self._by_canonical.get(canonical_url, canonical_url)
            entry = self._entries.get(url)
            return ArticleState.from_entry(url, entry) if entry is not None else None

    # --- decisions ----------------------------------------------------------------------------------------

    def conditional_headers(self, url: str) -> dict[str, str]:
        """``If-None-Match`` / ``If-Modified-Since`` for a known article with validators; else ``{}``."""
        known = self.get(url)
        headers: dict[str, str] = {}
        if known is None:
            return headers
        if known.etag:
            headers["If-None-Match"] = known.etag
        if known.last_modified:
            headers["If-Modified-Since"] = known.last_modified
        return headers

    def listed_unchanged(self, url: str, listed: str | None) -> bool:
        """True when ``listed`` (a lastmod or publication date) is older than our last confirmed fetch."""
        known = self.get(url)
        if known is None or not known.confirmed_at or not known.payload_digest:
            return False
        listed_at, confirmed = parse_time(listed), parse_time(known.confirmed_at)
        return listed_at is not None and confirmed is not None and listed_at < confirmed

    def text_unchanged(self, canonical_url: str, text_sha256: str) -> bool:
        known = self.by_canonical(canonical_url)
        return known is not None and known.text_sha256 == text_sha256 and known.version > 0

    def next_version(self, canonical_url: str, text_sha256: str) -> tuple[int, dict[str, Any] | None]:
        """``(version, previous)`` for storing this text: the same version when unchanged, else one more."""
        known = self.by_canonical(canonical_url)
        if known is None or not known.version:
            return 1, None
        if known.text_sha256 == text_sha256:
            return known.version, known.previous_version()
        return known.version + 1, known.previous_version()

    # --- updates --------------------------------------------------------------------------------------------

    def _update(self, url: str, fields: Mapping[str, Any]) -> None:
        unknown = set(fields) - _ALL_FIELDS
        if unknown:
            raise ValueError(f"unknown state fields {sorted(unknown)}")
        with self._lock:
            current = self._entries.get(url, {})
            merged = merge_entries(current, fields)
            self._entries[url] = merged
            self._delta[url] = merge_entries(self._delta.get(url, {}), fields)
            canonical = merged.get("canonical_url")
            if canonical and canonical != current.get("canonical_url"):
                self._by_canonical[canonical] = url

    def record_seen(self, url: str, *, when: str | None = None) -> None:
        """The article was listed (or fetched) in this crawl."""
        self._update(url, {"last_seen_at": when or utc_now(), "last_seen": self.crawl_id})

    def record_fetch(
        self,
        url: str,
        *,
        status: int,
        etag: str | None,
        last_modified: str | None,
        payload_digest: str | None,
        capture: Mapping[str, Any] | None = None,
        when: str | None = None,
    ) -> None:
        """A full response (200) for the article: its validators, digest and capture replace the old ones."""
        now = when or utc_now()
        self._update(
            url,
            {
                "last_seen_at": now,
                "last_seen": self.crawl_id,
                "fetched_at": now,
                "etag": etag,
                "last_modified": last_modified,
                "payload_digest": payload_digest,
                "capture": dict(capture) if capture else None,
                "status": status,
                "fetch_crawl": self.crawl_id,
                "confirmed_at": now,
            },
        )

    def record_not_modified(self, url: str, *, when: str | None = None) -> None:
        """A 304: what we hold is still current."""
        now = when or utc_now()
        self._update(url, {"last_seen_at": now, "last_seen": self.crawl_id, "confirmed_at": now})

    def record_text(
        self,
        url: str,
        *,
        canonical_url: str,
        text_sha256: str,
        version: int,
        text_key: str,
        json_key: str,
        when: str | None = None,
    ) -> None:
        """A text record was stored for the article (``version`` as returned by ``next_version``)."""
        self._update(
            url,
            {
                "text_at": when or utc_now(),
                "version": version,
                "text_sha256": text_sha256,
                "text_key": text_key,
                "json_key": json_key,
                "canonical_url": canonical_url,
                "text_crawl": self.crawl_id,
            },
        )

    # --- serialisation --------------------------------------------------------------------------------------

    def changes(self) -> dict[str, dict[str, Any]]:
        """What this crawl learned (the delta ``save`` writes), as a dict (``iter_changes`` streams it)."""
        return dict(self._delta.items())

    def iter_changes(self) -> Iterator[tuple[str, dict[str, Any]]]:
        return self._delta.items()

    def has_changes(self) -> bool:
        return bool(self._delta)

    def entries(self) -> dict[str, dict[str, Any]]:
        return dict(self._entries.items())

    def iter_entries(self) -> Iterator[tuple[str, dict[str, Any]]]:
        return self._entries.items()


def merge_into(target: Any, entries: Any) -> None:
    """Fold ``entries`` (a mapping, a ``DiskMap`` or an iterable of (url, entry)) into ``target``."""
    items = entries.items() if hasattr(entries, "items") else entries
    for url, entry in items:
        if not isinstance(entry, Mapping):
            continue
        clean = {k: v for k, v in entry.items() if k in _ALL_FIELDS}
        target[url] = merge_entries(target.get(url, {}), clean)
