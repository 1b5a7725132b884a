"""``InflightScheduler``: scrapy-redis's scheduler, telling the coordinator which requests this worker took."""

from __future__ import annotations

from scrapy import Request
from scrapy_redis.scheduler import Scheduler


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
