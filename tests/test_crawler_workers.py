"""The crawl's worker pool (crawler/workers.py): CPU work in spawned processes, a dead worker survived."""

from __future__ import annotations

import asyncio
import os
import pickle
from concurrent.futures.process import BrokenProcessPool

import pytest
from scrapy.http import HtmlResponse

from crawler.requisites import page_requisites, requisites_of
from crawler.workers import WorkerPool
from tests.test_crawler_requisites import PAGE


def _die() -> int:
    os._exit(3)


async def _run_all(pool: WorkerPool) -> tuple[int, list[str], int]:
    own = await pool.run(os.getpid)
    found = await pool.run(requisites_of, "http://news.example/ar/page.html", PAGE, "utf-8")
    with pytest.raises(BrokenProcessPool):
        await pool.run(_die)
    # The next task gets a new pool: the crawl goes on after a worker died.
    after = await pool.run(os.getpid)
    return own, [r.url for r in found], after


def test_pool_runs_in_other_processes_and_survives_a_dead_worker() -> None:
    pool = WorkerPool(1)
    try:
        own, found, after = asyncio.run(_run_all(pool))
    finally:
        pool.shutdown()
    assert own != os.getpid() and after not in (own, os.getpid())
    here = page_requisites(HtmlResponse("http://news.example/ar/page.html", body=PAGE, encoding="utf-8"))
    assert found == [r.url for r in here]  # the worker's parse is the one the middleware did in place


def test_requisites_travel_between_processes() -> None:
    found = requisites_of("http://news.example/ar/page.html", PAGE, "utf-8")
    assert found and pickle.loads(pickle.dumps(found)) == found
