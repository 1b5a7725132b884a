"""One crawl on several machines: scrapy-redis on Redis, switched on by CRAWL_REDIS_URL.

Reads: CRAWL_REDIS_URL (empty: off), CRAWL_ID (must be the same on every worker), CRAWL_WORKER_ID (default:
host name and process id), CRAWL_REDIS_IDLE_CLOSE (seconds a worker waits with nothing to do before it
stops; default 10), CRAWL_REDIS_HEARTBEAT (seconds; default 5).

Every worker shares, under ``libya:<crawl-id>:``: the request queue (``requests``) and duplicate filter
(``dupefilter``) of scrapy-redis; the seeds (``seeds``, JSON pushed by ``scrapy seed``); a heartbeat per
worker (``worker:<id>``, with a time-to-live); the requests each worker has in flight (``inflight:<id>``).
The revisit digest index is shared across crawls at ``libya:digests``.

A request counts as in flight from the moment this worker takes it from the shared queue
(``InflightScheduler``) until its article is stored or dropped, its errback ran, or its callback finished.

Seeds are turned into requests by the spider, so they pass through the shared duplicate filter
(scrapy-redis's own ``make_request_from_data`` sets ``dont_filter`` and would skip it).

A worker that dies (killed, machine lost) stops refreshing its heartbeat. Any other worker that finds the
heartbeat gone claims the dead worker's in-flight requests (an atomic RENAME, so one claimant) and puts
them back on the queue with ``dont_filter``: requests in flight are *requeued and fetched again*. A request
leaves the in-flight set only when its response has been fully processed (its article stored or dropped),
so a worker killed between download and storage loses nothing either.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import socket
import time
from dataclasses import dataclass
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.settings import BaseSettings
from scrapy.utils.request import request_from_dict
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler.config import SettingsReader
from crawler.items import ArticlePage

logger = logging.getLogger(__name__)

DIGEST_KEY = "libya:digests"


@dataclass(frozen=True)
class RedisConfig:
    url: str
    crawl_id: str
    worker_id: str
    idle_close: float
    heartbeat: float

    @property
    def prefix(self) -> str:
        return f"libya:{self.crawl_id}"

    def key(self, name: str) -> str:
        return f"{self.prefix}:{name}"

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RedisConfig | None:
        """None when CRAWL_REDIS_URL is empty; raises ``ConfigError`` naming every bad CRAWL_REDIS_* setting."""
        r = SettingsReader(settings)
        url = r.text("CRAWL_REDIS_URL")
        worker = r.identifier("CRAWL_WORKER_ID", "must be letters, digits, '_', '-' or '.'")
        idle = r.number("CRAWL_REDIS_IDLE_CLOSE", positive=True, hint=" (seconds)")
        beat = r.number("CRAWL_REDIS_HEARTBEAT", positive=True, hint=" (seconds)")
        if url and not url.startswith(("redis://", "rediss://", "unix://")):
            r.fail(f"CRAWL_REDIS_URL {url!r} must be a redis://, rediss:// or unix:// URL")
        crawl_id = r.text("CRAWL_ID")
        if url and not crawl_id:
            r.fail("CRAWL_REDIS_URL needs CRAWL_ID: every worker of one crawl must use the same id")
        r.check()
        if not url:
            return None
        worker = worker or f"{socket.gethostname()}-{os.getpid()}"
        return cls(url=url, crawl_id=crawl_id, worker_id=worker, idle_close=idle, heartbeat=beat)


def apply_redis_settings(settings: BaseSettings, config: RedisConfig) -> None:
    """Switch the scheduler and duplicate filter to scrapy-redis (called from the spider's update_settings)."""
    values = {
        "SCHEDULER": "crawler.distributed.InflightScheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,
        "REDIS_URL": config.url,
        "SCHEDULER_QUEUE_KEY": config.key("requests"),
        "SCHEDULER_DUPEFILTER_KEY": config.key("dupefilter"),
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "CRAWL_WORKER_ID": config.worker_id,
    }
    for name, value in values.items():
        settings.set(name, value, priority="spider")
    ext = dict(settings.getdict("EXTENSIONS"))
    ext.setdefault("crawler.distributed.RedisCoordinator", 50)
    settings.set("EXTENSIONS", ext, priority="spider")
    mw = dict(settings.getdict("SPIDER_MIDDLEWARES"))
    mw.setdefault("crawler.distributed.InflightSpiderMiddleware", 10)
    settings.set("SPIDER_MIDDLEWARES", mw, priority="spider")


def seed_messages(sources: list[Any], obey_robots: bool) -> list[str]:
    """The JSON seeds for a sources list (what ``scrapy seed`` pushes)."""
    return [json.dumps(seed) for source in sources for seed in source.seeds(obey_robots)]


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value, protocol=4)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    return True


def _fingerprint(request: Request) -> str:
    return f"{request.method} {request.url}"


class RedisCoordinator:
    """Seeds, heartbeat, in-flight bookkeeping and dead-worker recovery for one worker."""

    def __init__(self, crawler: Crawler, config: RedisConfig) -> None:
        import redis

        self.crawler = crawler
        self.config = config
        self.server: Any = redis.Redis.from_url(config.url)
        self.inflight_key = config.key(f"inflight:{config.worker_id}")
        self.heartbeat_key = config.key(f"worker:{config.worker_id}")
        self._beat: task.LoopingCall | None = None
        self._idle_since: float | None = None

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

    def track(self, request: Request, spider: Spider) -> None:
        """Record a request this worker took from the shared queue, until its outcome is known."""
        if request.callback is NO_CALLBACK:
            return  # engine-internal downloads (robots.txt): their answer never reaches the spider
        data = request.to_dict(spider=spider)
        # The renderer adds callables to a browser request's meta after the queue; they are rebuilt when
        # the request comes back, so they are left out here.
        data["meta"] = {k: v for k, v in data.get("meta", {}).items() if _picklable(v)}
        with self.server.pipeline() as pipe:
            pipe.hset(self.inflight_key, _fingerprint(request), pickle.dumps(data, protocol=4))
            # A redirect hop is done once the request it led to is on its way.
            for url in request.meta.get("redirect_urls", []):
                pipe.hdel(self.inflight_key, f"GET {url}")
            pipe.execute()

    def done(self, request: Request | None) -> None:
        if request is not None:
            self.server.hdel(self.inflight_key, _fingerprint(request))

    def item_done(
        self, item: Any, response: Response | None = None, spider: Spider | None = None, **kw: Any
    ) -> None:
        if isinstance(item, ArticlePage) and response is not None:
            self.done(response.request)

    # --- seeds, recovery and closing -----------------------------------------------------------------

    def spider_idle(self, spider: Spider) -> None:
        # Idle means nothing of ours is downloading or being processed: what our in-flight set still holds
        # are requests that ended without reaching the spider (a redirect to an already seen URL, say).
        self.server.delete(self.inflight_key)
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
        engine = self.crawler.engine
        assert engine is not None
        count = 0
        while True:
            data = self.server.lpop(self.config.key("seeds"))
            if data is None:
                break
            for request in spider.requests_from_seed(json.loads(data)):  # type: ignore[attr-defined]
                engine.crawl(request)
                count += 1
        return count

    def _recover_dead_workers(self, spider: Spider) -> int:
        engine = self.crawler.engine
        assert engine is not None
        recovered = 0
        prefix = self.config.key("inflight:")
        for raw_key in self.server.scan_iter(match=prefix + "*"):
            key = raw_key.decode()
            worker = key[len(prefix) :]
            if worker == self.config.worker_id or ":" in worker:
                continue
            if self.server.exists(self.config.key(f"worker:{worker}")):
                continue
            claim = self.config.key(f"claimed:{self.config.worker_id}:{time.time_ns()}")
            try:
                self.server.rename(key, claim)  # atomic: exactly one worker claims the dead one's work
            except Exception:  # redis.ResponseError when another worker renamed it first
                continue
            for blob in self.server.hvals(claim):
                request = request_from_dict(pickle.loads(blob), spider=spider)
                request.dont_filter = True
                engine.crawl(request)
                recovered += 1
            self.server.delete(claim)
            logger.warning("Requeued %d in-flight request(s) of dead worker %s", recovered, worker)
            self.crawler.stats.inc_value("redis/requeued", recovered)
        return recovered

    def _others_busy(self) -> bool:
        """True while the shared queue has work or another live worker has requests in flight."""
        if self.server.zcard(self.config.key("requests")) or self.server.llen(self.config.key("seeds")):
            return True
        prefix = self.config.key("inflight:")
        for raw_key in self.server.scan_iter(match=prefix + "*"):
            worker = raw_key.decode()[len(prefix) :]
            if ":" not in worker and self.server.hlen(raw_key):
                return True  # alive: it may still add requests; dead: recovery picks it up next idle
        return False


class InflightScheduler(Scheduler):
    """scrapy-redis's scheduler, recording each request it hands this worker as in flight, from the moment
    it leaves the shared queue (requests waiting for robots.txt or a download slot are covered too)."""

    def next_request(self) -> Request | None:
        request: Request | None = super().next_request()
        spider = getattr(self, "spider", None)
        coordinator = getattr(getattr(spider, "crawler", None), "redis_coordinator", None)
        if request is not None and coordinator is not None:
            coordinator.track(request, spider)
        return request


class InflightSpiderMiddleware:
    """Marks a response done once the spider's output for it is exhausted, unless it yielded an article
    (then the article's pipeline outcome marks it)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> InflightSpiderMiddleware:
        if not crawler.settings.get("CRAWL_REDIS_URL"):
            raise NotConfigured("CRAWL_REDIS_URL is empty")
        return cls(crawler)

    async def process_spider_output_async(
        self, response: Response, result: Any, spider: Spider | None = None
    ) -> Any:
        yielded_article = False
        async for obj in result:
            if isinstance(obj, ArticlePage):
                yielded_article = True
            yield obj
        if not yielded_article:
            self._done(response)

    def process_spider_output(self, response: Response, result: Any, spider: Spider | None = None) -> Any:
        yielded_article = False
        for obj in result:
            if isinstance(obj, ArticlePage):
                yielded_article = True
            yield obj
        if not yielded_article:
            self._done(response)

    def process_spider_exception(
        self, response: Response, exception: Exception, spider: Spider | None = None
    ) -> None:
        self._done(response)

    def _done(self, response: Response) -> None:
        coordinator = getattr(self.crawler, "redis_coordinator", None)
        if coordinator is not None:
            coordinator.done(response.request)
