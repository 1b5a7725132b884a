"""``DiskMap``: a ``str -> JSON value`` mapping in SQLite on disk, so a crawl's per-article bookkeeping (the
incremental state, the revisit index, the journal of finished articles) does not live in the process's
memory: a site with a million articles costs disk, not RAM. No Scrapy here.

By default the database is SQLite's private temporary file (deleted when the map is closed or the process
ends); ``DiskMap(path)`` keeps a named file. Thread-safe (one connection, one lock). Values are stored as
compact JSON; ``items()`` reads in key order, a thousand rows at a time.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_BATCH = 1000


class DiskMap:
    def __init__(self, path: str | Path = "", *, cache_kib: int = 2048) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        if not self.path:
            # A scratch file: nothing to recover after a crash, so no journal and no syncs.
            self._db.execute("PRAGMA journal_mode=OFF")
            self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID")
        self._len = int(self._db.execute("SELECT COUNT(*) FROM kv").fetchone()[0])

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return json.loads(row[0]) if row is not None else default

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            cursor = self._db.execute("INSERT OR IGNORE INTO kv (k, v) VALUES (?, ?)", (key, data))
            if cursor.rowcount:
                self._len += 1
            else:
                self._db.execute("UPDATE kv SET v = ? WHERE k = ?", (data, key))

    def add(self, key: str, value: Any) -> bool:
        """Set ``key`` unless it is there already; True when it was added."""
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            added = bool(
                self._db.execute("INSERT OR IGNORE INTO kv (k, v) VALUES (?, ?)", (key, data)).rowcount
            )
            self._len += int(added)
            return added

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._lock:
            return self._db.execute("SELECT 1 FROM kv WHERE k = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def keys(self) -> Iterator[str]:
        for key, _ in self.items():
            yield key

    __iter__ = keys

    def items(self) -> Iterator[tuple[str, Any]]:
        """Every (key, value), in key order, read in batches (a concurrent write is seen or not)."""
        last: str | None = None
        while True:
            with self._lock:
                if last is None:
                    rows = self._db.execute("SELECT k, v FROM kv ORDER BY k LIMIT ?", (_BATCH,)).fetchall()
                else:
                    rows = self._db.execute(
                        "SELECT k, v FROM kv WHERE k > ? ORDER BY k LIMIT ?", (last, _BATCH)
                    ).fetchall()
            if not rows:
                return
            for key, value in rows:
                yield key, json.loads(value)
            last = rows[-1][0]

    def update(self, other: Any) -> None:
        items = other.items() if hasattr(other, "items") else other
        for key, value in items:
            self[key] = value

    def close(self) -> None:
        with self._lock:
            self._db.close()


_MISSING = object()


class DiskSet:
    """A set of strings on disk (a ``DiskMap`` without values): ``add``, ``update``, ``in``, ``len``."""

    def __init__(self, path: str | Path = "") -> None:
        self._map = DiskMap(path)

    def add(self, key: str) -> bool:
        return self._map.add(key, 1)

    def update(self, keys: Any) -> None:
        for key in keys:
            self._map.add(key, 1)

    def __contains__(self, key: object) -> bool:
        return key in self._map

    def __len__(self) -> int:
        return len(self._map)

    def __bool__(self) -> bool:
        return bool(self._map)

    def __iter__(self) -> Iterator[str]:
        return self._map.keys()

    def close(self) -> None:
        self._map.close()
