"""The crawl manifest: one JSON line per stored article, handed to the spool as ``manifests/<crawl-id>.jsonl``.

Lines are appended (and flushed) to a local working file while the crawl runs, so a crash loses at most
the line being written; a crawl restarted with the same crawl id appends to the same file. ``close()``
hands the file to a sink (a ``Spool``, or anything with ``add_file(key, path, content_type)``).

A line is the stored record of ``docs/design.md`` (id, url, canonical_url, site, title, author, published,
language, fetched_at, encoding, text_key, relevance, warc{filename, offset, length, record_id,
payload_digest}, rendered); ``id``, ``url`` and ``text_key`` are required, everything else is passed
through as given.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from archive.keys import manifest_key, safe_segment

logger = logging.getLogger(__name__)

MANIFEST_CONTENT_TYPE = "application/x-ndjson"
REQUIRED_FIELDS = ("id", "url", "text_key")


class FileSink(Protocol):
    """Where a finished file goes (``archive.spool.Spool`` is one)."""

    def add_file(self, key: str, path: str | os.PathLike[str], content_type: str = ...) -> object: ...


class ManifestWriter:
    """Append article records to ``<work_dir>/<crawl-id>.jsonl``; hand the file to ``sink`` at close."""

    def __init__(self, crawl_id: str, work_dir: str | os.PathLike[str], sink: FileSink) -> None:
        self.crawl_id = crawl_id
        self.key = manifest_key(crawl_id)
        self.sink = sink
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(work_dir) / f"{safe_segment(crawl_id)}.jsonl"
        self._lock = threading.Lock()
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self.lines = 0

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one article record as a JSON line."""
        missing = [name for name in REQUIRED_FIELDS if not record.get(name)]
        if missing:
            raise ValueError(f"manifest record lacks {missing}")
        line = json.dumps(record, ensure_ascii=False, sort_keys=False, default=str)
        with self._lock:
            if self._fh.closed:
                raise RuntimeError(f"manifest {self.path} is closed")
            self._fh.write(line + "\n")
            self._fh.flush()
            self.lines += 1

    def close(self) -> str | None:
        """Close the working file and hand it to the sink; return the manifest key (None if empty)."""
        with self._lock:
            if self._fh.closed:
                return None
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
        if self.path.stat().st_size == 0:
            self.path.unlink()
            return None
        self.sink.add_file(self.key, self.path, MANIFEST_CONTENT_TYPE)
        logger.info("manifest %s: %d lines handed over for upload", self.key, self.lines)
        return self.key

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
