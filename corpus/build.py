"""``scrapy dataset build`` and ``scrapy dataset compact``, without Scrapy: over what a store already holds.

``build`` reads every stored record (the crawl manifests, ``manifests/*.jsonl``, one record a line) and
its text, annotates the ones the dataset does not have yet (entity tags, near-duplicate cluster: the
records' own when they carry them), in publication order so a cluster is founded by its earliest copy,
and writes them as new parts. Running it twice adds nothing the second time.

``compact`` merges the live parts of each partition that has several into one new part
(``compact-<stamp>.parquet``, rows deduplicated by ``record_key``) and writes a dataset manifest
``dataset-manifests/<stamp>.json`` naming the parts each new one supersedes. Nothing is deleted or
rewritten: readers (``corpus.query``) skip superseded parts. This module reads no settings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpus.annotate import Annotator
from corpus.dataset import (
    MANIFESTS_PREFIX,
    PARQUET_CONTENT_TYPE,
    ByteSink,
    DatasetWriter,
    record_key_of,
    row_from_record,
)
from corpus.query import ObjectReader, live_parts

logger = logging.getLogger(__name__)

MANIFEST_RECORDS_PREFIX = "manifests/"


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S")


def stored_records(reader: ObjectReader) -> Iterator[dict[str, Any]]:
    """Every record in the crawl manifests (a bad line is logged and skipped), each record key once."""
    seen: set[str] = set()
    for key in sorted(reader.list(MANIFEST_RECORDS_PREFIX)):
        if not key.endswith(".jsonl"):
            continue
        data = reader.get_bytes(key) or b""
        for number, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                name = record_key_of(record)
            except (ValueError, AttributeError, TypeError) as exc:
                logger.warning("%s line %d skipped: %s", key, number, exc)
                continue
            if name not in seen:
                seen.add(name)
                yield record


def dataset_keys(reader: ObjectReader) -> set[str]:
    """``record_key`` of every row in the live parts."""
    keys: set[str] = set()
    for key in live_parts(reader):
        data = reader.get_bytes(key)
        if data:
            keys.update(pq.read_table(pa.BufferReader(data), columns=["record_key"]).column(0).to_pylist())
    return keys


@dataclass
class BuildResult:
    rows: int = 0
    already: int = 0
    failed: int = 0
    parts: list[str] = field(default_factory=list)


def build(
    reader: ObjectReader,
    sink: ByteSink,
    annotator: Annotator,
    work_dir: str | Path,
    *,
    part_rows: int = 5000,
    progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Add the stored records the dataset lacks; see the module docstring."""
    result = BuildResult()
    have = dataset_keys(reader)
    todo = []
    for record in stored_records(reader):
        if record_key_of(record) in have:
            result.already += 1
        else:
            todo.append(record)
    todo.sort(key=lambda r: (str(r.get("published") or r.get("fetched_at") or "~"), record_key_of(r)))
    name = f"build-{stamp()}"
    writer = DatasetWriter(sink, Path(work_dir) / name, name, crawl_id=name, part_rows=part_rows)
    for record in todo:
        text_key = record.get("text_key")
        data = reader.get_bytes(text_key) if text_key else None
        if data is None:
            logger.warning("%s: text %s is not in the store; no row", record_key_of(record), text_key)
            result.failed += 1
            continue
        text = data.decode("utf-8", "replace")
        note = annotator.annotate(record, text)
        row = row_from_record(
            record, text, entities=note.entities, cluster=record.get("cluster") or note.cluster
        )
        if writer.add(row):
            result.rows += 1
        for merge in note.merges:
            writer.add_merge(merge.cluster, merge.into, merge.at)
        if writer.due():
            result.parts += [p.key for p in writer.flush_due()]
    result.parts += [p.key for p in writer.close()]
    annotator.index.close()
    if progress:
        progress(
            f"{result.rows} rows added, {result.already} already in the dataset, {result.failed} without text"
        )
    return result


@dataclass
class CompactResult:
    manifest: str | None = None
    merged: dict[str, list[str]] = field(default_factory=dict)


def compact(reader: ObjectReader, sink: ByteSink) -> CompactResult:
    """Merge each partition's live parts; write the manifest naming what they supersede."""
    groups: dict[str, list[str]] = {}
    for key in live_parts(reader):
        groups.setdefault(key.rsplit("/", 1)[0], []).append(key)
    when = stamp()
    result = CompactResult()
    entries = []
    for directory, keys in sorted(groups.items()):
        if len(keys) < 2:
            continue
        tables = []
        for key in keys:
            data = reader.get_bytes(key)
            if data is None:
                raise RuntimeError(
                    f"{key} is listed but cannot be read: compaction stopped, nothing superseded"
                )
            tables.append(pq.read_table(pa.BufferReader(data), partitioning=None))
        table = pa.concat_tables(tables, promote_options="default")
        # One row per record key, the first part's (parts are never rewritten, so duplicates only come
        # from a record written twice under two part names).
        seen: set[str] = set()
        keep = []
        for i, record_key in enumerate(table.column("record_key").to_pylist()):
            if record_key not in seen:
                seen.add(record_key)
                keep.append(i)
        table = table.take(pa.array(keep, type=pa.int64()))
        out = pa.BufferOutputStream()
        pq.write_table(table, out, compression="zstd")
        new_key = f"{directory}/compact-{when}.parquet"
        written = sink.put_bytes(new_key, out.getvalue().to_pybytes(), content_type=PARQUET_CONTENT_TYPE)
        new_key = written if isinstance(written, str) else new_key
        entries.append({"key": new_key, "rows": table.num_rows, "supersedes": keys})
        result.merged[new_key] = keys
    if entries:
        manifest = {"created": datetime.now(UTC).isoformat(timespec="seconds"), "parts": entries}
        key = f"{MANIFESTS_PREFIX}{when}.json"
        sink.put_bytes(
            key, json.dumps(manifest, ensure_ascii=False, indent=1).encode(), content_type="application/json"
        )
        result.manifest = key
    return result
