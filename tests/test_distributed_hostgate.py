"""The cluster-wide host gate on a real redis-server: two gates stand for two workers of one crawl."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis
from scrapy.settings import Settings

from crawler.distributed.config import RedisConfig
from crawler.distributed.hostgate import RedisHostGate
from crawler.politeness.config import PolitenessConfig

SLOT = "127.0.0.1:8080"
_crawls = itertools.count()


def _gates(redis_url: str, *workers: str, alive: tuple[str, ...] | None = None) -> list[RedisHostGate]:
    """Gates of one fresh crawl; workers in ``alive`` (default: all) get a heartbeat key."""
    crawl_id = f"gate-{next(_crawls)}-{time.time_ns()}"
    config = PolitenessConfig.from_settings(Settings())
    server = redis.Redis.from_url(redis_url)
    for worker in workers if alive is None else alive:
        server.set(f"libya:{crawl_id}:worker:{worker}", "1", ex=60)
    return [RedisHostGate(RedisConfig(redis_url, crawl_id, worker, 10.0, 5.0), config) for worker in workers]


def _run(gates: list[RedisHostGate], body: Callable[[], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        try:
            return await body()
        finally:
            for gate in gates:
                await gate.close()

    return asyncio.run(main())


def test_two_workers_share_one_slots_delay_and_concurrency(redis_url: str) -> None:
    gates = _gates(redis_url, "w1", "w2")
    starts: list[float] = []
    in_flight = most = 0

    async def transfer(gate: RedisHostGate) -> None:
        nonlocal in_flight, most
        lease = await gate.acquire(SLOT, 0.2, 2)
        starts.append(time.monotonic())
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.3)
        in_flight -= 1
        await gate.release(SLOT, lease, 200, None)

    async def body() -> None:
        await asyncio.gather(*(transfer(gates[i % 2]) for i in range(10)))

    _run(gates, body)
    assert len(starts) == 10
    assert most <= 2
    gaps = [b - a for a, b in itertools.pairwise(sorted(starts))]
    assert min(gaps) >= 0.2 - 0.02, gaps


def test_a_429_on_one_worker_holds_the_host_for_the_other(redis_url: str) -> None:
    w1, w2 = gates = _gates(redis_url, "w1", "w2")

    async def body() -> float:
        lease = await w1.acquire(SLOT, 0.0, 4)
        await w1.release(SLOT, lease, 429, 0.6)
        refused = time.monotonic()
        lease = await w2.acquire(SLOT, 0.0, 4)
        waited = time.monotonic() - refused
        await w2.release(SLOT, lease, 200, None)
        return waited

    assert _run(gates, body) >= 0.6 - 0.02


def test_crawl_delay_counts_from_the_last_request(redis_url: str) -> None:
    w1, w2 = gates = _gates(redis_url, "w1", "w2")

    async def body() -> float:
        lease = await w1.acquire(SLOT, 0.0, 4)  # robots.txt
        first = time.monotonic()
        await w1.release(SLOT, lease, 200, None)
        await w1.set_floor(SLOT, 0.5)  # its Crawl-delay
        lease = await w2.acquire(SLOT, 0.0, 4)
        await w2.release(SLOT, lease, 200, None)
        return time.monotonic() - first

    assert _run(gates, body) >= 0.5 - 0.02


def test_crawl_delay_also_counts_from_the_end_of_the_last_transfer(redis_url: str) -> None:
    # A request let go on time can reach the server late; its answer cannot come back before it arrived,
    # so the next request of a Crawl-delay host waits the delay from that answer too.
    w1, w2 = gates = _gates(redis_url, "w1", "w2")

    async def body() -> float:
        await w1.set_floor(SLOT, 0.5)
        lease = await w1.acquire(SLOT, 0.0, 4)
        await asyncio.sleep(0.4)  # a slow answer
        ended = time.monotonic()
        await w1.release(SLOT, lease, 200, None)
        lease = await w2.acquire(SLOT, 0.0, 4)
        await w2.release(SLOT, lease, 200, None)
        return time.monotonic() - ended

    assert _run(gates, body) >= 0.5 - 0.02


def test_a_dead_workers_leases_are_freed(redis_url: str) -> None:
    dead, live = gates = _gates(redis_url, "dead", "live", alive=("live",))

    async def body() -> str:
        await dead.acquire(SLOT, 0.0, 1)  # never released: the worker was killed mid-transfer
        # The lease would live for minutes (PolitenessConfig.lease_ttl); the dead worker has no heartbeat.
        return await asyncio.wait_for(live.acquire(SLOT, 0.0, 1), timeout=20)

    assert _run(gates, body).startswith("live:")
