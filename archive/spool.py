"""A local spool that makes uploads durable: nothing handed to it is lost when the store is down or we crash.

(One job, one module: the spool and its ``Uploader`` thread share one lock, queue and on-disk layout.)

``Spool(directory, store)`` keeps each object as two files under ``<directory>/objects/``:
``<id>.json`` (the sidecar: key, sha256, size, content type, when) and ``<id>.data`` (the bytes). The
sidecar is written first (temp file, fsync, rename), the data second, so at any crash point the spool is in
one of three states: nothing, a sidecar without data (the hand-over never finished: the caller still has
the file; the sidecar is discarded on the next start) or a complete entry (uploaded on the next start).

``concurrency`` ``Uploader`` threads (a bounded pool: each one upload, with its own connection from the
store's pool; boto3 clients are thread-safe) drain entries oldest first, off the caller's thread. Each
``put_file``s the spool copy
with the sidecar's SHA-256 (the store checks the bytes it reads against it and verifies what it stored) and
only then deletes the spool copy. If the upload succeeded but we crashed before the delete, the next
attempt finds identical bytes at the key and the store writes nothing: each object lands exactly once.

Failures: an unreachable store (``StoreUnavailableError``) is retried for as long as the uploader runs,
with exponential backoff, logged once per outage (and once when it ends). Other errors (access denied,
checksum mismatch...) are retried ``retries`` times, then the entry is left in the spool for the next run
(``scrapy upload``) and logged. A spool copy whose bytes no longer match its sidecar is never uploaded.

A lock file (``<directory>/.lock``, flock) keeps two processes from draining one spool at once.
``pending()`` (objects and bytes not uploaded yet: the upload backlog) is kept as counters, cheap to read
from any thread; ``peak`` is the largest backlog seen.
Hooks: ``stats(name, increment)`` with names ``uploaded``, ``bytes``, ``failed/<reason>``;
``on_uploaded(entry, stored_key)`` after each upload (``stored_key`` differs from ``entry.key`` only when
the key held different bytes, see ``archive.store``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from archive.fsutil import READ_BLOCK, fsync_dir, sha256_file, write_atomic
from archive.keys import check_key, is_archive_file
from archive.store import (
    DEFAULT_CONTENT_TYPE,
    Store,
    StoreError,
    StoreIntegrityError,
    StoreSourceError,
    StoreUnavailableError,
)

logger = logging.getLogger(__name__)

StatsHook = Callable[[str, int], None]


class SpoolLockedError(RuntimeError):
    """Another process holds the spool."""


@dataclass(frozen=True)
class SpoolEntry:
    """One object waiting in the spool."""

    id: str
    key: str
    sha256: str
    size: int
    content_type: str
    created: float

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True).encode("utf-8")


@dataclass(frozen=True)
class Pending:
    """What is still in the spool: entry count and total bytes."""

    count: int
    bytes: int


UploadedHook = Callable[[SpoolEntry, str], None]


class Spool:
    """Durable hand-over of objects to a ``Store``; see the module docstring.

    ``retries``: attempts for non-transient failures before an entry is left for a later run.
    ``backoff``/``max_backoff``: first and longest wait between attempts, in seconds.
    ``start=False`` leaves the uploader stopped (call ``start()``), e.g. to add entries first.
    ``concurrency``: uploads at once (uploader threads).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        store: Store,
        *,
        retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        stats: StatsHook | None = None,
        on_uploaded: UploadedHook | None = None,
        start: bool = True,
        concurrency: int = 1,
    ) -> None:
        self.directory = Path(os.path.abspath(directory))
        self.objects = self.directory / "objects"
        self.store = store
        self.retries = max(1, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._stats = stats
        self._on_uploaded = on_uploaded
        # The archive files handed over by this process (key, SHA-256, size): what a crawl report lists. Not
        # the per-article objects (``archive.keys.is_archive_file``): a crawl into S3 hands over two an article.
        self.added: list[SpoolEntry] = []
        self._cond = threading.Condition()
        self._queue: deque[SpoolEntry] = deque()
        self._inflight: dict[str, SpoolEntry] = {}
        self._given_up: list[SpoolEntry] = []
        self._attempts: dict[str, int] = {}
        self._count = 0  # entries not uploaded (queued, in flight, given up) and their bytes
        self._bytes = 0
        self.peak = Pending(0, 0)
        self._outage_since: float | None = None
        self._outage_failures = 0
        self._closed = False
        self.objects.mkdir(parents=True, exist_ok=True)
        self._lock_fh = self._acquire_lock()
        try:
            self._recover()
        except BaseException:
            self._release_lock()
            raise
        self._uploaders = [Uploader(self, n) for n in range(max(1, concurrency))]
        if start:
            self.start()

    # -- lifecycle --

    def _acquire_lock(self) -> IO[str]:
        fh = open(self.directory / ".lock", "a+", encoding="ascii")  # noqa: SIM115 (held until close())
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise SpoolLockedError(
                    f"spool {self.directory} is in use by another process (pid {holder}); "
                    "let it finish (a crawl drains it at close) or stop it first"
                ) from None
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        return fh

    def _release_lock(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
        self._lock_fh.close()

    def _recover(self) -> None:
        """Queue complete entries left by earlier runs; drop half-written ones (the caller kept the file)."""
        recovered = 0
        for stray in self.objects.glob(".*.tmp"):
            stray.unlink(missing_ok=True)
        for meta in sorted(self.objects.glob("*.json")):
            data = meta.with_suffix(".data")
            try:
                entry = SpoolEntry(**json.loads(meta.read_bytes()))
            except (ValueError, TypeError) as exc:
                logger.error("spool sidecar %s is unreadable (%s); left in place for inspection", meta, exc)
                continue
            if not data.exists():
                logger.debug("dropping spool sidecar %s: its hand-over never finished", meta.name)
                meta.unlink()
                continue
            self._queue.append(entry)
            self._count += 1
            self._bytes += entry.size
            recovered += 1
        for data in self.objects.glob("*.data"):
            if not data.with_suffix(".json").exists():
                logger.warning("spool file %s has no sidecar; left in place for inspection", data)
        if recovered:
            pending = self.pending()
            logger.info(
                "spool %s: %d objects (%d bytes) left by an earlier run will be uploaded",
                self.directory,
                pending.count,
                pending.bytes,
            )

    def start(self) -> None:
        """Start the uploader threads (idempotent)."""
        if self._closed:
            return
        for uploader in self._uploaders:
            if not uploader.is_alive() and uploader.ident is None:
                uploader.start()

    def close(self, timeout: float | None = 30.0) -> Pending:
        """Stop the uploader (waiting up to ``timeout`` for an upload in flight) and release the spool.

        What is left stays on disk for the next run. Returns it.
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        for uploader in self._uploaders:
            if uploader.is_alive():
                uploader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if any(uploader.is_alive() for uploader in self._uploaders):
            logger.warning("uploader still busy after %ss; its object stays in the spool", timeout)
        left = self.pending()
        self._release_lock()
        return left

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- adding --

    def _new_id(self) -> str:
        # Time first, so a directory listing recovers entries oldest first.
        return f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"

    def _paths(self, entry_id: str) -> tuple[Path, Path]:
        return self.objects / f"{entry_id}.json", self.objects / f"{entry_id}.data"

    def add_file(
        self,
        key: str,
        path: str | os.PathLike[str],
        content_type: str = DEFAULT_CONTENT_TYPE,
        *,
        keep_source: bool = False,
    ) -> SpoolEntry:
        """Move the closed file at ``path`` into the spool (hard-link/copy it with ``keep_source``)."""
        self._check_open()
        check_key(key)
        source = Path(path)
        sha, size = sha256_file(source)
        entry = SpoolEntry(self._new_id(), key, sha, size, content_type, time.time())
        meta, data = self._paths(entry.id)
        write_atomic(meta, lambda fh: fh.write(entry.to_json()))
        try:
            if self._place(source, data, keep_source=keep_source) and sha256_file(data) != (sha, size):
                raise StoreIntegrityError(f"{source} changed while it was handed to the spool")
        except BaseException:
            meta.unlink(missing_ok=True)
            if not keep_source and not source.exists() and data.exists():
                os.replace(data, source)  # give the file back: the caller still owns it
            else:
                data.unlink(missing_ok=True)
            raise
        fsync_dir(self.objects)
        self._enqueue(entry)
        return entry

    def _place(self, source: Path, data: Path, *, keep_source: bool) -> bool:
        """Move (or link) the file into the spool; True when it had to be copied (then it is re-checked)."""
        if not keep_source:
            try:
                os.replace(source, data)
                return False
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
        else:
            try:
                os.link(source, data)
                return False
            except OSError:
                pass  # another file system, or links not allowed: copy
        with open(source, "rb") as src:
            write_atomic(data, lambda fh: shutil.copyfileobj(src, fh, READ_BLOCK))
        if not keep_source:
            source.unlink()
        return True

    def add_bytes(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> SpoolEntry:
        """Put ``data`` in the spool under ``key``."""
        self._check_open()
        check_key(key)
        entry = SpoolEntry(
            self._new_id(), key, hashlib.sha256(data).hexdigest(), len(data), content_type, time.time()
        )
        meta, data_path = self._paths(entry.id)
        write_atomic(meta, lambda fh: fh.write(entry.to_json()))
        try:
            write_atomic(data_path, lambda fh: fh.write(data))
        except BaseException:
            meta.unlink(missing_ok=True)
            raise
        fsync_dir(self.objects)
        self._enqueue(entry)
        return entry

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"spool {self.directory} is closed")

    def _enqueue(self, entry: SpoolEntry) -> None:
        with self._cond:
            if is_archive_file(entry.key):
                self.added.append(entry)
            self._queue.append(entry)
            self._count += 1
            self._bytes += entry.size
            if self._bytes > self.peak.bytes or self._count > self.peak.count:
                self.peak = Pending(max(self._count, self.peak.count), max(self._bytes, self.peak.bytes))
            self._cond.notify_all()

    # -- waiting and counting --

    def pending(self) -> Pending:
        """Entries still in the spool (queued, in flight or given up for this run): the upload backlog."""
        with self._cond:
            return Pending(self._count, self._bytes)

    def has_key(self, key: str) -> bool:
        """Whether an entry for ``key`` is waiting in the spool (queued, in flight or given up)."""
        with self._cond:
            return any(e.key == key for e in (*self._queue, *self._inflight.values(), *self._given_up))

    def failed(self) -> list[SpoolEntry]:
        """Entries this run gave up on (still in the spool)."""
        with self._cond:
            return list(self._given_up)

    def retry_failed(self) -> None:
        """Queue the given-up entries again."""
        with self._cond:
            self._queue.extend(self._given_up)
            self._given_up.clear()
            self._cond.notify_all()

    def drain(self, timeout: float | None = None) -> Pending:
        """Block until the queue is empty (or ``timeout`` seconds pass); return what is left."""
        self.start()
        with self._cond:
            self._cond.wait_for(lambda: not self._queue and not self._inflight, timeout)
        return self.pending()

    def _stat(self, name: str, value: int = 1) -> None:
        if self._stats is not None:
            self._stats(name, value)


class Uploader(threading.Thread):
    """One of the threads draining a ``Spool`` into its store; see the module docstring for the retry rules."""

    def __init__(self, spool: Spool, number: int = 0) -> None:
        super().__init__(name=f"spool-uploader-{spool.directory.name}-{number}", daemon=True)
        self.spool = spool
        self._delay = spool.backoff

    def run(self) -> None:
        spool = self.spool
        cond = spool._cond
        while True:
            with cond:
                cond.wait_for(lambda: spool._closed or bool(spool._queue))
                if spool._closed:
                    return
                entry = spool._queue.popleft()
                spool._inflight[entry.id] = entry
            error = self._upload_one(entry)
            with cond:
                del spool._inflight[entry.id]
                if error is None:
                    spool._attempts.pop(entry.id, None)
                    spool._count -= 1
                    spool._bytes -= entry.size
                    self._delay = spool.backoff
                elif isinstance(error, StoreUnavailableError):
                    spool._queue.appendleft(entry)  # first again once the store is back
                else:
                    attempts = spool._attempts[entry.id] = spool._attempts.get(entry.id, 0) + 1
                    if attempts >= spool.retries or error.reason == "spool_corrupt":
                        spool._given_up.append(entry)
                        logger.error(
                            "giving up on %s for this run after %d attempts (%s); it stays in spool %s "
                            "for `scrapy upload`",
                            entry.key,
                            attempts,
                            error,
                            spool.directory,
                        )
                    else:
                        spool._queue.appendleft(entry)
                cond.notify_all()
                if error is not None and not spool._closed:
                    cond.wait(self._delay)  # interruptible by close()
                    self._delay = min(self._delay * 2, spool.max_backoff)

    def _upload_one(self, entry: SpoolEntry) -> StoreError | None:
        spool = self.spool
        _, data = spool._paths(entry.id)
        try:
            # The store checks the spool copy against the sidecar's digest as it reads it, and verifies what
            # it stored: no separate hash here, no separate lookup after.
            stored_key = spool.store.put_file(
                entry.key, data, content_type=entry.content_type, sha256=entry.sha256, size=entry.size
            )
        except StoreSourceError as exc:
            spool._stat("failed/spool_corrupt")
            logger.error("spool copy of %s no longer matches its sidecar, not uploaded: %s", entry.key, exc)
            return StoreError(str(exc), reason="spool_corrupt")
        except StoreError as exc:
            spool._stat(f"failed/{exc.reason}")
            if isinstance(exc, StoreUnavailableError):
                self._note_outage(exc)
            else:
                logger.warning("upload of %s failed: %s", entry.key, exc)
            return exc
        except ValueError as exc:  # a key the store refuses; add_* checks keys, so only old spools
            spool._stat("failed/invalid_key")
            logger.error("cannot upload %s: %s", entry.key, exc)
            return StoreError(str(exc), reason="spool_corrupt")
        except OSError as exc:
            spool._stat("failed/local_io")
            logger.warning("upload of %s failed reading the spool: %s", entry.key, exc)
            return StoreError(str(exc), reason="local_io")
        self._end_outage()
        meta, data = spool._paths(entry.id)
        meta.unlink(missing_ok=True)  # sidecar first: a crash in between leaves an orphan, never a re-upload
        data.unlink(missing_ok=True)
        spool._stat("uploaded")
        spool._stat("bytes", entry.size)
        logger.debug("uploaded %s (%d bytes) as %s", entry.key, entry.size, stored_key)
        if spool._on_uploaded is not None:
            spool._on_uploaded(entry, stored_key)
        return None

    def _note_outage(self, exc: StoreError) -> None:
        spool = self.spool
        with spool._cond:
            spool._outage_failures += 1
            if spool._outage_since is not None:
                return
            spool._outage_since = time.monotonic()
        pending = self.spool.pending()
        logger.warning(
            "%s is unavailable (%s); keeping %d objects (%d bytes) in spool %s and retrying with backoff "
            "(logged once per outage)",
            self.spool.store.describe(),
            exc,
            pending.count,
            pending.bytes,
            self.spool.directory,
        )

    def _end_outage(self) -> None:
        spool = self.spool
        with spool._cond:
            if spool._outage_since is None:
                return
            since, failures = spool._outage_since, spool._outage_failures
            spool._outage_since = None
            spool._outage_failures = 0
        logger.warning(
            "%s is reachable again after %.0fs and %d failed attempts; resuming uploads",
            spool.store.describe(),
            time.monotonic() - since,
            failures,
        )


def read_entry(meta_path: str | os.PathLike[str]) -> SpoolEntry:
    """Read one sidecar (for tools and tests)."""
    data: dict[str, Any] = json.loads(Path(meta_path).read_bytes())
    return SpoolEntry(**data)
