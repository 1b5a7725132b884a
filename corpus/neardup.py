"""Near-duplicate clusters: agency copy on several sites, lightly edited, shortened, across crawls.

Each article version is reduced to a MinHash signature (``corpus.minhash``, ``NUM_PERM`` permutations) of
its word shingles (``corpus.shingles``: Arabic-normalised, as relevance normalises). Candidates come from
LSH (``corpus.minhash.BandIndex``, ``LSH_BANDS`` bands of ``LSH_ROWS`` values: tuned for recall down to a
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
(``when``: the published date, else the fetch time) is earliest, and the others are *merged* into it.
A row's cluster is never changed after it is written: a merge is an event (``Merge``) that goes into the
cluster-mapping table, and readers resolve a cluster through it (:meth:`NearDupIndex.root`).

The index is an event log (``doc`` and ``merge`` events, JSON), so it persists as append-only segments in
the archive store (``state/neardup/<part>-<seq>.jsonl``, see :class:`StoreEventLog`) and, in a distributed
crawl, in a Redis list shared by the workers (:class:`RedisEventLog`): a copy published next week, or
fetched by another worker, joins this one's cluster. This module reads no settings.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from corpus.minhash import NUM_PERM, BandIndex, minhash
from corpus.shingles import shingles

logger = logging.getLogger(__name__)

LSH_ROWS = 2
LSH_BANDS = 32
SEGMENT_PREFIX = "state/neardup/"


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


class EventLog(Protocol):
    """Where index events are kept; ``sync`` returns events other writers added since the last call."""

    def load(self) -> Iterable[dict[str, Any]]: ...

    def sync(self) -> Iterable[dict[str, Any]]: ...

    def append(self, event: dict[str, Any]) -> None: ...

    def flush(self) -> None: ...

    def lock(self) -> Any: ...


class MemoryEventLog:
    """No persistence: one process, one run (evaluation, benchmarks, tests of the rules)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def load(self) -> Iterable[dict[str, Any]]:
        return []

    def sync(self) -> Iterable[dict[str, Any]]:
        return []

    def append(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def flush(self) -> None:
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


@dataclass
class _Cluster:
    origin: str  # earliest ``when`` of a member
    members: int = 0


@dataclass
class NearDupIndex:
    """The clusters seen so far; :meth:`assign` places a text (thread-safe)."""

    config: NearDupConfig = field(default_factory=NearDupConfig)
    log: EventLog = field(default_factory=MemoryEventLog)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._lsh = BandIndex(LSH_BANDS, LSH_ROWS)
        # One row per version: signatures in one matrix (a numpy array per document costs 5x the memory).
        self._ids: dict[str, int] = {}
        self._keys: list[str] = []
        self._cluster_of: list[str] = []
        self._sigs = np.empty((1024, NUM_PERM), dtype=np.uint32)
        self._sizes = np.empty(1024, dtype=np.int64)
        self._clusters: dict[str, _Cluster] = {}
        self._parent: dict[str, str] = {}  # merged cluster -> the cluster it was merged into
        for event in self.log.load():
            self._apply(event)

    def __len__(self) -> int:
        return len(self._keys)

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
        seen = 0
        while cluster in self._parent and seen < 10_000:
            cluster = self._parent[cluster]
            seen += 1
        return cluster

    def cluster_of(self, key: str) -> str | None:
        """The cluster written for ``key`` (as written: not resolved through merges)."""
        doc = self._ids.get(key)
        return self._cluster_of[doc] if doc is not None else None

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("t")
        if kind == "doc":
            key = event["key"]
            if key in self._ids:
                return
            sig = Signature.decode(event["sig"], int(event["size"]))
            cluster, when = event["cluster"], event.get("when") or ""
            self._add(key, sig, cluster, when)
        elif kind == "merge":
            self._merge(event["cluster"], event["into"])
        else:
            logger.warning("near-duplicate index: unknown event %r skipped", kind)

    def _add(self, key: str, sig: Signature, cluster: str, when: str) -> None:
        doc = len(self._keys)
        if doc == len(self._sizes):
            self._sigs = np.concatenate([self._sigs, np.empty_like(self._sigs)])
            self._sizes = np.concatenate([self._sizes, np.empty_like(self._sizes)])
        self._sigs[doc] = sig.values
        self._sizes[doc] = sig.size
        self._ids[key] = doc
        self._keys.append(key)
        self._cluster_of.append(cluster)
        info = self._clusters.get(self.root(cluster))
        if info is None:
            self._clusters[cluster] = _Cluster(origin=when, members=1)
        else:
            info.members += 1
            if when and (not info.origin or when < info.origin):
                info.origin = when
        if sig.size >= self.config.min_shingles:
            self._lsh.insert(doc, sig.values)

    def _origin(self, cluster: str) -> str:
        # The earliest member of a cluster and of everything merged into it (kept on the root by _merge).
        info = self._clusters.get(self.root(cluster))
        return info.origin if info else ""

    def _merge(self, cluster: str, into: str) -> None:
        if cluster == into or self.root(into) == cluster or cluster in self._parent:
            return
        self._parent[cluster] = into
        source, target = self._clusters.get(cluster), self._clusters.get(self.root(into))
        if source is not None and target is not None:
            target.members += source.members
            if source.origin and (not target.origin or source.origin < target.origin):
                target.origin = source.origin

    def _earliest(self, clusters: Iterable[str]) -> str:
        def order(name: str) -> tuple[int, str, str]:
            origin = self._origin(name)
            return (0 if origin else 1, origin, name)

        return min(clusters, key=order)

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
            for event in self.log.sync():
                self._apply(event)
            if key in self._ids:
                return Assignment(key=key, cluster=self._cluster_of[self._ids[key]], known=True)
            best: tuple[float, str] | None = None
            matched: set[str] = set()
            if sig.size >= self.config.min_shingles:
                candidates = np.fromiter(sorted(self._lsh.query(sig.values)), dtype=np.int64)
                if candidates.size:
                    # every candidate checked at once: estimated Jaccard, then containment in the smaller
                    jaccard = (self._sigs[candidates] == sig.values).mean(axis=1)
                    sizes = self._sizes[candidates]
                    smaller = np.maximum(np.minimum(sizes, sig.size), 1)
                    contained = np.minimum(1.0, jaccard * (sizes + sig.size) / (1.0 + jaccard) / smaller)
                    copies = (jaccard >= self.config.jaccard) | (contained >= self.config.containment)
                    for doc, score in zip(
                        candidates[copies], np.maximum(jaccard, contained)[copies], strict=True
                    ):
                        matched.add(self.root(self._cluster_of[doc]))
                        if best is None or score > best[0]:
                            best = (float(score), self._keys[doc])
            merges: list[Merge] = []
            if not matched:
                cluster = key
            else:
                cluster = self._earliest(matched)
                at = _now()
                for other in sorted(matched - {cluster}):
                    merge = Merge(cluster=other, into=cluster, at=at)
                    self._merge(other, cluster)
                    self.log.append({"t": "merge", "cluster": other, "into": cluster, "when": at})
                    merges.append(merge)
            self._add(key, sig, cluster, when or "")
            self.log.append(
                {
                    "t": "doc",
                    "key": key,
                    "cluster": cluster,
                    "when": when or "",
                    "size": sig.size,
                    "sig": sig.encode(),
                }
            )
        return Assignment(
            key=key, cluster=cluster, duplicate_of=best[1] if best else None, merges=tuple(merges)
        )

    def merges(self) -> Iterator[Merge]:
        """Every merge known (from this process and the log)."""
        for cluster, into in self._parent.items():
            yield Merge(cluster=cluster, into=into, at="")

    def flush(self) -> None:
        """Hand this process's new events to the log's permanent home."""
        with self._lock:
            self.log.flush()


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


class StoreEventLog:
    """Events kept as append-only segments in the archive store, with a local journal for this run.

    New events go to ``<work_dir>/journal-*.jsonl`` (flushed per event, so a killed crawl keeps them);
    :meth:`flush` hands the journal to ``sink`` as ``state/neardup/<part>-<stamp>.jsonl`` and starts a new
    one. Journals a killed run left behind are loaded and handed over at the next flush.
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
        self._seq = 0

    def load(self) -> Iterable[dict[str, Any]]:
        if self.reader is not None:
            for key in sorted(self.reader.list(SEGMENT_PREFIX)):
                if key.endswith(".jsonl"):
                    data = self.reader.get_bytes(key)
                    if data:
                        yield from parse_lines(data, key)
        for path in sorted(self.work_dir.glob("journal-*.jsonl")):
            yield from parse_lines(path.read_bytes(), str(path))

    def sync(self) -> Iterable[dict[str, Any]]:
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

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self.sink is None:
            return
        for path in sorted(self.work_dir.glob("journal-*.jsonl")):
            data = path.read_bytes()
            if data:
                self._seq += 1
                stamp = path.stem.removeprefix("journal-")
                self.sink.put_bytes(
                    f"{SEGMENT_PREFIX}{self.part_name}-{stamp}.jsonl",
                    data,
                    content_type="application/x-ndjson",
                )
            path.unlink()
        self._journal = None


class RedisEventLog:
    """Events shared by the workers of one distributed crawl (a Redis list), on top of a store log.

    Each worker keeps its own events in its store segments too (``store_log``); the Redis list makes them
    visible to the other workers while the crawl runs. ``assign`` holds a Redis lock, so two workers never
    found two clusters for one story at the same moment.
    """

    def __init__(self, client: Any, namespace: str, store_log: StoreEventLog | MemoryEventLog) -> None:
        self.client = client
        self.key = f"{namespace}:neardup:events"
        self.lock_key = f"{namespace}:neardup:lock"
        self.store_log = store_log
        self._offset = 0

    def load(self) -> Iterable[dict[str, Any]]:
        yield from self.store_log.load()
        yield from self.sync()

    def sync(self) -> Iterable[dict[str, Any]]:
        raw = self.client.lrange(self.key, self._offset, -1)
        self._offset += len(raw)
        return list(parse_lines(b"\n".join(r if isinstance(r, bytes) else r.encode() for r in raw), self.key))

    def append(self, event: dict[str, Any]) -> None:
        self.store_log.append(event)
        self.client.rpush(self.key, json.dumps(event, ensure_ascii=False))
        self._offset += 1

    def flush(self) -> None:
        self.store_log.flush()

    def lock(self) -> Any:
        # A worker killed while holding it stalls the others for at most `timeout` seconds.
        return self.client.lock(self.lock_key, timeout=5, blocking_timeout=30)
