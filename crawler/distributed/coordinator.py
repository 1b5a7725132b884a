"""``RedisCoordinator``: one worker's seeds, heartbeat, in-flight bookkeeping and dead-worker recovery.

See the package docstring for the keys it keeps in Redis and what happens to a dead worker's requests.
"""

from __future__ import annotations

import json
import logging
import pickle
import time
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import Response
from scrapy.utils.request import request_from_dict
from twisted.internet import task

from crawler.distributed.config import RedisConfig
from crawler.distributed.scheduler import inflight_field
from crawler.items import ArticlePage

logger = logging.getLogger(__name__)


# KEYS: the dead worker's in-flight hash, its heartbeat, its seeds being scheduled, the queue, the seeds.
# Puts everything the worker had taken back where it came from, unless its heartbeat is back (-1). Returns
# how many requests and seeds it moved, and the in-flight values an older version wrote (a pickled request
# dict, requeued by the caller). One script, so one claimant and no moment where an entry is nowhere.
_RECOVER = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local moved, older = 0, {}
local held = redis.call('HGETALL', KEYS[1])
for i = 2, #held, 2 do
  local eol = string.find(held[i], '\\n', 1, true)
  if string.find(held[i], '\\nv1 ', 1, true) == eol then
    redis.call('ZADD', KEYS[4], string.sub(held[i], 1, eol - 1), string.sub(held[i], eol + 1))
    moved = moved + 1
  else
    table.insert(older, held[i])
  end
end
while redis.call('LMOVE', KEYS[3], KEYS[5], 'RIGHT', 'LEFT') do moved = moved + 1 end
redis.call('DEL', KEYS[1], KEYS[3])
return {moved, older}
"""


@dataclass(eq=False)
class SpiderOutput:
    """What one response's spider output still owes before the response is done (``RedisCoordinator``)."""

    request: Request  # the response's request: its in-flight field is taken out once this is settled
    waiting: int = 0  # requests yielded, not yet through the scheduler; articles yielded, without an outcome
    exhausted: bool = False  # the spider middlewares' output has ended (or raised)
    settled: bool = False


class RedisCoordinator:
    """Seeds, heartbeat, in-flight bookkeeping and dead-worker recovery for one worker."""

    def __init__(self, crawler: Crawler, config: RedisConfig) -> None:
        import redis

        self.crawler = crawler
        self.config = config
        self.server: Any = redis.Redis.from_url(config.url)
        self.inflight_key = config.key(f"inflight:{config.worker_id}")
        self.heartbeat_key = config.key(f"worker:{config.worker_id}")
        self.seeding_key = config.key(f"seeding:{config.worker_id}")
        self._recover = self.server.register_script(_RECOVER)
        self._beat: task.LoopingCall | None = None
        self._idle_since: float | None = None
        self._waiting_logged = False
        # The outputs being handed over, by the response's request and by each request they yielded.
        self._outputs: WeakKeyDictionary[Request, SpiderOutput] = WeakKeyDictionary()
        self._yielded_by: WeakKeyDictionary[Request, SpiderOutput] = WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisCoordinator:
        config = RedisConfig.from_settings(crawler.settings)
        if config is None:
            raise NotConfigured("CRAWL_REDIS_URL is empty")
        ext = cls(crawler, config)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item_done, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_done, signal=signals.item_dropped)
        crawler.signals.connect(ext.item_done, signal=signals.item_error)
        crawler.redis_coordinator = ext  # type: ignore[attr-defined]
        return ext

    # --- lifecycle -----------------------------------------------------------------------------------

    def spider_opened(self, spider: Spider) -> None:
        self.server.ping()  # fail fast with a clear connection error
        self._heartbeat()
        self._beat = task.LoopingCall(self._heartbeat)
        self._beat.start(self.config.heartbeat, now=False)
        logger.info("Worker %s joined distributed crawl %s", self.config.worker_id, self.config.crawl_id)

    def spider_closed(self, spider: Spider) -> None:
        if self._beat is not None and self._beat.running:
            self._beat.stop()
        self.server.delete(self.heartbeat_key)

    def _heartbeat(self) -> None:
        ttl = max(int(self.config.heartbeat * 3), 2)
        self.server.set(self.heartbeat_key, str(time.time()), ex=ttl)

    # --- in-flight bookkeeping -----------------------------------------------------------------------

    def record(self, request: Request, score: int, entry: bytes) -> None:
        """Record as in flight a request taken from the queue without the atomic pop (an older entry)."""
        self.server.hset(self.inflight_key, inflight_field(request), str(score).encode() + b"\n" + entry)

    def took(self, request: Request) -> None:
        """A request left the queue for this worker: the redirect hops that led to it are done."""
        hops = request.meta.get("redirect_urls", [])
        if hops:
            self.server.hdel(self.inflight_key, *(f"GET {url}" for url in hops))

    def done(self, request: Request | None) -> None:
        if request is not None:
            self.server.hdel(self.inflight_key, inflight_field(request))

    # A response is done once everything its callback yielded is safe elsewhere: each request in the shared
    # queue (or filtered as seen there), each article through the pipelines. Exhausting the output is not
    # enough: Scrapy hands it to the scheduler and the pipelines from tasks that run after the spider
    # middlewares have yielded it all (Scraper.handle_spider_output_async fills a queue that workers drain),
    # so a response marked done then, and its worker killed, lost every request it had yielded.

    def output_started(self, request: Request) -> SpiderOutput:
        """The spider middlewares start yielding the output for the response to ``request``."""
        output = self._outputs[request] = SpiderOutput(request)
        return output

    def output_item(self, output: SpiderOutput, obj: Any) -> None:
        """The output yields ``obj``: a request waits for the scheduler, an article for its outcome."""
        if isinstance(obj, Request):
            self._yielded_by[obj] = output
            output.waiting += 1
        elif isinstance(obj, ArticlePage):
            output.waiting += 1

    def output_ended(self, output: SpiderOutput) -> None:
        output.exhausted = True
        self._settle(output)

    def output_failed(self, response: Response) -> None:
        """The spider (or a spider middleware) raised for ``response``: what it yielded before is waited
        for as usual; a response whose output never started is done now."""
        if response.request is not None and response.request not in self._outputs:
            self.done(response.request)

    def scheduled(self, request: Request) -> None:
        """The scheduler has queued ``request`` in Redis, or found it seen there (``InflightScheduler``)."""
        output = self._yielded_by.pop(request, None)
        if output is not None:
            output.waiting -= 1
            self._settle(output)

    def _settle(self, output: SpiderOutput) -> None:
        if output.exhausted and output.waiting <= 0 and not output.settled:
            output.settled = True
            self.done(output.request)

    def item_done(
        self, item: Any, response: Response | None = None, spider: Spider | None = None, **kw: Any
    ) -> None:
        if not isinstance(item, ArticlePage) or response is None or response.request is None:
            return
        output = self._outputs.get(response.request)
        if output is None:
            self.done(response.request)
            return
        output.waiting -= 1
        self._settle(output)

    # --- seeds, recovery and closing -----------------------------------------------------------------

    def spider_idle(self, spider: Spider) -> None:
        # Idle means nothing of ours is downloading or being processed: what our in-flight set still holds
        # are requests that ended without reaching the spider (a redirect to an already seen URL, say), or
        # pages one of whose yielded requests never reached the scheduler (dropped on the way).
        self.server.delete(self.inflight_key)
        if not self.server.exists(self.config.key("seeded")):
            if not self._waiting_logged:
                self._waiting_logged = True
                logger.info(
                    "Worker %s: waiting for `scrapy seed` of crawl %s",
                    self.config.worker_id,
                    self.config.crawl_id,
                )
            raise DontCloseSpider  # the idle countdown starts once the crawl has seeds
        scheduled = self._schedule_seeds(spider) + self._recover_dead_workers(spider)
        if scheduled:
            self._idle_since = None
            raise DontCloseSpider
        if self._others_busy():
            self._idle_since = None
            raise DontCloseSpider
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since < self.config.idle_close:
            raise DontCloseSpider
        logger.info(
            "Worker %s: frontier empty for %.0f s, stopping", self.config.worker_id, self.config.idle_close
        )

    def _schedule_seeds(self, spider: Spider) -> int:
        """Turn the shared seeds into requests. A seed is moved to this worker's ``seeding`` list while its
        requests are queued, so a worker killed meanwhile gives it back (``_recover_dead_workers``)."""
        engine = self.crawler.engine
        assert engine is not None
        count = 0
        while True:
            data = self.server.lmove(self.config.key("seeds"), self.seeding_key, "LEFT", "RIGHT")
            if data is None:
                break
            for request in spider.requests_from_seed(json.loads(data)):  # type: ignore[attr-defined]
                engine.crawl(request)
                count += 1
            self.server.lrem(self.seeding_key, 1, data)
        return count

    def _dead_workers(self) -> set[str]:
        workers = set()
        for kind in ("inflight", "seeding"):
            prefix = self.config.key(f"{kind}:")
            for raw_key in self.server.scan_iter(match=prefix + "*"):
                worker = raw_key.decode()[len(prefix) :]
                if worker != self.config.worker_id and ":" not in worker:
                    workers.add(worker)
        return {w for w in workers if not self.server.exists(self.config.key(f"worker:{w}"))}

    def _recover_dead_workers(self, spider: Spider) -> int:
        engine = self.crawler.engine
        assert engine is not None
        recovered = 0
        for worker in sorted(self._dead_workers()):
            keys = [
                self.config.key(f"inflight:{worker}"),
                self.config.key(f"worker:{worker}"),
                self.config.key(f"seeding:{worker}"),
                self.config.key("requests"),
                self.config.key("seeds"),
            ]
            result = self._recover(keys=keys)
            if result == -1:
                continue  # its heartbeat came back
            moved, older = int(result[0]), result[1]
            for blob in older:
                request = request_from_dict(pickle.loads(blob), spider=spider)
                request.dont_filter = True
                engine.crawl(request)
            count = moved + len(older)
            if count:
                logger.warning(
                    "Requeued %d in-flight request(s) and seed(s) of dead worker %s", count, worker
                )
                self.crawler.stats.inc_value("redis/requeued", count)
            recovered += count
        return recovered

    def _others_busy(self) -> bool:
        """True while the shared queue has work or another live worker has requests in flight."""
        if self.server.zcard(self.config.key("requests")) or self.server.llen(self.config.key("seeds")):
            return True
        for kind in ("inflight", "seeding"):
            prefix = self.config.key(f"{kind}:")
            for raw_key in self.server.scan_iter(match=prefix + "*"):
                worker = raw_key.decode()[len(prefix) :]
                if ":" not in worker and worker != self.config.worker_id:
                    return True  # alive: it may still add requests; dead: recovery picks it up next idle
        return False
