"""Load helpers for the benchmark: fetch many URLs concurrently (aiohttp), and extract bodies in a pool.

``fetch_all(urls, concurrency)`` fetches every URL with gzip accepted (as Scrapy does) and can spool the
decoded HTML bodies to a file, so the extraction-capacity run works on exactly the pages the server sends.
``extract_capacity(spool, index, workers)`` runs ``extraction.extract`` over them in a spawn process pool
(the crawl's own pool kind), warmed up before the clock starts.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import aiohttp


@dataclass
class FetchResult:
    pages: int
    bytes: int
    seconds: float
    statuses: dict[int, int]
    index: list[tuple[str, int, int]]  # (url, offset, length) of each spooled body


async def _fetch_all(urls: list[str], concurrency: int, spool: BinaryIO | None) -> FetchResult:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    statuses: dict[int, int] = {}
    index: list[tuple[str, int, int]] = []
    total = 0
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers={"Accept-Encoding": "gzip"}
    ) as session:

        async def worker() -> None:
            nonlocal total
            while True:
                try:
                    url = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                async with session.get(url) as response:
                    body = await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
                total += len(body)
                if spool is not None and response.status == 200:
                    offset = spool.tell()
                    spool.write(body)
                    index.append((url, offset, len(body)))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return FetchResult(len(urls), total, seconds, statuses, index)


def fetch_all(urls: list[str], concurrency: int = 32, spool: Path | None = None) -> FetchResult:
    """Fetch ``urls`` with ``concurrency`` connections; bodies appended to ``spool`` when given."""
    if spool is None:
        return asyncio.run(_fetch_all(urls, concurrency, None))
    with spool.open("wb") as fh:
        return asyncio.run(_fetch_all(urls, concurrency, fh))


def _warm_up() -> None:
    import extraction  # noqa: F401  (import trafilatura once per worker, as the crawl's pool does)


def _extract_chunk(spool: str, items: list[tuple[str, int, int]]) -> tuple[int, int]:
    """In a worker: extract each (url, offset, length) body of ``spool``; (articles, not articles)."""
    from extraction import Article, extract

    articles = others = 0
    with open(spool, "rb") as fh:
        for url, offset, length in items:
            fh.seek(offset)
            body = fh.read(length)
            result = extract(body, url, {"Content-Type": "text/html; charset=utf-8"})
            if isinstance(result, Article):
                articles += 1
            else:
                others += 1
    return articles, others


@dataclass
class ExtractResult:
    pages: int
    articles: int
    seconds: float


def extract_capacity(
    spool: Path, index: list[tuple[str, int, int]], workers: int, chunk: int = 16
) -> ExtractResult:
    """Extract every spooled body on ``workers`` processes; the clock runs from the first task to the last."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_warm_up) as pool:
        # Start and warm every worker first: the crawl pays that once per crawl, not per page.
        list(pool.map(_extract_chunk, [str(spool)] * workers, [index[:1]] * workers))
        chunks = [index[i : i + chunk] for i in range(0, len(index), chunk)]
        started = time.perf_counter()
        results = list(pool.map(_extract_chunk, [str(spool)] * len(chunks), chunks))
        seconds = time.perf_counter() - started
    return ExtractResult(len(index), sum(a for a, _ in results), seconds)
