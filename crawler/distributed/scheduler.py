"""``InflightScheduler``: scrapy-redis's scheduler, with no moment where a request is in no Redis key.

scrapy-redis takes two round trips for each step a request makes: enqueueing marks it seen in the duplicate
filter (SADD), then queues it (ZADD); dequeueing pops it, then this worker recorded it as in flight (HSET).
A worker killed between the two lost the request for the whole crawl: marked seen, so never queued again,
or popped, so neither queued nor in flight. Both steps are one Lua script here, atomic in Redis.

A queue entry is ``v1 <method> <url>\\n<request>`` (the request as scrapy-redis encodes it). Popping it moves
it into this worker's in-flight hash (``inflight:<worker>``) under ``<method> <url>``, its value
``<score>\\n<entry>``, so a dead worker's entries go back on the queue as they were, in one script too
(``RedisCoordinator``). Entries queued by an older version (no ``v1`` prefix) are still served.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request, Spider
from scrapy_redis.scheduler import Scheduler

ENTRY_PREFIX = b"v1 "

# KEYS: duplicate filter set, queue. ARGV: dont_filter ("1" / "0"), fingerprint, score, entry.
_ENQUEUE = """
if ARGV[1] == '0' and redis.call('SADD', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
"""

# KEYS: queue, in-flight hash. Returns the entry taken (nil: queue empty).
_POP = """
local top = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #top == 0 then return false end
local entry, score = top[1], top[2]
redis.call('ZREM', KEYS[1], entry)
if string.sub(entry, 1, 3) == 'v1 ' then
  local eol = string.find(entry, '\\n', 1, true)
  redis.call('HSET', KEYS[2], string.sub(entry, 4, eol - 1), score .. '\\n' .. entry)
end
return entry
"""


def inflight_field(request: Request) -> str:
    """The in-flight hash field of a request: its method and URL."""
    return f"{request.method} {request.url}"


class InflightScheduler(Scheduler):
    """scrapy-redis's scheduler, every enqueue and every dequeue one atomic step in Redis (see the module)."""

    def open(self, spider: Spider) -> Any:
        result = super().open(spider)
        self._enqueue = self.server.register_script(_ENQUEUE)
        self._pop = self.server.register_script(_POP)
        self._coordinator = spider.crawler.redis_coordinator  # type: ignore[attr-defined]
        return result

    def _entry(self, request: Request) -> bytes:
        encoded: bytes = self.queue._encode_request(request)
        return ENTRY_PREFIX + inflight_field(request).encode() + b"\n" + encoded

    def enqueue_request(self, request: Request) -> bool:
        args = [
            "1" if request.dont_filter else "0",
            self.df.request_fingerprint(request),
            -request.priority,
            self._entry(request),
        ]
        queued = self._enqueue(keys=[self.df.key, self.queue.key], args=args)
        # In the queue, or seen there: the response that yielded it no longer needs to (coordinator).
        self._coordinator.scheduled(request)
        if not queued:
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        coordinator = self._coordinator
        entry: bytes | None = self._pop(keys=[self.queue.key, coordinator.inflight_key])
        if entry is None:
            return None
        if entry.startswith(ENTRY_PREFIX):
            request: Request = self.queue._decode_request(entry.split(b"\n", 1)[1])
        else:
            request = self.queue._decode_request(entry)
            # Queued by an older version: recorded here, a round trip later.
            coordinator.record(request, -request.priority, self._entry(request))
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        coordinator.took(request)
        return request
