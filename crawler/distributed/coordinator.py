"""``RedisCoordinator``: one worker's seeds, heartbeat, in-flight bookkeeping and dead-worker recovery.

See the package docstring for the keys it keeps in Redis and what happens to a dead worker's requests.
"""

from __future__ import annotations

import json
import logging
import pickle
import time
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.request import request_from_dict
from twisted.internet import task

from crawler.distributed.config import RedisConfig
from crawler.items import ArticlePage

logger = logging.getLogger(__name__)


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
