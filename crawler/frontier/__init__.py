"""The crawl frontier: every candidate article of a crawl in one SQLite table on disk, not in memory.

A site's sitemaps may list hundreds of thousands of articles. Turned into Scrapy ``Request`` objects they
all sit in the scheduler's memory queue, with a seen-set and the focus candidates beside them, so memory
grows with the site. Here each candidate is one row (``Frontier``), committed as the crawl goes, in
``<CRAWL_STATE_DIR>/<crawl id>.frontier.sqlite`` (default ``<ARCHIVE_SPOOL_DIR>/state``), SQLite in WAL
mode:

    url (primary key), site, score, tier, state, seq, discovered, lastmod, request (JSON)

``state``: SEEN (offered; its request has not reached the frontier, or a middleware dropped it: the row is
the seen-set entry), PENDING (waiting, with its request), QUEUED (handed to Scrapy's scheduler, or a redirect
target a fed request is fetching: no request of its own), DONE (through the pipelines, failed, or known
otherwise). Scrapy's duplicate filter asks the frontier too (``crawler.frontier.dupefilter``). ``tier`` 0 is what is new since the site's last crawl, 1 its
backlog, 2 the articles an earlier crawl fetched already (the incremental state knows them; fetched again,
conditionally, only when nothing else waits). The feeder (``crawler.frontier.feeder.FrontierMiddleware``) takes PENDING rows best first (tier,
then score, then newest ``lastmod``, then discovery order) and keeps the scheduler topped up to a small
window; what a crawl leaves PENDING is saved as the site's backlog for the next crawl
(``crawler.frontier.backlog``).

Commits: every write goes to an open transaction that is committed at least every ``COMMIT_EVERY`` writes and
whenever the feeder runs (a few times a second in a busy crawl), so a kill -9 loses at most the last
fraction of a second of discovery, which the restart rediscovers. A restart with the same crawl id reopens
the file: QUEUED rows (in the killed process's scheduler or downloader) go back to PENDING, DONE rows are
never fed again.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SEEN, PENDING, QUEUED, DONE = 0, 1, 2, 3
NEW, BACKLOG, REVISIT = 0, 1, 2
COMMIT_EVERY = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frontier (
    url TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    score REAL NOT NULL DEFAULT 0,
    tier INTEGER NOT NULL DEFAULT 1,
    state INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL,
    discovered TEXT,
    lastmod TEXT,
    request TEXT,
    run INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS frontier_next ON frontier (state, site, tier, score DESC, lastmod DESC, seq);
CREATE TABLE IF NOT EXISTS frontier_info (key TEXT PRIMARY KEY, value TEXT);
"""


class Frontier:
    """The SQLite table of the module docstring. Thread-safe (one connection, one lock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.existed = self.path != ":memory:" and Path(self.path).exists()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # A small page cache: the table is on disk so that memory does not grow with the site.
        self._db.execute("PRAGMA cache_size=-4096")
        self._db.executescript(_SCHEMA)
        self._writes = 0
        self._in_tx = False
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM frontier").fetchone()
        self._seq = int(row[0])
        # Which run of the crawl this is: 1, then one more for each restart after a kill.
        runs = self._db.execute("SELECT value FROM frontier_info WHERE key = 'runs'").fetchone()
        self.run = int(runs[0]) + 1 if runs else 1
        self._db.execute(
            "INSERT INTO frontier_info (key, value) VALUES ('runs', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(self.run),),
        )
        self.requeued = 0
        if self.existed:
            # Resuming after a kill: what was in the dead process's scheduler is waiting again.
            self.requeued = self._db.execute(
                "UPDATE frontier SET state = ? WHERE state = ? AND request IS NOT NULL", (PENDING, QUEUED)
            ).rowcount
            # Redirect targets the dead process was fetching (``mark_hop``): only seen; the redirect of the
            # requeued request, or their own request, fetches them again.
            self._db.execute("UPDATE frontier SET state = ? WHERE state = ?", (SEEN, QUEUED))
            logger.info(
                "Frontier %s (run %d): %d waiting, %d done, %d queued by the last run waiting again",
                path,
                self.run,
                self.count(PENDING),
                self.count(DONE),
                self.requeued,
            )

    # --- transactions ---------------------------------------------------------------------------------
    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        if not self._in_tx:
            self._db.execute("BEGIN")
            self._in_tx = True
        cursor = self._db.execute(sql, params)
        self._writes += 1
        if self._writes >= COMMIT_EVERY:
            self.commit()
        return cursor

    def commit(self) -> None:
        with self._lock:
            if self._in_tx:
                self._db.execute("COMMIT")
                self._in_tx = False
            self._writes = 0

    def close(self) -> None:
        with self._lock:
            self.commit()
            self._db.close()

    # --- the seen-set and the candidates' scores -------------------------------------------------------
    def offer(self, url: str, site: str, score: float = 0.0) -> str | None:
        """A candidate found: "new", "better" (a better score than its waiting request's: request it again)
        or None (seen already with this score or better, or queued, or done)."""
        with self._lock:
            row = self._db.execute("SELECT score, state FROM frontier WHERE url = ?", (url,)).fetchone()
            if row is None:
                self._seq += 1
                self._write(
                    "INSERT INTO frontier (url, site, score, state, seq) VALUES (?, ?, ?, ?, ?)",
                    (url, site, score, SEEN, self._seq),
                )
                return "new"
            old, state = float(row[0]), int(row[1])
            if state in (PENDING, SEEN) and score > old:
                self._write("UPDATE frontier SET score = ? WHERE url = ?", (score, url))
                return "better"
            return None

    def seen(self, url: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM frontier WHERE url = ?", (url,)).fetchone() is not None

    def state(self, url: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT state FROM frontier WHERE url = ?", (url,)).fetchone()
            return int(row[0]) if row is not None else None

    def score(self, url: str) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT score FROM frontier WHERE url = ?", (url,)).fetchone()
            return float(row[0]) if row is not None else None

    def mark_done(self, url: str, site: str = "") -> None:
        """Fetched (or known: a rel=canonical target, an article finished by an earlier run): never fed."""
        with self._lock:
            self._seq += 1
            self._write(
                "INSERT INTO frontier (url, site, state, seq, run) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET state = excluded.state, request = NULL, run = excluded.run",
                (url, site, DONE, self._seq, self.run),
            )

    def mark_hop(self, url: str, site: str) -> None:
        """A redirect of a fed request goes to ``url``: fetched now on that request's behalf (QUEUED without a
        request of its own), so a later request for it is not fed; DONE with the redirecting row."""
        with self._lock:
            self._seq += 1
            self._write(
                "INSERT INTO frontier (url, site, state, seq) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET state = excluded.state WHERE frontier.state = ?",
                (url, site, QUEUED, self._seq, SEEN),
            )

    def done_earlier(self, url: str) -> bool:
        """Done by an earlier run of this crawl (one killed before it finished)."""
        with self._lock:
            row = self._db.execute("SELECT state, run FROM frontier WHERE url = ?", (url,)).fetchone()
            return row is not None and int(row[0]) == DONE and int(row[1]) < self.run

    # --- waiting requests ------------------------------------------------------------------------------
    def put(
        self,
        url: str,
        site: str,
        request: dict[str, Any],
        *,
        score: float = 0.0,
        tier: int = BACKLOG,
        discovered: str | None = None,
        lastmod: str | None = None,
    ) -> bool:
        """The request for a candidate, waiting to be fed; False when the URL is queued or done already."""
        payload = json.dumps(request, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._seq += 1
            cursor = self._write(
                "INSERT INTO frontier (url, site, score, tier, state, seq, discovered, lastmod, request) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
                "score = MAX(frontier.score, excluded.score), "
                "tier = CASE WHEN frontier.state = ? THEN excluded.tier ELSE MIN(frontier.tier, excluded.tier) END, "
                "state = excluded.state, discovered = COALESCE(excluded.discovered, frontier.discovered), "
                "lastmod = COALESCE(excluded.lastmod, frontier.lastmod), request = excluded.request "
                "WHERE frontier.state IN (?, ?)",
                (
                    url,
                    site,
                    score,
                    tier,
                    PENDING,
                    self._seq,
                    discovered,
                    lastmod,
                    payload,
                    SEEN,
                    SEEN,
                    PENDING,
                ),
            )
            return cursor.rowcount > 0

    def take(self, site: str, limit: int, *, unscored: bool = True) -> list[tuple[str, dict[str, Any]]]:
        """Up to ``limit`` waiting requests of ``site``, best first, marked QUEUED (committed).

        ``unscored=False`` (CRAWL_FOCUS=prioritise, until the first idle moment): only the new and backlog
        rows with a topic score; the unscored ones and the revisits wait."""
        if limit <= 0:
            return []
        where = "state = ? AND site = ?" + ("" if unscored else f" AND score > 0 AND tier <= {BACKLOG}")
        with self._lock:
            rows = self._db.execute(
                f"SELECT url, request FROM frontier WHERE {where} "
                "ORDER BY tier, score DESC, lastmod DESC, seq LIMIT ?",
                (PENDING, site, limit),
            ).fetchall()
            for url, _ in rows:
                self._write("UPDATE frontier SET state = ? WHERE url = ?", (QUEUED, url))
            self.commit()
        return [(url, json.loads(payload)) for url, payload in rows]

    def mark_queued(self, url: str) -> None:
        with self._lock:
            self._write("UPDATE frontier SET state = ? WHERE url = ?", (QUEUED, url))

    def mark_queued_done(self) -> int:
        with self._lock:
            count = self._write(
                "UPDATE frontier SET state = ?, request = NULL WHERE state = ?", (DONE, QUEUED)
            )
            self.commit()
            return int(count.rowcount)

    def requeue(self, url: str) -> None:
        """A queued request that was not fetched (the crawl closed first): waiting again."""
        with self._lock:
            self._write("UPDATE frontier SET state = ? WHERE url = ? AND state = ?", (PENDING, url, QUEUED))

    def count(self, state: int, site: str | None = None, *, scored: bool = False) -> int:
        sql = "SELECT COUNT(*) FROM frontier WHERE state = ?"
        params: list[Any] = [state]
        if site is not None:
            sql += " AND site = ?"
            params.append(site)
        if scored:
            sql += " AND score > 0"
        with self._lock:
            return int(self._db.execute(sql, params).fetchone()[0])

    def count_waiting(self, site: str) -> int:
        """The site's backlog: waiting rows, and queued ones not fetched (the crawl closed first)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM frontier "
                "WHERE site = ? AND state IN (?, ?) AND request IS NOT NULL AND tier <= ?",
                (site, PENDING, QUEUED, BACKLOG),
            ).fetchone()
            return int(row[0])

    def sites(self, state: int = PENDING) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT site FROM frontier WHERE state = ?", (state,))
            return [str(r[0]) for r in rows]

    def waiting(self, site: str) -> Iterator[dict[str, Any]]:
        """The site's waiting (and queued, not yet fetched) requests, best first, as backlog rows (not the
        revisits: the next crawl's sitemaps list those again)."""
        with self._lock:
            self.commit()
            cursor = self._db.execute(
                "SELECT url, score, discovered, lastmod, request FROM frontier "
                "WHERE site = ? AND state IN (?, ?) AND request IS NOT NULL AND tier <= ? "
                "ORDER BY tier, score DESC, lastmod DESC, seq",
                (site, PENDING, QUEUED, BACKLOG),
            )
            rows = cursor.fetchmany(1000)
        while rows:
            for url, score, discovered, lastmod, request in rows:
                yield {
                    "url": url,
                    "score": score,
                    "discovered": discovered,
                    "lastmod": lastmod,
                    "request": json.loads(request),
                }
            with self._lock:
                rows = cursor.fetchmany(1000)

    def info(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM frontier_info WHERE key = ?", (key,)).fetchone()
            return str(row[0]) if row is not None else None

    def set_info(self, key: str, value: str) -> None:
        with self._lock:
            self._write(
                "INSERT INTO frontier_info (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
            self.commit()


def frontier_path(settings: Any) -> Path:
    """``<CRAWL_STATE_DIR>/<crawl id>[-<worker id>].frontier.sqlite`` (CRAWL_STATE_DIR: ``<spool>/state``)."""
    from archive.keys import safe_segment
    from crawler import identity
    from crawler.config import SettingsReader

    r = SettingsReader(settings)
    state_dir = Path(r.text("CRAWL_STATE_DIR") or identity.spool_dir(settings) / "state")
    name = identity.part_name(identity.crawl_id(settings), identity.worker_id(settings))
    return state_dir / f"{safe_segment(name)}.frontier.sqlite"


def frontier_of(crawler: Any) -> Frontier:
    """The crawl's frontier, opened on first use (``crawler.frontier``)."""
    frontier = getattr(crawler, "frontier", None)
    if frontier is None:
        frontier = Frontier(frontier_path(crawler.settings))
        crawler.frontier = frontier
    assert isinstance(frontier, Frontier)
    return frontier
