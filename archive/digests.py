"""The revisit digest index: which payloads this crawl, or an earlier one, already archived in full.

``archive.warc.WarcRotatingWriter`` asks the index for each 200 response's payload digest; when it is known,
the writer stores a ``revisit`` record that points at the first capture instead of the same bytes again.

``JsonlDigestIndex`` keeps the index in an append-only JSON Lines file (one ``{"digest", "uri", "date"}`` per
line, first capture wins), loaded when opened. Between crawls the caller moves the file to and from the
archive store with ``load_bytes``/``dump_bytes``. A Redis implementation can follow the same small protocol.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from archive.diskmap import DiskMap

logger = logging.getLogger(__name__)


class DigestIndex(Protocol):
    """Maps a WARC payload digest (``sha1:BASE32``) to the first capture's target URI and WARC-Date."""

    def get(self, digest: str) -> tuple[str, str] | None: ...

    def add(self, digest: str, uri: str, warc_date: str) -> None: ...


class MemoryDigestIndex:
    """An in-process index, for one crawl without persistence (and for tests)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> tuple[str, str] | None:
        with self._lock:
            return self._entries.get(digest)

    def add(self, digest: str, uri: str, warc_date: str) -> None:
        with self._lock:
            self._entries.setdefault(digest, (uri, warc_date))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, digest: object) -> bool:
        return digest in self._entries


class JsonlDigestIndex:
    """A digest index persisted as an append-only JSON Lines file, loaded in full at open.

    Each ``add`` of a new digest appends and flushes one line, so a crash loses at most the line being
    written; a torn last line is skipped (with a warning) on the next load. The lookup table is a
    ``DiskMap`` (SQLite scratch file): memory does not grow with the number of payloads.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._entries = DiskMap()
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        with self.path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    digest, uri, date = entry["digest"], entry["uri"], entry["date"]
                except (ValueError, KeyError, TypeError):
                    logger.warning("Skipping unreadable digest index line %s:%s", self.path, lineno)
                    continue
                self._entries.add(digest, (uri, date))

    def get(self, digest: str) -> tuple[str, str] | None:
        with self._lock:
            value = self._entries.get(digest)
        return (str(value[0]), str(value[1])) if value is not None else None

    def add(self, digest: str, uri: str, warc_date: str) -> None:
        with self._lock:
            if not self._entries.add(digest, (uri, warc_date)):
                return
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            line = json.dumps({"digest": digest, "uri": uri, "date": warc_date}, ensure_ascii=False)
            self._file.write(line + "\n")
            self._file.flush()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, digest: object) -> bool:
        return digest in self._entries

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> JsonlDigestIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def dump_bytes(self) -> bytes:
        """The whole index as JSONL bytes, to store in the archive between crawls (``dump_file`` streams)."""
        return b"".join(self._lines())

    def dump_file(self, path: Path | str) -> Path:
        """The whole index as a JSONL file, written a line at a time."""
        path = Path(path)
        with path.open("wb") as out:
            for line in self._lines():
                out.write(line)
        return path

    def _lines(self) -> Iterator[bytes]:
        for digest, (uri, date) in self._entries.items():
            yield (
                json.dumps({"digest": digest, "uri": uri, "date": date}, ensure_ascii=False) + "\n"
            ).encode()

    def entries(self) -> Iterator[tuple[str, str, str]]:
        """(digest, uri, date) of every payload, in digest order."""
        for digest, (uri, date) in self._entries.items():
            yield digest, uri, date

    @classmethod
    def load_bytes(cls, data: bytes | None, path: Path | str) -> JsonlDigestIndex:
        """Write ``data`` (a stored index, or None for a first crawl) to ``path`` and open it there."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data or b"")
        return cls(path)
