"""Near-duplicate clusters: agency copy on several sites, lightly edited, shortened, across crawls.

Each article version is reduced to a MinHash signature (``corpus.minhash``, ``NUM_PERM`` permutations) of
its word shingles (``corpus.shingles``: Arabic-normalised, as relevance normalises). Candidates come from
LSH (``LSH_BANDS`` bands of ``LSH_ROWS`` values, ``corpus.minhash.band_keys``: tuned for recall down to a
Jaccard of about 0.25, because a copy shortened to a third of the story shares only that much); each
candidate is then checked on the full signature:

- resemblance: estimated Jaccard ``J >= jaccard`` (an edited copy: an intro sentence added, the last
  paragraph dropped);
- containment: the share of the *smaller* text's shingles found in the other, estimated from ``J`` and the
  exact shingle counts, ``|A∩B| = J(|A|+|B|)/(1+J)``, ``>= containment`` (a copy cut to half or less, with a
  closing line of its own). Two different stories that share their first paragraph and nothing else stay
  far below it.

Cluster rules. A new text that matches nothing founds a cluster named by its key. A copy joins the
cluster of what it matched; when it matches several clusters, it joins the one whose earliest member
(``when``: the published date, else the fetch time, compared in UTC) is earliest, and the others are
*merged* into it. A copy published *before* every member of what it matched (crawled later: an older
site, an archive page) founds the cluster itself, and what it matched is merged into it, so a story's
cluster, once resolved, is named by its earliest published version. A row's cluster is never changed
after it is written: a merge is an event (``Merge``) that goes into the cluster-mapping table, and
readers resolve a cluster through it (:meth:`NearDupIndex.root`).

The index is an event log (``doc`` and ``merge`` events, JSON), so it persists as append-only segments in
the archive store (``state/neardup/<part>-<stamp>.jsonl``, see :class:`StoreEventLog`; merged by
:func:`compact_segments` into one segment and a manifest naming what it supersedes, nothing rewritten)
and, in a distributed crawl, in a Redis list shared by the workers (:class:`RedisEventLog`, trimmed of
what every writer has handed to its store segments and every reader has read): a copy published next
week, or fetched by another worker, joins this one's cluster.

The index itself is not held in Python objects: signatures, LSH buckets and clusters live in SQLite
(:class:`IndexState`), on disk in the spool for a crawl (a cache of the store's segments: each segment is
read once per spool, and memory stays at SQLite's page cache however many versions the archive holds),
in memory for evaluation and benchmarks. This module reads no settings.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from corpus.minhash import NUM_PERM, band_keys, minhash
from corpus.shingles import shingles

logger = logging.getLogger(__name__)

LSH_ROWS = 2
LSH_BANDS = 32
SEGMENT_PREFIX = "state/neardup/"
SEGMENT_MANIFESTS = "state/neardup-manifests/"
#: SQLite's page cache for the index, KiB: what the index costs in memory, whatever its size on disk
CACHE_KIB = 8192
#: signatures also kept decoded, by doc id (direct-mapped: slot ``doc % SIG_CACHE_SLOTS``; 516 bytes a slot,
#: 4 MiB in all): every candidate's signature is read for the duplicate test, and most candidates fail it,
#: so reading them out of SQLite rows was the dearest part of an assignment. Filled as versions are added
#: (this crawl's, the likeliest copies) and as they are read.
SIG_CACHE_SLOTS = 8192


@dataclass(frozen=True)
class NearDupConfig:
    """Thresholds of the duplicate test (see the module docstring)."""

    jaccard: float = 0.5
    containment: float = 0.7
    #: texts with fewer distinct shingles are too short to call copies; each stays its own cluster
    min_shingles: int = 12

    def __post_init__(self) -> None:
        for name in ("jaccard", "containment"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"near-duplicate {name} threshold must be in (0, 1], got {value!r}")
        if self.min_shingles < 1:
            raise ValueError(f"near-duplicate min_shingles must be >= 1, got {self.min_shingles!r}")


@dataclass(frozen=True)
class Signature:
    """A text's MinHash values (uint32) and its exact number of distinct shingles."""

    values: np.ndarray
    size: int

    def encode(self) -> str:
        return base64.b64encode(self.values.astype("<u4").tobytes()).decode("ascii")

    @classmethod
    def decode(cls, data: str, size: int) -> Signature:
        values = np.frombuffer(base64.b64decode(data), dtype="<u4").astype(np.uint32)
        if values.shape != (NUM_PERM,):
            raise ValueError(f"a signature has {NUM_PERM} values, this one {values.size}")
        return cls(values, size)


@dataclass(frozen=True)
class Merge:
    """Cluster ``cluster`` was found to be the same story as ``into`` (the earlier one)."""

    cluster: str
    into: str
    at: str


@dataclass(frozen=True)
class Assignment:
    """Where one text went: its fixed ``cluster``, the key it matched best and the merges it caused."""

    key: str
    cluster: str
    duplicate_of: str | None = None
    merges: tuple[Merge, ...] = ()
    known: bool = False  # the key was in the index already (a resumed crawl): nothing changed


Events = Iterable[dict[str, Any]]


class EventLog(Protocol):
    """Where index events are kept.

    ``load(skip)`` gives ``(segment, events)`` pairs: a store segment's key (``None`` for what is not a
    segment yet: a journal, a Redis list), skipping the segments in ``skip`` (already applied);
    ``sync`` returns events other writers added since the last call; ``flush`` hands this process's new
    events to their permanent home and returns the segments it wrote.
    """

    def load(self, skip: Collection[str] = ()) -> Iterable[tuple[str | None, Events]]: ...

    def sync(self) -> Events: ...

    def append(self, event: dict[str, Any]) -> None: ...

    def flush(self) -> list[str]: ...

    def close(self) -> None: ...

    def lock(self) -> Any: ...


class MemoryEventLog:
    """No persistence: one process, one run (evaluation, benchmarks, tests of the rules); events are
    dropped (the state holds what they did)."""

    def load(self, skip: Collection[str] = ()) -> Iterable[tuple[str | None, Events]]:
        return []

    def sync(self) -> Events:
        return []

    def append(self, event: dict[str, Any]) -> None:
        pass

    def flush(self) -> list[str]:
        return []

    def close(self) -> None:
        pass

    def lock(self) -> Any:
        return _NoLock()


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def signature(text: str) -> Signature:
    """The MinHash signature of ``text``'s shingles (CPU-bound, no shared state: any thread or process).

    The extraction workers call it next to the relevance score, so the crawler's own process only
    queries the index.
    """
    grams = shingles(text)
    return Signature(minhash(grams), len(grams))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_key(when: str | None) -> str:
    """``when`` (ISO 8601) as a string that sorts in time order: UTC ``YYYY-MM-DDTHH:MM:SS`` when it
    carries an offset, as given otherwise (a date alone sorts before the times of its day); '' for none."""
    if not when:
        return ""
    text = str(when).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    if len(text) <= 10:  # a date alone
        return parsed.strftime("%Y-%m-%d")
    return parsed.strftime("%Y-%m-%dT%H:%M:%S")


def _bucket_ids(values: np.ndarray) -> list[int]:
    """One signed 64-bit bucket id per LSH band (the band's number mixed in: one table for all bands)."""
    keys = band_keys(values, LSH_BANDS, LSH_ROWS)
    with np.errstate(over="ignore"):
        mixed = keys ^ (np.arange(1, LSH_BANDS + 1, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93))
    return [int(v) for v in mixed.view(np.int64)]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    doc INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, cluster TEXT NOT NULL, size INTEGER NOT NULL,
    sig BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS bands (bucket INTEGER NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY (bucket, doc))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS clusters (
    cluster TEXT PRIMARY KEY, origin TEXT NOT NULL, members INTEGER NOT NULL, parent TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS segments (key TEXT PRIMARY KEY) WITHOUT ROWID;
"""


class IndexState:
    """Signatures, LSH buckets and clusters in SQLite (``path``: a file, or ``None``: in memory).

    Not thread-safe by itself: :class:`NearDupIndex` serialises access. A file is a cache of the store's
    segments: if it cannot be opened (torn by a crash of the machine) it is started again, and the
    segments and journals are read again.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        # the signature cache (SIG_CACHE_SLOTS): doc id held by each slot (0: none; ids start at 1)
        self._slot_doc = np.zeros(SIG_CACHE_SLOTS, dtype=np.int64)
        self._slot_size = np.zeros(SIG_CACHE_SLOTS, dtype=np.int64)
        self._slot_sig = np.zeros((SIG_CACHE_SLOTS, NUM_PERM), dtype=np.uint32)
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as exc:
            assert self.path is not None
            logger.warning("near-duplicate index %s unreadable (%s): rebuilt from the store", self.path, exc)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            str(self.path) if self.path else ":memory:", check_same_thread=False, isolation_level=None
        )
        # A cache, rebuilt from the store if lost: no fsync; WAL so a second process can read meanwhile.
        db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA busy_timeout = 30000")
        if self.path is not None:
            db.execute("PRAGMA journal_mode = WAL")
        db.executescript(_SCHEMA)
        db.execute("SELECT count(*) FROM docs").fetchone()
        return db

    def close(self) -> None:
        self.db.close()

    def __len__(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM docs").fetchone()[0])

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    # -- segments already applied --

    def applied(self) -> set[str]:
        return {k for (k,) in self.db.execute("SELECT key FROM segments")}

    def mark_applied(self, keys: Iterable[str]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO segments (key) VALUES (?)", [(k,) for k in keys])

    # -- documents --

    def cluster_of(self, key: str) -> str | None:
        row = self.db.execute("SELECT cluster FROM docs WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def add(
        self,
        key: str,
        sig: Signature,
        cluster: str,
        when: str,
        *,
        indexed: bool,
        buckets: list[int] | None = None,
        root: str | None = None,
    ) -> bool:
        """Store one version (False: the key was there). ``indexed``: into the LSH buckets too
        (``buckets``: ``_bucket_ids(sig.values)`` when the caller has them; ``root``: ``root(cluster)``,
        when the caller knows ``cluster`` is one)."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO docs (key, cluster, size, sig) VALUES (?, ?, ?, ?)",
            (key, cluster, sig.size, sig.values.astype("<u4").tobytes()),
        )
        if not cursor.rowcount:
            return False
        doc = cursor.lastrowid
        assert doc is not None
        slot = doc % SIG_CACHE_SLOTS
        self._slot_doc[slot], self._slot_size[slot], self._slot_sig[slot] = doc, sig.size, sig.values
        if indexed:
            # one statement for all bands: each row of an executemany is a step of its own, and each step
            # hands the GIL over (the crawl's store threads, the reactor wait on it)
            ids = buckets if buckets is not None else _bucket_ids(sig.values)
            self.db.execute(
                f"INSERT OR IGNORE INTO bands (bucket, doc) VALUES {','.join(['(?, ?)'] * len(ids))}",
                [v for b in ids for v in (b, doc)],
            )
        if root is None:
            root = self.root(cluster)
        origin = order_key(when)
        self.db.execute(
            """INSERT INTO clusters (cluster, origin, members, parent) VALUES (?, ?, 1, NULL)
               ON CONFLICT (cluster) DO UPDATE SET members = members + 1,
                   origin = CASE WHEN excluded.origin != '' AND (origin = '' OR excluded.origin < origin)
                                 THEN excluded.origin ELSE origin END""",
            (root, origin),
        )
        return True

    def candidates(
        self, values: np.ndarray, buckets: list[int] | None = None
    ) -> tuple[list[int], np.ndarray, np.ndarray]:
        """(doc ids, signatures matrix, sizes) of the versions sharing an LSH bucket, in doc order."""
        return self.lookup(None, values, buckets)[1]

    def lookup(
        self, key: str | None, values: np.ndarray, buckets: list[int] | None = None
    ) -> tuple[str | None, tuple[list[int], np.ndarray, np.ndarray]]:
        """The cluster written for ``key`` (None: not in the index) and :meth:`candidates`, in one statement.

        Only what the duplicate test reads, from the signature cache where it has them (SIG_CACHE_SLOTS):
        most candidates fail the test, so their keys and clusters are not read (:meth:`names`).
        """
        if buckets is None:
            buckets = _bucket_ids(values)
        # One statement, one row (a statement's steps each hand the GIL over): the key's cluster, and the
        # candidates' doc ids joined by SQLite, made distinct and ordered here.
        written, joined = self.db.execute(
            "SELECT (SELECT cluster FROM docs WHERE key = ?),"
            f" (SELECT group_concat(doc) FROM bands WHERE bucket IN ({','.join('?' * len(buckets))}))",
            [key, *buckets],
        ).fetchone()
        if not joined:
            return written, ([], np.empty((0, NUM_PERM), dtype=np.uint32), np.empty(0, dtype=np.int64))
        ids = np.unique(np.fromstring(joined, dtype=np.int64, sep=","))
        docs = ids.tolist()
        slots = ids % SIG_CACHE_SLOTS
        sigs, sizes = self._slot_sig[slots], self._slot_size[slots]
        missing = np.flatnonzero(self._slot_doc[slots] != ids)
        if missing.size:
            wanted = [docs[i] for i in missing]
            rows = {
                doc: (size, sig)
                for doc, size, sig in self.db.execute(
                    f"SELECT doc, size, sig FROM docs WHERE doc IN ({','.join('?' * len(wanted))})", wanted
                )
            }
            for i in missing:
                doc = docs[i]
                size, sig = rows[doc]
                sigs[i], sizes[i] = np.frombuffer(sig, dtype="<u4"), size
                slot = slots[i]
                self._slot_doc[slot], self._slot_size[slot], self._slot_sig[slot] = doc, size, sigs[i]
        return written, (docs, sigs, sizes)

    def names(self, docs: list[int]) -> dict[int, tuple[str, str, str, str | None]]:
        """doc id -> (key, cluster as written, that cluster's root, the root's origin if read with it:
        None when the cluster was merged, and its root's origin is read by :meth:`origin`) of ``docs``."""
        rows = self.db.execute(
            "SELECT d.doc, d.key, d.cluster, c.parent, c.origin FROM docs d"
            " LEFT JOIN clusters c ON c.cluster = d.cluster"
            f" WHERE d.doc IN ({','.join('?' * len(docs))})",
            docs,
        )
        # a cluster not merged is its own root: no walk up the merges (a statement a step)
        return {
            doc: (key, cluster, cluster, origin or "")
            if parent is None
            else (key, cluster, self.root(cluster), None)
            for doc, key, cluster, parent, origin in rows.fetchall()
        }

    # -- clusters --

    def parent(self, cluster: str) -> str | None:
        row = self.db.execute("SELECT parent FROM clusters WHERE cluster = ?", (cluster,)).fetchone()
        return row[0] if row else None

    def root(self, cluster: str) -> str:
        seen = 0
        while seen < 10_000:
            parent = self.parent(cluster)
            if parent is None:
                return cluster
            cluster, seen = parent, seen + 1
        return cluster

    def origin(self, cluster: str) -> str:
        """The earliest ``when`` of a cluster's members and of everything merged into it (order_key form)."""
        row = self.db.execute("SELECT parent, origin FROM clusters WHERE cluster = ?", (cluster,)).fetchone()
        if row is None:
            return ""  # no row: its own root, with no origin
        if row[0] is None:
            return str(row[1])  # a root: its own origin, read with its parent
        row = self.db.execute(
            "SELECT origin FROM clusters WHERE cluster = ?", (self.root(cluster),)
        ).fetchone()
        return row[0] if row else ""

    def merge(self, cluster: str, into: str) -> None:
        if cluster == into or self.root(into) == cluster or self.parent(cluster) is not None:
            return
        row = self.db.execute("SELECT origin, members FROM clusters WHERE cluster = ?", (cluster,)).fetchone()
        origin, members = row if row else ("", 0)
        self.db.execute(
            """INSERT INTO clusters (cluster, origin, members, parent) VALUES (?, ?, ?, ?)
               ON CONFLICT (cluster) DO UPDATE SET parent = excluded.parent""",
            (cluster, origin, members, into),
        )
        target = self.root(into)
        self.db.execute(
            """INSERT INTO clusters (cluster, origin, members, parent) VALUES (?, ?, ?, NULL)
               ON CONFLICT (cluster) DO UPDATE SET members = members + excluded.members,
                   origin = CASE WHEN excluded.origin != '' AND (origin = '' OR excluded.origin < origin)
                                 THEN excluded.origin ELSE origin END""",
            (target, origin, members),
        )

    def merges(self) -> Iterator[tuple[str, str]]:
        yield from self.db.execute("SELECT cluster, parent FROM clusters WHERE parent IS NOT NULL")


@dataclass
class NearDupIndex:
    """The clusters seen so far; :meth:`assign` places a text (thread-safe).

    ``state_path``: the SQLite file of the index (a crawl: in its spool, kept from crawl to crawl, so a
    store segment is read once); ``None`` keeps it in memory.
    """

    config: NearDupConfig = field(default_factory=NearDupConfig)
    log: EventLog = field(default_factory=MemoryEventLog)
    state_path: str | os.PathLike[str] | None = None
    #: assignments a SQLite transaction takes before it is committed (1: each its own). More is cheaper (a
    #: commit writes every page an assignment touched: ~32 LSH band pages) and safe, the state being a cache
    #: of the log, whose events are journaled first; :meth:`commit` ends the transaction sooner (a crawl: when
    #: no article waits). Only for a log whose lock is this process's: a transaction held open while another
    #: process waits on a shared lock (Redis) could make each wait for the other.
    commit_every: int = 1
    #: nor older than this (seconds), checked at each assignment
    commit_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.commit_every < 1:
            raise ValueError(f"commit_every must be >= 1, got {self.commit_every!r}")
        self._lock = threading.Lock()
        self._uncommitted = 0  # assignments in the open transaction (0: none open)
        self._began = 0.0
        self.state = IndexState(self.state_path)
        self.load()

    def load(self) -> None:
        """Apply the log's segments not applied yet (all of them for a new state), and its journals."""
        with self._lock:
            applied = self.state.applied()
            self.state.begin()
            try:
                for segment, events in self.log.load(applied):
                    for event in events:
                        self._apply(event)
                    if segment is not None:
                        self.state.mark_applied([segment])
            finally:
                self.state.commit()

    def __len__(self) -> int:
        with self._lock:
            return len(self.state)

    # -- signatures and the duplicate test --

    def signature(self, text: str) -> Signature:
        """The MinHash signature of ``text`` (see :func:`signature`)."""
        return signature(text)

    def similarity(self, a: Signature, b: Signature) -> tuple[float, float]:
        """Estimated (Jaccard, containment of the smaller in the larger) of two signatures."""
        jaccard = float(np.mean(a.values == b.values))
        smaller = min(a.size, b.size)
        if not smaller:
            return jaccard, 0.0
        shared = jaccard * (a.size + b.size) / (1.0 + jaccard)
        return jaccard, min(1.0, shared / smaller)

    # -- cluster bookkeeping --

    def root(self, cluster: str) -> str:
        """The cluster ``cluster`` now belongs to, after all merges."""
        with self._lock:
            return self.state.root(cluster)

    def cluster_of(self, key: str) -> str | None:
        """The cluster written for ``key`` (as written: not resolved through merges)."""
        with self._lock:
            return self.state.cluster_of(key)

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("t")
        if kind == "doc":
            sig = Signature.decode(event["sig"], int(event["size"]))
            self.state.add(
                event["key"],
                sig,
                event["cluster"],
                event.get("when") or "",
                indexed=sig.size >= self.config.min_shingles,
            )
        elif kind == "merge":
            self.state.merge(event["cluster"], event["into"])
        else:
            logger.warning("near-duplicate index: unknown event %r skipped", kind)

    def _earliest(self, origins: dict[str, str | None]) -> tuple[str, str]:
        """The cluster (a root) with the earliest origin, and that origin; ``origins``: each root's origin
        when known already (None: read here)."""
        known = {
            name: origin if origin is not None else self.state.origin(name)
            for name, origin in origins.items()
        }
        name = min(known, key=lambda n: (0 if known[n] else 1, known[n], n))
        return name, str(known[name])

    # -- the one public write --

    def assign(
        self, key: str, text: str, when: str | None = None, *, signature: Signature | None = None
    ) -> Assignment:
        """Place ``key`` (one article version) with ``text`` in a cluster and log it; see the module doc.

        ``when`` orders clusters (ISO 8601: the published date, else the fetch time). Assigning a key the
        index already holds changes nothing and returns its cluster (``known``): a resumed crawl may store
        an article a second time.
        """
        sig = signature if signature is not None else self.signature(text)
        with self._lock, self.log.lock():
            if not self._uncommitted:
                self.state.begin()
                self._began = time.monotonic()
            self._uncommitted += 1
            done = False
            try:
                assignment = self._assign(key, sig, when or "")
                done = True
                return assignment
            finally:
                if (
                    not done
                    or self._uncommitted >= self.commit_every
                    or time.monotonic() - self._began >= self.commit_seconds
                ):
                    self._commit()

    def _commit(self) -> None:
        if self._uncommitted:
            self._uncommitted = 0
            self.state.commit()

    def commit(self) -> None:
        """End the open transaction, if any (see ``commit_every``)."""
        with self._lock:
            self._commit()

    def _assign(self, key: str, sig: Signature, when: str) -> Assignment:
        for event in self.log.sync():
            self._apply(event)
        best: tuple[float, str] | None = None
        matched: dict[str, str | None] = {}  # the roots matched, with their origins when read already
        indexed = sig.size >= self.config.min_shingles
        buckets = _bucket_ids(sig.values) if indexed else None
        if indexed:
            written, (docs, sigs, sizes) = self.state.lookup(key, sig.values, buckets)
        else:
            written, docs = self.state.cluster_of(key), []
        if written is not None:
            return Assignment(key=key, cluster=written, known=True)
        if docs:
            # every candidate checked at once: estimated Jaccard, then containment in the smaller
            jaccard = (sigs == sig.values).mean(axis=1)
            smaller = np.maximum(np.minimum(sizes, sig.size), 1)
            contained = np.minimum(1.0, jaccard * (sizes + sig.size) / (1.0 + jaccard) / smaller)
            copies = np.flatnonzero((jaccard >= self.config.jaccard) | (contained >= self.config.containment))
            if copies.size:
                scores = np.maximum(jaccard, contained)
                names = self.state.names([docs[i] for i in copies])
                for i in copies:
                    name, _written, found, origin = names[docs[i]]
                    if matched.get(found) is None:
                        matched[found] = origin
                    if best is None or scores[i] > best[0]:
                        best = (float(scores[i]), name)
        absorbed: list[str] = []
        if not matched:
            cluster = key
        else:
            cluster, origin = self._earliest(matched)
            mine = order_key(when)
            if mine and (not origin or mine < origin):
                # Published before everything it matched: it names the story; the rest is merged into it.
                cluster, absorbed = key, sorted(matched)
            else:
                absorbed = sorted(set(matched) - {cluster})
        root = cluster  # a new key, or a root matched: add() need not look it up
        event = {"t": "doc", "key": key, "cluster": cluster, "when": when, "size": sig.size}
        # the journal first: a run killed between the two has the event, and applies it on restart
        self.log.append({**event, "sig": sig.encode()})
        self.state.add(key, sig, cluster, when, indexed=indexed, buckets=buckets, root=root)
        merges: list[Merge] = []
        at = _now() if absorbed else ""
        for other in absorbed:
            self.log.append({"t": "merge", "cluster": other, "into": cluster, "when": at})
            self.state.merge(other, cluster)
            merges.append(Merge(cluster=other, into=cluster, at=at))
        return Assignment(
            key=key, cluster=cluster, duplicate_of=best[1] if best else None, merges=tuple(merges)
        )

    def merges(self) -> Iterator[Merge]:
        """Every merge known (from this process and the log)."""
        with self._lock:
            found = list(self.state.merges())
        for cluster, into in found:
            yield Merge(cluster=cluster, into=into, at="")

    def flush(self) -> None:
        """Hand this process's new events to the log's permanent home."""
        with self._lock:
            self._commit()
            written = self.log.flush()
            # This run's own events are applied already: the segments they went to need no reading.
            self.state.mark_applied(written)

    def mark_applied(self, segments: Iterable[str]) -> None:
        """``segments`` hold events this index has applied already (its own, handed over by another
        process): a later load does not read them."""
        with self._lock:
            self._commit()
            self.state.mark_applied(segments)

    def close(self) -> None:
        """Flush, let go of the log (a Redis reader stops holding the list's trimming back) and the state."""
        self.flush()
        with self._lock:
            self.log.close()
            self.state.close()


# --- Persistence ---------------------------------------------------------------------------------------


class ObjectReader(Protocol):
    """What the index reads from the archive store."""

    def get_bytes(self, key: str) -> bytes | None: ...

    def list(self, prefix: str = "") -> Iterator[str]: ...


class ObjectSink(Protocol):
    """Where new segments go: the crawl's storage (spool, checksums, no overwrite) or a store."""

    def put_bytes(self, key: str, data: bytes, *, content_type: str = ...) -> object: ...


def parse_lines(data: bytes, origin: str) -> Iterator[dict[str, Any]]:
    """Events of one JSON Lines segment; a torn or bad line is logged and skipped."""
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            logger.warning("%s line %d: not JSON (a torn write?), skipped", origin, number)
            continue
        if isinstance(event, dict):
            yield event


def segment_manifests(reader: ObjectReader) -> dict[str, list[str]]:
    """Compacted segment -> the segments it supersedes (``state/neardup-manifests/*.json``)."""
    found: dict[str, list[str]] = {}
    for key in sorted(reader.list(SEGMENT_MANIFESTS)):
        data = reader.get_bytes(key) if key.endswith(".json") else None
        if not data:
            continue
        try:
            manifest = json.loads(data)
            found[str(manifest["segment"])] = [str(k) for k in manifest["supersedes"]]
        except (ValueError, KeyError, TypeError):
            logger.warning("near-duplicate manifest %s unreadable; ignored", key)
    return found


def live_segments(reader: ObjectReader) -> tuple[list[str], dict[str, list[str]]]:
    """The segments to read (every one, less those a compaction superseded) and the compactions."""
    manifests = segment_manifests(reader)
    gone = {k for old in manifests.values() for k in old}
    listed = sorted(k for k in reader.list(SEGMENT_PREFIX) if k.endswith(".jsonl"))
    present = set(listed)
    # a manifest whose compacted segment is not there (yet) supersedes nothing
    gone = {k for segment, old in manifests.items() if segment in present for k in old}
    return [k for k in listed if k not in gone], manifests


@dataclass
class SegmentCompaction:
    segment: str | None = None
    manifest: str | None = None
    superseded: list[str] = field(default_factory=list)
    docs: int = 0
    merges: int = 0


def compact_segments(reader: ObjectReader, sink: ObjectSink, *, minimum: int = 2) -> SegmentCompaction:
    """Merge the live segments into one (each version once, each merge once) and write a manifest naming
    the segments it supersedes; nothing is deleted or rewritten. Fewer than ``minimum`` live: nothing."""
    segments, _ = live_segments(reader)
    result = SegmentCompaction()
    if len(segments) < minimum:
        return result
    lines: list[str] = []
    seen_docs: set[str] = set()
    seen_merges: set[tuple[str, str]] = set()
    for key in segments:
        data = reader.get_bytes(key)
        if data is None:
            raise RuntimeError(f"{key} is listed but cannot be read: compaction stopped, nothing superseded")
        for event in parse_lines(data, key):
            if event.get("t") == "doc":
                if event.get("key") in seen_docs:
                    continue
                seen_docs.add(event["key"])
            elif event.get("t") == "merge":
                pair = (str(event.get("cluster")), str(event.get("into")))
                if pair in seen_merges:
                    continue
                seen_merges.add(pair)
            lines.append(json.dumps(event, ensure_ascii=False))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    segment = f"{SEGMENT_PREFIX}compact-{stamp}.jsonl"
    sink.put_bytes(segment, ("\n".join(lines) + "\n").encode("utf-8"), content_type="application/x-ndjson")
    manifest = {"created": _now(), "segment": segment, "supersedes": segments}
    result.manifest = f"{SEGMENT_MANIFESTS}{stamp}.json"
    sink.put_bytes(
        result.manifest,
        json.dumps(manifest, ensure_ascii=False, indent=1).encode(),
        content_type="application/json",
    )
    result.segment, result.superseded = segment, segments
    result.docs, result.merges = len(seen_docs), len(seen_merges)
    return result


class StoreEventLog:
    """Events kept as append-only segments in the archive store, with a local journal for this run.

    New events go to ``<work_dir>/journal-*.jsonl`` (flushed per event, so a killed crawl keeps them);
    :meth:`flush` hands the journal to ``sink`` as ``state/neardup/<part>-<stamp>.jsonl`` and starts a new
    one. Journals a killed run left behind are loaded and handed over at the next flush. Segments that a
    compaction superseded are not read; a compacted segment whose superseded segments were all applied
    is marked applied without reading.
    """

    def __init__(
        self,
        reader: ObjectReader | None,
        sink: ObjectSink | None,
        work_dir: str | os.PathLike[str],
        part_name: str,
    ) -> None:
        self.reader = reader
        self.sink = sink
        self.work_dir = Path(work_dir)
        self.part_name = part_name
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._journal: Path | None = None
        self._fh: Any = None
        self._count = 0

    def load(self, skip: Collection[str] = ()) -> Iterable[tuple[str | None, Events]]:
        if self.reader is not None:
            segments, manifests = live_segments(self.reader)
            for key in segments:
                if key in skip:
                    continue
                if key in manifests and all(old in skip for old in manifests[key]):
                    yield key, ()
                    continue
                data = self.reader.get_bytes(key)
                yield key, parse_lines(data, key) if data else ()
        for path in sorted(self.work_dir.glob("journal-*.jsonl")):
            yield None, parse_lines(path.read_bytes(), str(path))

    def sync(self) -> Events:
        return []

    def lock(self) -> Any:
        return _NoLock()

    def append(self, event: dict[str, Any]) -> None:
        if self._fh is None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            self._journal = self.work_dir / f"journal-{stamp}-{os.getpid()}.jsonl"
            self._fh = open(self._journal, "a", encoding="utf-8")  # noqa: SIM115 (closed in flush)
        self._fh.write(json.dumps(event, ensure_ascii=False) + "\n")
        self._fh.flush()
        self._count += 1

    def flush(self) -> list[str]:
        if self.sink is None:
            self.journals()  # the journal is closed all the same: the next event starts a new one
            return []
        return hand_over(self.journals(), self.sink)

    def journals(self) -> list[tuple[str, Path]]:
        """Close the open journal and name every journal of the work dir: (segment key, path), oldest first.

        The next event starts a new journal, so the ones named can be handed over (:func:`hand_over`)
        from another process than the one writing events (``crawler.corpus_index``).
        """
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._journal = None
        return [
            (f"{SEGMENT_PREFIX}{self.part_name}-{path.stem.removeprefix('journal-')}.jsonl", path)
            for path in sorted(self.work_dir.glob("journal-*.jsonl"))
        ]

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def hand_over(journals: Iterable[tuple[str, Path]], sink: ObjectSink) -> list[str]:
    """Each closed journal to ``sink`` as its segment, then removed (an empty one only removed); returns
    the segment keys written. A journal whose write fails stays, for the next hand-over."""
    written = []
    for key, path in journals:
        data = path.read_bytes()
        if data:
            sink.put_bytes(key, data, content_type="application/x-ndjson")
            written.append(key)
        path.unlink()
    return written


# Redis scripts: each runs atomically, so a read, a push or a join never meets half a trim.
_JOIN = """
local base = tonumber(redis.call('GET', KEYS[1]) or '0')
redis.call('HSET', KEYS[2], ARGV[1], base .. ' ' .. ARGV[2])
return base
"""
_READ = """
local base = tonumber(redis.call('GET', KEYS[2]) or '0')
local start = tonumber(ARGV[1]) - base
if start < 0 then start = 0 end
return {base, redis.call('LRANGE', KEYS[1], start, -1)}
"""
_PUSH = """
local length = redis.call('RPUSH', KEYS[1], ARGV[1])
return tonumber(redis.call('GET', KEYS[2]) or '0') + length - 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _in_store(reader: ObjectReader, key: str) -> bool:
    try:
        return any(found == key for found in reader.list(key))
    except Exception as exc:  # the store is down: not known to be there
        logger.debug("near-duplicate segment %s not checked in the store: %s", key, exc)
        return False


class RedisEventLog:
    """Events shared by the workers of a distributed crawl (a Redis list), on top of a store log.

    Each worker keeps its own events in its store segments too (``store_log``); the Redis list makes them
    visible to the other workers while the crawl runs. ``assign`` holds a Redis lock, so two workers never
    found two clusters for one story at the same moment.

    The list does not grow forever, and trimming it loses no event for anyone:

    - each event names its writer (``w``); a writer's :meth:`flush` hands its events to its segments and
      records them as pending (``<ns>:neardup:pending``: the writer's last position and the segment keys);
      they count as stored (``<ns>:neardup:flushed``) only once a trimming worker *finds those segments in
      the store*: a crawl's segments wait in its spool until uploaded, and a worker joining meanwhile reads
      the store, where they are not yet;
    - each reader records how far it has read (``<ns>:neardup:readers``, with the time; a reader silent for
      ``reader_ttl`` seconds, or closed, no longer counts), registering *before* it reads the store's
      segments, at the list's base then: what is pushed after the store listing cannot be trimmed before
      it has read it;
    - the head of the list that is both stored and read by every reader is trimmed, and ``<ns>:neardup:base``
      counts what was trimmed (positions stay absolute); the trim (one MULTI), a read (base and events in
      one script) and a push are each atomic, so a read meeting a trim (a stalled worker's lock expired)
      still starts at its own position. A reader trimmed past (silent too long) reads the store again.
    """

    def __init__(
        self,
        client: Any,
        namespace: str,
        store_log: StoreEventLog | MemoryEventLog,
        *,
        writer: str | None = None,
        reader_ttl: float = 600.0,
        lock_timeout: float = 5.0,
    ) -> None:
        self.client = client
        self.key = f"{namespace}:neardup:events"
        self.lock_key = f"{namespace}:neardup:lock"
        self.base_key = f"{namespace}:neardup:base"
        self.readers_key = f"{namespace}:neardup:readers"
        self.flushed_key = f"{namespace}:neardup:flushed"
        self.pending_key = f"{namespace}:neardup:pending"
        self.store_log = store_log
        self.writer = writer or f"{getattr(store_log, 'part_name', 'w')}-{os.getpid()}"
        self.reader_ttl = reader_ttl
        self.lock_timeout = lock_timeout
        self._offset = 0  # absolute position of the next event to read
        self._last = -1  # absolute position of this writer's last event
        self._reported = 0.0
        self._pending: list[tuple[int, list[str]]] = []  # (last position, segments) not known stored
        self._join = client.register_script(_JOIN)
        self._read = client.register_script(_READ)
        self._push = client.register_script(_PUSH)

    def _base(self) -> int:
        return int(self.client.get(self.base_key) or 0)

    def load(self, skip: Collection[str] = ()) -> Iterable[tuple[str | None, Events]]:
        # Registered first, at the list's base: from here on nothing is trimmed before this reader read it,
        # and what was trimmed before is in the store's segments, listed next.
        now = time.time()
        self._offset = int(
            self._join(keys=[self.base_key, self.readers_key], args=[self.writer, f"{now:.0f}"])
        )
        self._reported = now
        yield from self.store_log.load(skip)
        yield None, self.sync()

    def sync(self) -> Events:
        base, raw = self._read(keys=[self.key, self.base_key], args=[self._offset])
        base = int(base)
        events: list[dict[str, Any]] = []
        if self._offset < base:
            # Trimmed past us (silent longer than reader_ttl): what we missed is in the store's segments.
            logger.warning("near-duplicate Redis list trimmed past this reader: segments read again")
            events = [e for _, batch in self.store_log.load() for e in batch]
            self._offset = base
        self._offset += len(raw)
        self._seen(force=bool(raw))
        data = b"\n".join(r if isinstance(r, bytes) else r.encode() for r in raw)
        return events + list(parse_lines(data, self.key))

    def _seen(self, *, force: bool) -> None:
        # how far this reader has read, and that it is alive (every minute at least)
        now = time.time()
        if force or now - self._reported >= 60:
            self.client.hset(self.readers_key, self.writer, f"{self._offset} {now:.0f}")
            self._reported = now

    def append(self, event: dict[str, Any]) -> None:
        event = {**event, "w": self.writer}
        self.store_log.append(event)
        self._last = int(
            self._push(keys=[self.key, self.base_key], args=[json.dumps(event, ensure_ascii=False)])
        )
        self._offset = max(self._offset, self._last + 1)

    def flush(self) -> list[str]:
        written = self.store_log.flush()
        if written and self._last >= 0:
            self._pending.append((self._last, written))
        if self._pending:
            stored = int(self.client.hget(self.flushed_key, self.writer) or -1)
            self._pending = [(last, keys) for last, keys in self._pending if last > stored]
            if self._pending:
                self.client.hset(self.pending_key, self.writer, json.dumps(self._pending))
        with self.lock():
            self._seen(force=True)
            self.trim()
        return written

    def _confirm(self) -> dict[str, int]:
        """Writers' pending segments found in the store become stored; every writer's stored position."""
        flushed = {_text(k): int(v) for k, v in self.client.hgetall(self.flushed_key).items()}
        reader = getattr(self.store_log, "reader", None)
        if reader is None:  # the store is not readable from here: another worker confirms
            return flushed
        for name, value in self.client.hgetall(self.pending_key).items():
            writer = _text(name)
            stored = flushed.get(writer, -1)
            entries = [(int(last), list(keys)) for last, keys in json.loads(value)]
            for last, keys in entries:
                if last <= stored:
                    continue
                if not all(_in_store(reader, key) for key in keys):
                    break
                stored = last
            if stored > flushed.get(writer, -1):
                self.client.hset(self.flushed_key, writer, stored)
                flushed[writer] = stored
            if all(last <= stored for last, _ in entries):
                # all stored (the writer writes its whole pending list again at its next flush)
                self.client.hdel(self.pending_key, writer)
        return flushed

    def trim(self) -> int:
        """Drop the head of the list that every writer stored and every reader read; how many."""
        base = self._base()
        now = time.time()
        bound = None
        for name, value in self.client.hgetall(self.readers_key).items():
            offset, _, seen = _text(value).partition(" ")
            if now - float(seen or 0) > self.reader_ttl:
                self.client.hdel(self.readers_key, name)
                continue
            bound = int(offset) if bound is None else min(bound, int(offset))
        length = int(self.client.llen(self.key))
        end = base + length if bound is None else min(bound, base + length)
        if end <= base:
            return 0
        flushed = self._confirm()
        count = 0
        for position, raw in enumerate(self.client.lrange(self.key, 0, end - base - 1), base):
            try:
                writer = json.loads(raw).get("w")
            except ValueError:
                writer = None
            if writer is not None and flushed.get(writer, -1) < position:
                break
            count += 1
        if count:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.ltrim(self.key, count, -1)
                pipe.incrby(self.base_key, count)
                pipe.execute()
        return count

    def close(self) -> None:
        self.client.hdel(self.readers_key, self.writer)
        self.store_log.close()

    def lock(self) -> Any:
        # A worker killed (or stalled) while holding it stalls the others for at most `lock_timeout` s.
        return _RedisLock(
            self.client.lock(self.lock_key, timeout=self.lock_timeout, blocking_timeout=30), self.lock_timeout
        )


class _RedisLock:
    """The Redis lock as a context manager whose release does not raise when it expired meanwhile."""

    def __init__(self, lock: Any, timeout: float) -> None:
        self.lock = lock
        self.timeout = timeout

    def __enter__(self) -> None:
        from redis.exceptions import LockError

        if not self.lock.acquire():
            raise LockError("the near-duplicate index's Redis lock was not acquired in time")

    def __exit__(self, *exc: object) -> None:
        from redis.exceptions import LockNotOwnedError

        try:
            self.lock.release()
        except LockNotOwnedError:
            logger.warning(
                "near-duplicate Redis lock expired while held (a stall longer than %.1f s): another worker "
                "may have assigned a copy of the same story meanwhile",
                self.timeout,
            )
