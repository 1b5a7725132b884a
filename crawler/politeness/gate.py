"""``HostGate``: the last wait before a request goes on the wire, per download slot (host and port).

Scrapy's slot has already applied DOWNLOAD_DELAY / AutoThrottle and CONCURRENT_REQUESTS_PER_DOMAIN for
this process when the gate is asked (``acquire``). The gate adds what the slot cannot know:

- a hold after a 429/503 (RETRY_AFTER_HTTP_CODES): for the answer's Retry-After (up to
  RETRY_AFTER_MAX_DELAY), else for a back-off that starts at 1 s and doubles with every such answer, up to
  AUTOTHROTTLE_MAX_DELAY. Every request of the host waits, not only the one that was refused; afterwards
  the host's requests stay spaced by the back-off, halved by every other answer until it falls under 0.25 s;
- the host's robots.txt ``Crawl-delay`` as the smallest spacing between two of its requests, counted from the
  previous request's start and from its end: a request released on time can still reach the server late on
  a loaded machine, and spacing starts only would then let the next one arrive early; its answer cannot come
  back before it arrived, so spacing from the answer holds as the site sees it;
- the slot's concurrency once more: Scrapy 2.19's slot checks it before the transfers it lets go have
  started (``Downloader._process_queue`` pops every queued request while ``transferring`` is still empty,
  since each transfer is a task that starts later), so with no DOWNLOAD_DELAY a slot of concurrency 1 sends
  all its queued requests at once;
- in a distributed crawl, the slot's delay and concurrency for all workers together
  (``crawler.distributed.hostgate.RedisHostGate`` keeps this state in Redis instead of in memory).

``release`` tells the gate how the transfer ended (its HTTP status and Retry-After, None for a failure).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from time import monotonic
from typing import Protocol

from scrapy.utils.asyncio import sleep

from crawler.politeness.config import BACKOFF_START, PolitenessConfig

# A back-off spacing below this is dropped: the slot's own delay takes over again.
BACKOFF_FLOOR = 0.25


class HostGate(Protocol):
    async def acquire(self, key: str, delay: float, concurrency: int) -> str:
        """Wait until a request of slot ``key`` may start; returns a lease to hand to ``release``."""

    async def release(self, key: str, lease: str, status: int | None, retry_after: float | None) -> None:
        """The transfer ended with ``status`` (None: no response) and ``retry_after`` seconds asked."""

    async def set_floor(self, key: str, seconds: float) -> None:
        """The host's smallest spacing between two requests (its robots.txt Crawl-delay)."""

    async def close(self) -> None: ...


def backed_off(penalty: float, retry_after: float | None, config: PolitenessConfig) -> tuple[float, float]:
    """(new back-off spacing, hold in seconds) after a 429/503; the Redis gate's Lua does the same."""
    penalty = min(max(2 * penalty, BACKOFF_START), config.backoff_max)
    honoured = retry_after is not None and retry_after <= config.retry_after_max
    return penalty, retry_after if honoured and retry_after is not None else penalty


def decayed(penalty: float) -> float:
    half = penalty / 2
    return half if half >= BACKOFF_FLOOR else 0.0


@dataclass
class _Host:
    floor: float = 0.0
    penalty: float = 0.0
    until: float = 0.0  # monotonic time before which nothing of the host starts
    next: float = 0.0  # monotonic time of the earliest next start (Crawl-delay or back-off spacing)
    last: float = float("-inf")  # monotonic time of the last start
    active: int = 0  # transfers under way
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)  # for a transfer to end


class LocalHostGate:
    """One process: holds, spacing and concurrency in memory; Scrapy's slot does the delay."""

    def __init__(self, config: PolitenessConfig) -> None:
        self.config = config
        self._hosts: dict[str, _Host] = {}

    async def acquire(self, key: str, delay: float, concurrency: int) -> str:
        host = self._hosts.setdefault(key, _Host())
        while True:
            if host.active >= max(1, concurrency):
                waiter = asyncio.get_running_loop().create_future()
                host.waiting.append(waiter)
                await waiter
                continue
            now = monotonic()
            ready = max(host.until, host.next)
            if now >= ready:
                host.last = now
                host.next = now + max(host.floor, host.penalty)
                host.active += 1
                return ""
            await sleep(ready - now)

    async def release(self, key: str, lease: str, status: int | None, retry_after: float | None) -> None:
        host = self._hosts.setdefault(key, _Host())
        host.active = max(0, host.active - 1)
        if host.floor:
            host.next = max(host.next, monotonic() + host.floor)
        if status is not None and status in self.config.backoff_codes:
            host.penalty, hold = backed_off(host.penalty, retry_after, self.config)
            host.until = max(host.until, monotonic() + hold)
        elif status is not None and host.penalty:
            host.penalty = decayed(host.penalty)
        # Every waiter looks again (one whose request was cancelled meanwhile must not swallow the wake-up).
        while host.waiting:
            waiter = host.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def set_floor(self, key: str, seconds: float) -> None:
        host = self._hosts.setdefault(key, _Host())
        host.floor = seconds
        host.next = max(host.next, host.last + seconds)  # robots.txt itself was the last request

    async def close(self) -> None:
        self._hosts.clear()
