"""The distributed crawl's settings, parsed once (``RedisConfig``), and what switching it on changes.

Reads CRAWL_REDIS_URL (empty: off), CRAWL_ID, CRAWL_WORKER_ID, CRAWL_REDIS_IDLE_CLOSE and
CRAWL_REDIS_HEARTBEAT; ``apply_redis_settings`` installs the scrapy-redis scheduler and duplicate filter and
this package's components; ``seed_messages`` is what ``scrapy seed`` pushes.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any

from scrapy.settings import BaseSettings

from crawler.config import SettingsReader

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
        "SCHEDULER": "crawler.distributed.scheduler.InflightScheduler",
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
    ext.setdefault("crawler.distributed.coordinator.RedisCoordinator", 50)
    settings.set("EXTENSIONS", ext, priority="spider")
    mw = dict(settings.getdict("SPIDER_MIDDLEWARES"))
    mw.setdefault("crawler.distributed.spidermw.InflightSpiderMiddleware", 10)
    settings.set("SPIDER_MIDDLEWARES", mw, priority="spider")


def seed_messages(sources: list[Any], obey_robots: bool) -> list[str]:
    """The JSON seeds for a sources list (what ``scrapy seed`` pushes)."""
    return [json.dumps(seed) for source in sources for seed in source.seeds(obey_robots)]
