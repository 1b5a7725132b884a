"""The crawl's near-duplicate index in a process of its own (``IndexProcess``), off the crawler's process.

An assignment is a dozen SQLite statements and a few numpy calls. In a crawl they cost 1.6-1.8 ms of
thread CPU an article (three times what they cost alone: the cores are shared with the reactor, the
store's threads, the extraction workers and Chromium), all of it in the process whose reactor thread
paces the crawl, each statement handing the GIL over and back. Here the index
(``corpus.neardup.NearDupIndex``: the same SQLite state in the spool, the same journal of events) lives in
one child process, and an assignment costs the crawler's process one message each way on a pipe: the
key, the signature, the date; back the cluster, the version it matched and the merges. The child's work
is no cheaper than it was (measured: bigsite, 3,000 articles), it is only off the crawler's process.

- **Start**: the crawler's process applies the store's segments and a killed run's journals to the state
  (``NearDupIndex`` as before, then closed), so the child starts from an up-to-date state and reads nothing
  from the store; it writes its events to journals in the same work dir, flushed per event.
- **Hand-over**: ``flush`` asks the child to close its journal and name the closed ones; the crawler's
  process hands them to the crawl's storage (spool, checksums, no overwrite: ``corpus.neardup.hand_over``)
  and tells the child which segments now hold its events.
- **Failure**: a child that dies (killed, out of memory) is replaced by the index in the crawler's process,
  on the same state and journals (nothing the child journaled is lost), with a warning and
  ``corpus/index_process_lost``. The child dies with the crawl (``crawler.lifetime``).

A distributed crawl keeps the index in the crawler's process: each assignment holds the workers' shared
Redis lock and reads their events first (``corpus.neardup.RedisEventLog``). Reads no settings.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from corpus.neardup import (
    Assignment,
    Merge,
    NearDupConfig,
    NearDupIndex,
    ObjectSink,
    Signature,
    StoreEventLog,
    hand_over,
)
from corpus.neardup import signature as text_signature
from crawler.lifetime import die_with_parent

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: how long the crawler waits for the child to load its state and answer that it is ready
START_SECONDS = 120.0


class IndexProcessError(RuntimeError):
    """The index process refused a request (the error it raised, by name and message)."""


def serve(
    conn: Connection,
    config: NearDupConfig,
    state_path: str,
    work_dir: str,
    part_name: str,
    commit_every: int,
    parent_pid: int,
) -> None:
    """The child's loop: one request at a time, each answered ``("ok", value)`` or ``("error", text)``.

    Ctrl-C and SIGTERM sent to the crawl's process group are the crawler's to handle (a graceful stop that
    flushes and closes this child); the child ends when the crawler closes it, lets go of the pipe or dies.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent(parent_pid)
    log = StoreEventLog(None, None, work_dir, part_name)
    index = NearDupIndex(config, log, state_path, commit_every=commit_every)
    conn.send(("ok", None))
    closed = False
    try:
        while True:
            try:
                request = conn.recv()
            except EOFError:  # the crawler let go of the pipe (or died): commit what is not yet
                return
            op = request[0]
            try:
                if op == "assign":
                    _, key, values, size, when = request
                    sig = Signature(np.frombuffer(values, dtype="<u4").astype(np.uint32), size)
                    found = index.assign(key, "", when, signature=sig)
                    merges = [(m.cluster, m.into, m.at) for m in found.merges]
                    reply: Any = (found.cluster, found.duplicate_of, merges, found.known)
                elif op == "commit":
                    index.commit()
                    reply = None
                elif op == "journals":
                    index.commit()
                    reply = [(key, str(path)) for key, path in log.journals()]
                elif op == "applied":
                    index.mark_applied(request[1])
                    reply = None
                elif op == "len":
                    reply = len(index)
                elif op == "close":
                    index.commit()
                    index.state.close()
                    closed = True
                    conn.send(("ok", None))
                    return
                else:
                    raise ValueError(f"unknown request {op!r}")
            except Exception as exc:
                logger.exception("near-duplicate index process: %s failed", op)
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
                continue
            conn.send(("ok", reply))
    finally:
        if not closed:
            index.commit()
            index.state.close()


class IndexProcess:
    """``NearDupIndex``'s crawl-time interface (``assign``, ``commit``, ``flush``, ``close``, ``len``),
    served by a child process (module docstring). Thread-safe: one request at a time on the pipe.

    ``sink``: where ``flush`` hands the journals (the crawl's storage); ``on_lost``: called once if the child
    dies (a stats counter).
    """

    def __init__(
        self,
        config: NearDupConfig,
        state_path: str | os.PathLike[str],
        work_dir: str | os.PathLike[str],
        part_name: str,
        sink: ObjectSink,
        *,
        commit_every: int = 1,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.state_path = str(state_path)
        self.work_dir = str(work_dir)
        self.part_name = part_name
        self.sink = sink
        self.commit_every = commit_every
        self.on_lost = on_lost
        self._lock = threading.Lock()
        self._local: NearDupIndex | None = None  # the index in this process, once the child is lost
        ctx = multiprocessing.get_context("spawn")  # this process runs threads: never fork it
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(
            target=serve,
            args=(child, config, self.state_path, self.work_dir, part_name, commit_every, os.getpid()),
            name="corpus-index",
            daemon=True,
        )
        self._process.start()
        child.close()  # ours is the only end left in this process: the child's death reads as EOF
        # A crawl that stops before it opens (a bad setting in a later component) never calls close(); at
        # exit multiprocessing would SIGTERM the child, which ignores it, and wait for it for ever. This
        # runs first (atexit is last in, first out) and lets go of the pipe: the child commits and ends.
        atexit.register(self._at_exit)
        try:
            if not self._conn.poll(START_SECONDS):
                self._lost(f"not ready in {START_SECONDS:.0f} s")
                return
            self._call("start", self._reply)
        except _Lost:
            pass

    @property
    def pid(self) -> int | None:
        """The child's pid (None once it is lost)."""
        return self._process.pid if self._local is None else None

    def _reply(self) -> Any:
        status, value = self._conn.recv()
        if status != "ok":
            raise IndexProcessError(value)
        return value

    def _call(self, op: str, exchange: Callable[[], Any]) -> Any:
        """Run one exchange with the child; a dead child is replaced by the index in this process (and
        ``exchange`` is not retried: the caller falls back to it)."""
        try:
            return exchange()
        except (EOFError, OSError) as exc:
            self._lost(f"{op}: {type(exc).__name__}: {exc}")
            raise _Lost from exc

    def _request(self, *request: Any) -> Any:
        def exchange() -> Any:
            self._conn.send(request)
            return self._reply()

        return self._call(str(request[0]), exchange)

    def _lost(self, why: str) -> None:
        logger.warning(
            "near-duplicate index process lost (%s, exit code %s): the index goes on in the crawler's process",
            why,
            self._process.exitcode,
        )
        if self._process.is_alive():
            self._process.kill()
        self._process.join(10)
        self._conn.close()
        # The same state and journals: what the child committed, and what it journaled but had not.
        self._local = NearDupIndex(
            self.config,
            StoreEventLog(None, self.sink, self.work_dir, self.part_name),
            self.state_path,
            commit_every=self.commit_every,
        )
        if self.on_lost is not None:
            self.on_lost()

    # -- the interface --

    def _either(self, request: tuple[Any, ...], local: Callable[[NearDupIndex], T]) -> T | Any:
        """``request``'s answer from the child, or, once it is lost, ``local`` of the index in this process."""
        with self._lock:
            if self._local is None:
                try:
                    return self._request(*request)
                except _Lost:
                    pass
            assert self._local is not None
            return local(self._local)

    def __len__(self) -> int:
        return int(self._either(("len",), len))

    def assign(
        self, key: str, text: str, when: str | None = None, *, signature: Signature | None = None
    ) -> Assignment:
        """As ``NearDupIndex.assign``; the signature is computed here when not given."""
        sig = signature if signature is not None else text_signature(text)
        request = ("assign", key, sig.values.astype("<u4").tobytes(), sig.size, when or "")
        found = self._either(request, lambda index: index.assign(key, text, when, signature=sig))
        if isinstance(found, Assignment):
            return found
        cluster, duplicate_of, merges, known = found
        return Assignment(
            key=key,
            cluster=cluster,
            duplicate_of=duplicate_of,
            merges=tuple(Merge(cluster=c, into=i, at=a) for c, i, a in merges),
            known=known,
        )

    def commit(self) -> None:
        self._either(("commit",), NearDupIndex.commit)

    def flush(self) -> list[str]:
        """Hand the child's closed journals to ``sink`` as segments; returns the segment keys."""
        with self._lock:
            if self._local is None:
                try:
                    journals = [(key, Path(path)) for key, path in self._request("journals")]
                    written = hand_over(journals, self.sink)
                    self._request("applied", written)
                    return written
                except _Lost:
                    pass
            assert self._local is not None
            self._local.flush()
            return []

    def close(self) -> None:
        """Flush, stop the child (its open transaction committed), or close the local index."""
        atexit.unregister(self._at_exit)
        self.flush()
        with self._lock:
            if self._local is not None:
                self._local.close()
                return
            try:
                self._request("close")
            except _Lost:
                assert self._local is not None
                self._local.close()
                return
            self._conn.close()
            self._stop()

    def _at_exit(self) -> None:
        """(At interpreter exit, when close() was never called) end the child: its open transaction is
        committed, its journals stay in the work dir for the next crawl to hand over."""
        held = self._lock.acquire(timeout=10)  # a daemon thread may have been stopped mid-request
        try:
            if self._local is not None or not self._process.is_alive():
                return
            logger.info("near-duplicate index process not closed by the crawl: stopped at exit")
            self._conn.close()
            self._stop()
        finally:
            if held:
                self._lock.release()

    def _stop(self) -> None:
        """Wait for the child to end (its pipe closed), killing it if it does not."""
        self._process.join(30)
        if self._process.is_alive():
            logger.warning("near-duplicate index process did not stop; killed")
            self._process.kill()
            self._process.join(10)


class _Lost(Exception):
    """The child is gone; the caller falls back to the index in this process."""
