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
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from scrapy import signals
from scrapy.crawler import Crawler

from crawler.config import SettingsReader
from crawler.lifetime import die_with_parent

T = TypeVar("T")


def _worker_start(parent_pid: int) -> None:
    """Runs first in every worker: die with the crawl (``crawler.lifetime``; with the workers gone,
    multiprocessing's resource tracker sees the last copy of its pipe close and exits too), then import
    trafilatura and friends once."""
    die_with_parent(parent_pid)
    import scrapy.http  # noqa: F401  (the requisites' parse builds an HtmlResponse)

    import extraction  # noqa: F401


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
