"""The Parquet dataset: one row per stored article version, in parts that are never rewritten.

Layout in the archive store (``hive`` partitions, so DuckDB, pyarrow and Spark read ``site`` and ``month``
from the path)::

    dataset/site=<site>/month=<yyyy-mm>/<part>.parquet   rows (``month``: published month, or ``unknown``)
    dataset-clusters/<part>.parquet                      cluster merges: cluster -> merged_into
    dataset-manifests/<stamp>.json                       compactions: which parts a merged part supersedes

Columns (``COLUMNS``; ``site`` and ``month`` come from the path): record_key (the stored record's key, one
per article version), id, url, canonical_url, title, author, published, published_date, language, text,
relevance_score, places, actors, ambiguous (entity names, ``corpus.entities``), cluster (near-duplicate
cluster, fixed when the row is written; resolve it through ``dataset-clusters``), warc_file,
warc_offset, warc_length, warc_record_id, text_sha256, crawl_id, version, previous_version, fetched_at
(the capture's WARC-Date).

:class:`DatasetWriter` queues rows and writes a part per partition every ``part_rows`` rows or
``part_seconds`` seconds, through a sink with ``put_bytes(key, data, content_type)``: during a crawl the
storage extension (spool, SHA-256 verification, no silent overwrite), in ``scrapy dataset build`` a store.
Every row is first appended to a local journal, and every part handed over is logged there with the keys
it holds: a crawl killed and resumed with the same crawl id writes the rows it had not handed over (with
the same part name and bytes, so a part that did reach the store is not written twice) and skips the
articles it already wrote, so each article version has one row. The queue itself holds only where each
row's line is in the journal (two integers a row): a row holds the article's text, and a crawl storing
articles faster than its partitions fill would otherwise keep ``part_seconds`` of them in memory; a part's
rows are read back from the journal when it is encoded. This module reads no settings.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from archive.keys import check_key, safe_segment

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

DATASET_PREFIX = "dataset/"
CLUSTERS_PREFIX = "dataset-clusters/"
MANIFESTS_PREFIX = "dataset-manifests/"
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
UNKNOWN_MONTH = "unknown"
DEFAULT_PART_ROWS = 1000
DEFAULT_PART_SECONDS = 300.0
_MONTH = re.compile(r"^(\d{4})-(\d{2})")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")

#: The columns of a part and their types: ``string``, ``date32``, ``float64``, ``int32``, ``int64`` or
#: ``list<string>`` (names); ``site`` and ``month`` come from the path. pyarrow is imported only when a part
#: is encoded (:func:`schema`): a crawl with the corpus on or off does not pay for it at start.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("record_key", "string"),
    ("id", "string"),
    ("url", "string"),
    ("canonical_url", "string"),
    ("title", "string"),
    ("author", "string"),
    ("published", "string"),
    ("published_date", "date32"),
    ("language", "string"),
    ("text", "string"),
    ("relevance_score", "float64"),
    ("places", "list<string>"),
    ("actors", "list<string>"),
    ("ambiguous", "list<string>"),
    ("cluster", "string"),
    ("warc_file", "string"),
    ("warc_offset", "int64"),
    ("warc_length", "int64"),
    ("warc_record_id", "string"),
    ("text_sha256", "string"),
    ("crawl_id", "string"),
    ("version", "int32"),
    ("previous_version", "string"),
    ("fetched_at", "string"),
)
CLUSTER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("cluster", "string"),
    ("merged_into", "string"),
    ("merged_at", "string"),
    ("crawl_id", "string"),
)
_INT_RANGE = {"int32": 2**31, "int64": 2**63}


@functools.cache
def schema(columns: tuple[tuple[str, str], ...] = COLUMNS) -> pa.Schema:
    """The pyarrow schema of ``columns`` (``COLUMNS``: a dataset part; ``CLUSTER_COLUMNS``: merges)."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "date32": pa.date32(),
        "float64": pa.float64(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "list<string>": pa.list_(pa.string()),
    }
    return pa.schema([(name, types[kind]) for name, kind in columns])


#: partition columns, from the path
PARTITIONS = ("site", "month")


class ByteSink(Protocol):
    """Where parts go: ``put_bytes(key, data, content_type)`` (the storage extension, or a store adapter)."""

    def put_bytes(self, key: str, data: bytes, *, content_type: str = ...) -> object: ...


def month_of(published: str | None) -> str:
    """``yyyy-mm`` of an ISO date or datetime, or ``unknown``."""
    match = _MONTH.match(published or "")
    if not match or not (1900 <= int(match.group(1)) <= 2200 and 1 <= int(match.group(2)) <= 12):
        return UNKNOWN_MONTH
    return f"{match.group(1)}-{match.group(2)}"


def _date_of(published: str | None) -> date | None:
    match = _DAY.match(published or "")
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def part_key(site: str, month: str, name: str) -> str:
    """``dataset/site=<site>/month=<month>/<name>.parquet``, every part sanitised."""
    month = month if month == UNKNOWN_MONTH or _MONTH.fullmatch(month) else UNKNOWN_MONTH
    return check_key(f"{DATASET_PREFIX}site={safe_segment(site)}/month={month}/{safe_segment(name)}.parquet")


def record_key_of(record: Mapping[str, Any]) -> str:
    """The key that names one stored article version (its JSON record's key)."""
    key = record.get("json_key") or record.get("record_key") or record.get("text_key")
    if not key:
        raise ValueError("record has no json_key / text_key: cannot name its dataset row")
    return str(key)


def row_from_record(
    record: Mapping[str, Any],
    text: str,
    *,
    entities: Mapping[str, Any] | None = None,
    cluster: str | None = None,
) -> dict[str, Any]:
    """The dataset row (with ``site`` and ``month``) of a stored record and its text.

    ``entities`` and ``cluster`` default to the record's own (``entities``, ``cluster``).
    """
    warc = record.get("warc") or {}
    relevance = record.get("relevance") or {}
    ents = entities if entities is not None else (record.get("entities") or {})
    version = record.get("version")
    published = record.get("published")
    return {
        "site": str(record.get("site") or "unknown"),
        "month": month_of(published),
        "record_key": record_key_of(record),
        "id": record.get("id"),
        "url": record.get("url"),
        "canonical_url": record.get("canonical_url") or record.get("url"),
        "title": record.get("title"),
        "author": record.get("author"),
        "published": published,
        "published_date": _date_of(published),
        "language": record.get("language"),
        "text": text,
        "relevance_score": relevance.get("score") if isinstance(relevance, Mapping) else None,
        "places": list(ents.get("places") or ()),
        "actors": list(ents.get("actors") or ()),
        "ambiguous": list(ents.get("ambiguous") or ()),
        "cluster": cluster if cluster is not None else record.get("cluster"),
        "warc_file": warc.get("filename"),
        "warc_offset": warc.get("offset"),
        "warc_length": warc.get("length"),
        "warc_record_id": warc.get("record_id"),
        "text_sha256": record.get("text_sha256"),
        "crawl_id": record.get("crawl_id"),
        "version": int(version) if version is not None else 1,
        "previous_version": _previous_key(record.get("previous_version")),
        "fetched_at": warc.get("warc_date") or record.get("fetched_at"),
    }


def _previous_key(previous: object) -> str | None:
    # The record links its previous version as {version, text_key, json_key, ...}; the row names its key.
    if isinstance(previous, Mapping):
        value = previous.get("json_key") or previous.get("text_key")
        return str(value) if value else None
    return str(previous) if previous else None


def _content_name(keys: list[str]) -> str:
    # A part is named by what it holds: the same rows make the same name (and the same bytes), so a part
    # that reached the store just before a kill is recognised, not written twice, when the resumed run
    # writes those rows again.
    return hashlib.sha1("\n".join(keys).encode("utf-8")).hexdigest()[:16]


def _fits(kind: str, value: object) -> bool:
    if value is None:
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "date32":
        return isinstance(value, date)
    if kind == "float64":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind in _INT_RANGE:
        limit = _INT_RANGE[kind]
        return isinstance(value, int) and not isinstance(value, bool) and -limit <= value < limit
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)  # list<string>


def check_row(row: Mapping[str, Any]) -> None:
    """Raise ValueError when ``row`` does not fit ``COLUMNS`` (so one bad row cannot spoil a part)."""
    for name, kind in COLUMNS:
        value = row.get(name)
        if not _fits(kind, value):
            raise ValueError(
                f"dataset row {row.get('record_key')!r} does not fit the schema: "
                f"{name} must be {kind}, got {type(value).__name__} {str(value)[:40]!r}"
            )


def encode_part(rows: Iterable[Mapping[str, Any]], columns: tuple[tuple[str, str], ...] = COLUMNS) -> bytes:
    """Rows as one Parquet file (zstd); columns not in ``columns`` (the partitions) are left out."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [name for name, _ in columns]
    table = pa.Table.from_pylist([{n: row.get(n) for n in names} for row in rows], schema=schema(columns))
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


@dataclass(frozen=True)
class WrittenPart:
    key: str
    rows: int


class DatasetWriter:
    """Buffers dataset rows and hands them over in parts; see the module docstring (thread-safe)."""

    def __init__(
        self,
        sink: ByteSink,
        work_dir: str | os.PathLike[str],
        part_name: str,
        *,
        crawl_id: str = "",
        part_rows: int = DEFAULT_PART_ROWS,
        part_seconds: float = DEFAULT_PART_SECONDS,
    ) -> None:
        if part_rows < 1:
            raise ValueError(f"part_rows must be >= 1, got {part_rows!r}")
        self.sink = sink
        self.part_name = part_name
        self.crawl_id = crawl_id
        self.part_rows = part_rows
        self.part_seconds = part_seconds
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._rows_path = self.work_dir / "rows.jsonl"
        self._parts_path = self.work_dir / "parts.jsonl"
        self._lock = threading.RLock()
        self._flushing = threading.Lock()  # one flush at a time; the queue stays open meanwhile
        # (site, month) -> where each queued row's line is in the journal: (offset, length) in bytes
        self._pending: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._merges: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self._oldest: float | None = None
        self.rows_written = 0
        self.parts_written: list[WrittenPart] = []
        resumed = self._recover()
        self._rows_fh = open(self._rows_path, "ab")  # noqa: SIM115 (closed in close())
        if resumed:
            # Hand over what a killed run journaled but had not written, before any new row joins it: the
            # same rows make the same part under the same name, so a part that did reach the store is
            # recognised as already there instead of being written again.
            logger.info("dataset %s: %d journaled rows from an interrupted run", part_name, resumed)
            self.flush()

    # -- journal --

    def _recover(self) -> int:
        written: set[str] = set()
        if self._parts_path.exists():
            for line in self._parts_path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                written.update(entry.get("keys") or ())
        self._seen = set(written)
        done_merges = {e for e in written if e.startswith("merge:")}
        if self._rows_path.exists():
            offset = 0
            with open(self._rows_path, "rb") as fh:
                for raw in fh:
                    try:
                        row = json.loads(raw)
                    except ValueError:
                        logger.warning("dataset journal %s: a torn line skipped", self._rows_path)
                        row = None
                    place = (offset, len(raw))
                    offset += len(raw)
                    if not isinstance(row, dict):
                        continue
                    if row.get("_merge"):
                        tag = f"merge:{row['cluster']}"
                        if tag not in done_merges:
                            self._merges.append(row)
                            done_merges.add(tag)
                        continue
                    key = row.get("record_key")
                    if key and key not in self._seen:
                        self._seen.add(key)
                        self._queue(row, place)
        return sum(len(rows) for rows in self._pending.values()) + len(self._merges)

    def _queue(self, row: Mapping[str, Any], place: tuple[int, int]) -> None:
        self._pending.setdefault((row["site"], row["month"]), []).append(place)

    def _journal(self, obj: Mapping[str, Any]) -> tuple[int, int]:
        """Append ``obj`` to the journal; where its line is (offset, length)."""
        line = (json.dumps(obj, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        offset = self._rows_fh.tell()
        self._rows_fh.write(line)
        self._rows_fh.flush()
        return offset, len(line)

    def _journaled_rows(self, places: list[tuple[int, int]]) -> list[dict[str, Any]]:
        """The queued rows at ``places`` in the journal, as :meth:`add` had them."""
        rows = []
        with open(self._rows_path, "rb") as fh:
            for offset, length in places:
                fh.seek(offset)
                row = json.loads(fh.read(length))
                if row.get("published_date"):
                    row["published_date"] = date.fromisoformat(row["published_date"])
                rows.append(row)
        return rows

    # -- writing --

    def __contains__(self, record_key: object) -> bool:
        with self._lock:
            return record_key in self._seen

    def add(self, row: Mapping[str, Any]) -> bool:
        """Queue one row; False (nothing queued) when its ``record_key`` was written or queued before.

        Raises ValueError (nothing queued) for a row that does not fit the schema.
        """
        key = row["record_key"]
        check_row(row)
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            self._queue(row, self._journal(row))
            if self._oldest is None:
                self._oldest = time.monotonic()
            return True

    def add_merge(self, cluster: str, into: str, at: str) -> None:
        """Queue one cluster merge for the cluster-mapping table."""
        entry = {
            "_merge": True,
            "cluster": cluster,
            "merged_into": into,
            "merged_at": at,
            "crawl_id": self.crawl_id,
        }
        with self._lock:
            self._journal(entry)
            self._merges.append(entry)
            if self._oldest is None:
                self._oldest = time.monotonic()

    def due(self) -> bool:
        """True when a partition holds ``part_rows`` rows, or the oldest queued row waited ``part_seconds``."""
        with self._lock:
            if any(len(rows) >= self.part_rows for rows in self._pending.values()):
                return True
            return self._oldest is not None and time.monotonic() - self._oldest >= self.part_seconds

    def flush_due(self) -> list[WrittenPart]:
        """The full partitions as parts; everything when the oldest row waited ``part_seconds``.

        Big partitions get big parts and small ones wait (a crawl over years of archives touches many
        months, and a part per month per flush would make thousands of tiny files).
        """
        with self._lock:
            stale = self._oldest is not None and time.monotonic() - self._oldest >= self.part_seconds
        return self.flush(only_full=not stale)

    def flush(self, *, only_full: bool = False) -> list[WrittenPart]:
        """Write queued rows as parts (one per partition) and queued merges; return what was written.

        ``only_full``: just the partitions holding ``part_rows`` rows or more. The rows are taken out of
        the queue first and encoded without holding it, so :meth:`add` goes on meanwhile (a crawl's
        parts are written in a thread of their own); what fails to be handed over goes back to the queue.
        """
        with self._flushing:
            with self._lock:
                groups = {
                    partition: self._pending.pop(partition)
                    for partition, rows in sorted(self._pending.items())
                    if rows and (not only_full or len(rows) >= self.part_rows)
                }
                merges: list[dict[str, Any]] = []
                if not only_full:
                    merges, self._merges = self._merges, []
                    self._oldest = None
            written: list[WrittenPart] = []
            done: set[tuple[str, str]] = set()
            try:
                for (site, month), places in groups.items():
                    rows = self._journaled_rows(places)
                    keys = [r["record_key"] for r in rows]
                    key = part_key(site, month, f"{self.part_name}-{_content_name(keys)}")
                    self._hand_over(key, encode_part(rows), keys)
                    written.append(WrittenPart(key, len(rows)))
                    done.add((site, month))
                if merges:
                    tags = [f"merge:{m['cluster']}" for m in merges]
                    key = check_key(
                        f"{CLUSTERS_PREFIX}{safe_segment(self.part_name)}-{_content_name(tags)}.parquet"
                    )
                    self._hand_over(key, encode_part(merges, CLUSTER_COLUMNS), tags)
                    written.append(WrittenPart(key, len(merges)))
                    merges = []
            except BaseException:
                with self._lock:
                    for partition, places in groups.items():
                        if partition not in done:
                            self._pending[partition] = places + self._pending.get(partition, [])
                    self._merges = merges + self._merges
                    if self._oldest is None and (self._pending or self._merges):
                        self._oldest = time.monotonic()
                raise
            with self._lock:
                if not self._pending and not self._merges:
                    # Everything journaled is in parts: the journal starts again (parts.jsonl keeps the keys).
                    self._rows_fh.close()
                    self._rows_fh = open(self._rows_path, "wb")  # noqa: SIM115
                self.rows_written += sum(len(g) for g in groups.values())
                self.parts_written += written
            return written

    def _hand_over(self, key: str, data: bytes, keys: list[str]) -> None:
        self.sink.put_bytes(key, data, content_type=PARQUET_CONTENT_TYPE)
        digest = hashlib.sha256(data).hexdigest()
        with open(self._parts_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"part": key, "sha256": digest, "keys": keys}, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        logger.info("dataset part %s: %d rows", key, len(keys))

    def close(self, *, keep_journal: bool = False) -> list[WrittenPart]:
        """Flush and close; the journal is removed unless ``keep_journal``."""
        written = self.flush()
        with self._lock:
            self._rows_fh.close()
            if not keep_journal:
                for path in (self._rows_path, self._parts_path):
                    path.unlink(missing_ok=True)
            return written
