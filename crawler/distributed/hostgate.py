"""``RedisHostGate``: per-host delay, concurrency, Crawl-delay and back-off for every worker of a crawl.

The ``HostGate`` of a distributed crawl (see ``crawler.politeness.gate``). Per download slot, under
``libya:<crawl-id>:``, a hash ``host:<slot>`` (``next``: the earliest next start, ``until``: a back-off hold,
``penalty``: the back-off spacing, ``floor``: the Crawl-delay; milliseconds of Redis's clock) and a sorted set
``leases:<slot>`` (one member per transfer in flight, scored by when it expires). Starting a transfer is
one Lua script, atomic across workers: it waits while a hold or the spacing runs, or while the slot's
concurrency (CONCURRENT_REQUESTS_PER_DOMAIN, as the asking worker's slot has it) is used up; else it takes a
lease and moves ``next`` on by the largest of the slot's delay (DOWNLOAD_DELAY, or AutoThrottle's current
value on the asking worker), the Crawl-delay and the back-off. Ending one is one more script; it also
moves ``next`` to at least the Crawl-delay after the end (as ``LocalHostGate`` does: spacing as the site
sees it).

A worker killed mid-transfer leaves its leases behind: another worker that finds the slot full frees the
leases of workers without a heartbeat (``worker:<id>``, see the coordinator), and every lease expires anyway
after PolitenessConfig.lease_ttl (three DOWNLOAD_TIMEOUTs and 30 s).
"""

from __future__ import annotations

import itertools
from time import monotonic
from typing import Any

from scrapy.utils.asyncio import sleep

from crawler.distributed.config import RedisConfig
from crawler.politeness.config import BACKOFF_START, PolitenessConfig
from crawler.politeness.gate import BACKOFF_FLOOR

# Seconds between two looks at a slot whose concurrency is used up, and between two looks for dead leases.
POLL = 0.05
REAP_INTERVAL = 1.0

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function field(name) return tonumber(redis.call('HGET', KEYS[1], name) or '0') end
"""

# KEYS: host hash, leases set. ARGV: lease id, slot delay (ms), concurrency, lease ttl (ms).
# Returns 0 with the lease taken, else the milliseconds to wait (-1: concurrency used up).
_ACQUIRE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local ready = math.max(field('next'), field('until'))
if now < ready then return ready - now end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return -1 end
local spacing = math.max(tonumber(ARGV[2]), field('floor'), field('penalty'))
redis.call('HSET', KEYS[1], 'next', now + spacing, 'last', now)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 86400000)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
return 0
"""
)

# KEYS: host hash, leases set. ARGV: lease id, "backoff" | "ok" | "failed", Retry-After (ms, -1: none),
# back-off start, back-off ceiling, longest honoured Retry-After, back-off floor (ms). The same policy as
# crawler.politeness.gate.backed_off / decayed.
_RELEASE = (
    _NOW
    + """
redis.call('ZREM', KEYS[2], ARGV[1])
local floor = field('floor')
if floor > 0 then redis.call('HSET', KEYS[1], 'next', math.max(field('next'), now + floor)) end
local penalty = field('penalty')
if ARGV[2] == 'backoff' then
  penalty = math.min(math.max(2 * penalty, tonumber(ARGV[4])), tonumber(ARGV[5]))
  local hold = penalty
  local asked = tonumber(ARGV[3])
  if asked >= 0 and asked <= tonumber(ARGV[6]) then hold = asked end
  redis.call('HSET', KEYS[1], 'penalty', penalty, 'until', math.max(field('until'), now + hold))
elseif ARGV[2] == 'ok' and penalty > 0 then
  penalty = math.floor(penalty / 2)
  if penalty < tonumber(ARGV[7]) then penalty = 0 end
  redis.call('HSET', KEYS[1], 'penalty', penalty)
end
return penalty
"""
)


# KEYS: host hash. ARGV: Crawl-delay (ms). The next start waits for it from the last one (robots.txt's own).
_FLOOR = (
    _NOW
    + """
local floor = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'floor', floor, 'next', math.max(field('next'), field('last') + floor))
redis.call('PEXPIRE', KEYS[1], 86400000)
return floor
"""
)


class RedisHostGate:
    def __init__(self, redis_config: RedisConfig, config: PolitenessConfig) -> None:
        import redis.asyncio

        self.config = config
        self.redis_config = redis_config
        self.server: Any = redis.asyncio.Redis.from_url(redis_config.url)
        self._acquire = self.server.register_script(_ACQUIRE)
        self._release = self.server.register_script(_RELEASE)
        self._floor = self.server.register_script(_FLOOR)
        self._ids = itertools.count()
        self._reaped: dict[str, float] = {}

    def _keys(self, key: str) -> list[str]:
        return [self.redis_config.key(f"host:{key}"), self.redis_config.key(f"leases:{key}")]

    async def acquire(self, key: str, delay: float, concurrency: int) -> str:
        lease = f"{self.redis_config.worker_id}:{next(self._ids)}"
        args: list[str | int] = [
            lease,
            round(delay * 1000),
            max(1, concurrency),
            round(self.config.lease_ttl * 1000),
        ]
        while True:
            wait = int(await self._acquire(keys=self._keys(key), args=args))
            if wait == 0:
                return lease
            if wait < 0:
                await self._reap(key)
            await sleep(POLL if wait < 0 else wait / 1000)

    async def _reap(self, key: str) -> None:
        """Free the leases of workers whose heartbeat is gone (killed mid-transfer); once a second at most."""
        if monotonic() - self._reaped.get(key, float("-inf")) < REAP_INTERVAL:
            return
        self._reaped[key] = monotonic()
        leases = self._keys(key)[1]
        for raw in await self.server.zrange(leases, 0, -1):
            worker = raw.decode().rsplit(":", 1)[0]
            if worker != self.redis_config.worker_id and not await self.server.exists(
                self.redis_config.key(f"worker:{worker}")
            ):
                await self.server.zrem(leases, raw)

    async def release(self, key: str, lease: str, status: int | None, retry_after: float | None) -> None:
        backoff = status is not None and status in self.config.backoff_codes
        mode = "backoff" if backoff else "failed" if status is None else "ok"
        ms = [
            -1 if retry_after is None else round(retry_after * 1000),
            round(BACKOFF_START * 1000),
            round(self.config.backoff_max * 1000),
            round(self.config.retry_after_max * 1000),
            round(BACKOFF_FLOOR * 1000),
        ]
        await self._release(keys=self._keys(key), args=[lease, mode, *ms])

    async def set_floor(self, key: str, seconds: float) -> None:
        await self._floor(keys=self._keys(key)[:1], args=[round(seconds * 1000)])

    async def close(self) -> None:
        await self.server.aclose()
