"""The crawl's process pool: CPU work (extraction, a page's requisites) in processes, off the reactor thread.

One ``WorkerPool`` per crawl (``WorkerPool.of(crawler)``, kept as ``crawler.worker_pool``), shared by the
extraction pipeline and the requisites middleware, so both use the same EXTRACT_WORKERS processes (0: one
per core) instead of each taking the cores from the other. The reactor thread only pickles the arguments;
parsing, trafilatura and scoring run in the workers. The pool starts on the first task (spawn: forking a
process that runs threads is unsafe), is shut down at ``spider_closed``, and is built anew after a worker
died (``BrokenProcessPool`` reaches the caller, which counts and skips that page).
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from scrapy import signals
from scrapy.crawler import Crawler

from crawler.config import SettingsReader

T = TypeVar("T")

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _worker_start(parent_pid: int) -> None:
    """Runs first in every worker: die with the crawl, then import trafilatura and friends once.

    A crawl killed with SIGKILL (the OOM killer, ``kill -9``) runs no clean-up, and a worker waiting on its
    task queue would never notice: it holds that queue's write end itself. So the kernel kills it when its
    parent dies (Linux ``PR_SET_PDEATHSIG``; the parent is the thread that started it, the reactor thread,
    which lives as long as the crawl), or, elsewhere, a thread watches the parent pid. With the workers gone,
    multiprocessing's resource tracker sees the last copy of its pipe close and exits too.
    """
    if not _parent_death_signal(signal.SIGKILL):
        threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:  # the crawl died before the signal was set up
        os._exit(1)
    import scrapy.http  # noqa: F401  (the requisites' parse builds an HtmlResponse)

    import extraction  # noqa: F401


def _parent_death_signal(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(1)


def configured_workers(settings: Any) -> int:
    """EXTRACT_WORKERS, checked (``ConfigError`` for a bad value); 0 means one per core."""
    r = SettingsReader(settings)
    workers = r.integer("EXTRACT_WORKERS", minimum=0, hint=" (0 means one per core)")
    r.check()
    return workers or os.cpu_count() or 1


class WorkerPool:
    """``workers`` spawn processes; ``await pool.run(fn, *args)`` from the reactor's event loop."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: Executor | None = None

    @classmethod
    def of(cls, crawler: Crawler) -> WorkerPool:
        """The crawl's pool (built on the first call, shut down at spider close)."""
        pool = getattr(crawler, "worker_pool", None)
        if pool is None:
            pool = cls(configured_workers(crawler.settings))
            crawler.worker_pool = pool  # type: ignore[attr-defined]
            crawler.signals.connect(pool.shutdown, signal=signals.spider_closed)
        return pool

    def executor(self) -> Executor:
        if self._executor is None:
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_worker_start,
                initargs=(os.getpid(),),
            )
        return self._executor

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker; a dead worker raises ``BrokenProcessPool`` and the next call starts a
        new pool."""
        loop = asyncio.get_running_loop()
        executor = self.executor()
        try:
            return await loop.run_in_executor(executor, fn, *args)
        except BrokenProcessPool:
            if self._executor is executor:
                self._executor = None
            raise

    def shutdown(self, spider: Any = None) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
