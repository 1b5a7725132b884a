"""``FrontierMiddleware``: article requests go to the frontier on disk; a feeder hands them to Scrapy.

A spider middleware of the lowest order, so it sees what every other spider middleware let through (the
incremental skip, the done-after-a-crash skip, scope): each article request the spider yields becomes a
PENDING row of the crawl's ``Frontier`` instead of an object in the scheduler's memory. The feeder keeps the
scheduler and the downloader holding about ``2 × CONCURRENT_REQUESTS`` requests: whenever a request leaves
the downloader, after each batch of new rows, and when the spider goes idle, it takes the best waiting rows
of each site (new since the site's last crawl first, then the backlog; best score, then newest) and
hands them to ``engine.crawl``. So the order is the frontier's as a whole, not that of an in-memory window.

* Articles an earlier crawl fetched (in the incremental state, not listed as changed since) come last:
  a budgeted crawl spends its budget on what it has not fetched yet.
* CRAWL_SITE_BUDGET: a site's rows are fed until the budget is spent; the rest stays PENDING and is saved
  as the site's backlog (``crawler.frontier.backlog``), which the next crawl continues.
* CRAWL_FOCUS=prioritise: rows without a topic score wait until the spider is idle once (all discovery
  done, every scored row fed), or until nothing but browser renders is in flight: a section page still
  downloading may give them a score.
* A request's row is DONE when its item went through the pipelines (or was dropped), when it failed, or
  when its page was not HTML; a resumed crawl never feeds a DONE row, nor one the recovery journal has.
* Redis mode: requests go to the shared queue as before (it is out of process already); only the seen-set
  is the frontier's.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Iterable
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.exceptions import DontCloseSpider

from crawler.focus import FocusConfig
from crawler.frontier import BACKLOG, DONE, NEW, PENDING, QUEUED, REVISIT, Frontier, frontier_of
from reporting.stats_keys import BACKLOG_BY_SITE

logger = logging.getLogger(__name__)


def encode_request(request: Request, spider: Spider) -> dict[str, Any] | None:
    """A plain GET request of one of the spider's methods as JSON-able data; None for anything else."""
    callback = getattr(request.callback, "__name__", None)
    errback = getattr(request.errback, "__name__", None)
    if (
        request.method != "GET"
        or request.body
        or callback is None
        or getattr(spider, callback, None) is None
        or (request.errback is not None and getattr(spider, errback or "", None) is None)
        or request.cookies
    ):
        return None
    meta = {k: v for k, v in request.meta.items() if not k.startswith("_")}
    data: dict[str, Any] = {"cb": callback, "meta": meta, "priority": request.priority}
    if errback:
        data["eb"] = errback
    headers = {k.decode("latin-1"): [x.decode("latin-1") for x in v] for k, v in request.headers.items()}
    if headers:
        data["headers"] = headers
    try:
        json.dumps(data)
    except (TypeError, ValueError):
        return None
    return data


def decode_request(url: str, data: dict[str, Any], spider: Spider) -> Request:
    errback = data.get("eb")
    return Request(
        url,
        callback=getattr(spider, data["cb"]),
        errback=getattr(spider, errback) if errback else None,
        meta=dict(data.get("meta") or {}),
        priority=int(data.get("priority") or 0),
        headers=data.get("headers") or None,
        # Filtered by crawler.frontier.dupefilter, which asks the frontier and keeps no fingerprint of it.
    )


class FrontierMiddleware:
    def __init__(self, crawler: Any, frontier: Frontier) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.frontier = frontier
        settings = crawler.settings
        self.config = FocusConfig.from_settings(settings)
        self.redis = bool(settings.get("CRAWL_REDIS_URL"))
        self.window = 2 * max(1, settings.getint("CONCURRENT_REQUESTS"))
        # CRAWL_FOCUS=prioritise: unscored rows wait for the first idle moment.
        self.released = self.config.mode != "prioritise"
        self.fed: dict[str, int] = {}
        self.sites: list[str] = []
        self.last_crawl: dict[str, str] = {}  # site -> when its last crawl started (backlog header)
        self._scheduled = False
        self._closing = False
        from crawler.frontier.backlog import Backlogs

        self.backlogs = Backlogs.for_crawler(crawler, frontier)

    @classmethod
    def from_crawler(cls, crawler: Any) -> FrontierMiddleware:
        # One object, listed twice: in EXTENSIONS (so its spider_closed comes before the stats file's) and
        # in SPIDER_MIDDLEWARES.
        existing = getattr(crawler, "frontier_feeder", None)
        if isinstance(existing, cls):
            return existing
        mw = cls(crawler, frontier_of(crawler))
        crawler.frontier_feeder = mw
        connect = crawler.signals.connect
        connect(mw.spider_opened, signal=signals.spider_opened)
        connect(mw.spider_idle, signal=signals.spider_idle)
        connect(mw.scheduler_empty, signal=signals.scheduler_empty)
        connect(mw.request_left, signal=signals.request_left_downloader)
        connect(mw.item_done, signal=signals.item_scraped)
        connect(mw.item_done, signal=signals.item_dropped)
        connect(mw.item_done, signal=signals.item_error)
        connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    # --- capture ----------------------------------------------------------------------------------------
    def _keep(self, item: Any) -> bool:
        if self.redis or not isinstance(item, Request) or item.meta.get("kind") != "article":
            return True
        spider = self.crawler.spider
        data = encode_request(item, spider)
        if data is None:
            return True
        site = str(item.meta.get("site") or "")
        listed = item.meta.get("hint_modified") or item.meta.get("hint_published")
        tier = BACKLOG
        last = self.last_crawl.get(site)
        if self._known(site, item.url, listed):
            tier = REVISIT
            self.stats.inc_value("frontier/revisits")
        elif last and listed and _after(listed, last):
            tier = NEW
        score = float(item.meta.get("focus_score") or 0.0)
        if self.frontier.put(
            item.url,
            site,
            data,
            score=score,
            tier=tier,
            discovered=str(item.meta.get("discovered_via") or "") or None,
            lastmod=str(listed) if listed else None,
        ):
            self.stats.inc_value("frontier/added")
            if tier == NEW:
                self.stats.inc_value("frontier/new_since_last_crawl")
        self._schedule()
        return False

    def _known(self, site: str, url: str, listed: Any) -> bool:
        """Fetched by an earlier crawl (the incremental state has its validators) and not listed as changed
        since: it waits behind the new articles and the backlog."""
        incremental = getattr(self.crawler, "incremental_state", None)
        if incremental is None:
            return False
        known = incremental.site(site).get(url)
        if known is None or not known.confirmed_at or not known.payload_digest:
            return False
        return not (listed and _after(str(listed), known.confirmed_at))

    def process_spider_output(
        self, response: Any, result: Iterable[Any], spider: Spider | None = None
    ) -> Any:
        return (item for item in result if self._keep(item))

    async def process_spider_output_async(
        self, response: Any, result: AsyncIterator[Any], spider: Spider | None = None
    ) -> AsyncIterator[Any]:
        async for item in result:
            if self._keep(item):
                yield item

    # --- feeding ----------------------------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._scheduled or self._closing:
            return
        self._scheduled = True
        from twisted.internet import reactor

        clock: Any = reactor
        clock.callLater(0, self.top_up)

    def _in_flight(self) -> int:
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)
        if engine is None or slot is None:
            return self.window
        # Also the responses the spider and the item pipelines still work on: fed, not finished.
        scraper = getattr(getattr(engine, "scraper", None), "slot", None)
        busy = len(scraper.active) + scraper.itemproc_size if scraper is not None else 0
        # Renders waiting for a browser page outside CONCURRENT_REQUESTS (crawler.render.queue) hold no slot:
        # the window keeps plain pages coming meanwhile.
        waiting = int(getattr(engine.downloader, "renders_uncounted", 0))
        return len(slot.scheduler) + len(engine.downloader.active) - waiting + busy

    def _budget_left(self, site: str) -> int:
        if not self.config.site_budget:
            return 1 << 30
        return max(0, self.config.site_budget - self.fed.get(site, 0))

    def top_up(self) -> int:
        """Feed the best waiting rows until the window is full; returns how many were fed."""
        self._scheduled = False
        if self._closing or self.redis:
            return 0
        room = self.window - self._in_flight()
        fed = 0
        if room > 0:
            sites = [s for s in self.sites if self._budget_left(s) > 0]
            share = math.ceil(room / len(sites)) if sites else 0
            for site in sites:
                fed += self._feed(site, min(share, self._budget_left(site)))
        self.frontier.commit()
        return fed

    def _feed(self, site: str, limit: int) -> int:
        engine = self.crawler.engine
        spider = self.crawler.spider
        done = getattr(getattr(self.crawler, "recovery", None), "done", None) or ()
        fed = 0
        for url, data in self.frontier.take(site, limit, unscored=self.released):
            if url in done:
                # Finished by the killed run (its journal has it): not fetched again.
                self.frontier.mark_done(url, site)
                self.stats.inc_value("recovery/skipped_done")
                continue
            request = decode_request(url, data, spider)
            request.meta["frontier_url"] = url
            engine.crawl(request)
            fed += 1
        if fed:
            self.fed[site] = self.fed.get(site, 0) + fed
            self.stats.inc_value("frontier/fed", fed)
            # A run resumed after a kill goes on with the budget the killed one had left.
            self.frontier.set_info(f"fed:{site}", str(self.fed[site]))
        return fed

    def request_left(self, request: Request, spider: Spider | None = None) -> None:
        self._schedule()

    def done(self, request: Request | None, *, fetched: bool = True) -> None:
        """A fed request is finished (its page failed, was not HTML, was not modified, or its item is done;
        ``fetched=False``: it was a duplicate, so its own URL is someone else's). The redirects it went
        through are done with it."""
        if request is None:
            return
        meta = request.meta
        site = str(meta.get("site") or "")
        urls = [meta.get("frontier_url"), meta.get("frontier_canonical")]
        if meta.get("frontier_url"):
            urls += [*(meta.get("redirect_urls") or ()), request.url if fetched else None]
        for url in dict.fromkeys(str(u) for u in urls if u):
            self.frontier.mark_done(url, site)
        self._schedule()  # commits soon

    def item_done(self, item: Any, response: Any = None, spider: Any = None, **_: Any) -> None:
        self.done(getattr(response, "request", None))

    def spider_idle(self, spider: Spider) -> None:
        if self.redis:
            return
        self.frontier.commit()
        lost = self.frontier.count(QUEUED)
        if lost:
            # Nothing is in the scheduler or the downloader: these left without a callback or an errback.
            logger.warning("Frontier: %d fed request(s) ended without an answer; marked done", lost)
            self.stats.inc_value("frontier/lost", lost)
            self.frontier.mark_queued_done()
        if not self.released:
            self._release()
        if self.top_up():
            raise DontCloseSpider

    def scheduler_empty(self) -> None:
        """Nothing to fetch but browser renders: the unscored rows go now, not at the idle signal. A render
        takes seconds (up to RENDER_TIMEOUT) and yields no better candidate; waiting left every other slot
        empty meanwhile (bench/timeline.py)."""
        if self.released or self.redis or self._closing:
            return
        if _only_renders_in_flight(self.crawler.engine):
            self._release()
            self.stats.inc_value("focus/released_early")
            self.top_up()

    def _release(self) -> None:
        self.released = True
        self.stats.set_value("frontier/released_unscored", self.frontier.count(PENDING))

    # --- start and end ----------------------------------------------------------------------------------
    def spider_opened(self, spider: Spider) -> None:
        self.sites = [s.name for s in getattr(spider, "sources", [])]
        for site in self.sites:
            self.fed[site] = int(self.frontier.info(f"fed:{site}") or 0)
        if self.frontier.requeued:
            self.stats.set_value("frontier/requeued", self.frontier.requeued)
        self.last_crawl = self.backlogs.open(
            self.sites, since=getattr(getattr(spider, "config", None), "since", None)
        )

    def spider_closed(self, spider: Spider, reason: str = "") -> None:
        self._closing = True
        self.frontier.commit()
        for site in self.sites:
            self.stats.set_value(f"frontier/fed_by_site/{site}", self.fed.get(site, 0))
            if not self.redis:
                self.stats.set_value(BACKLOG_BY_SITE.format(site=site), self.frontier.count_waiting(site))


def _only_renders_in_flight(engine: Any) -> bool:
    """Idle but for browser renders: every start request handled, nothing in the scraper, and every
    request in the downloader a render (``Engine.spider_is_idle`` without its empty-downloader check)."""
    scraper = getattr(getattr(engine, "scraper", None), "slot", None)
    downloader = getattr(engine, "downloader", None)
    if scraper is None or downloader is None or not scraper.is_idle():
        return False
    if getattr(engine, "_start", None) is not None:  # start requests still coming (Scrapy 2.13+)
        return False
    return all(request.meta.get("playwright") for request in downloader.active)


def _after(listed: str, last: str) -> bool:
    from archive.state import parse_time

    a, b = parse_time(str(listed)), parse_time(last)
    return a is not None and b is not None and a > b


__all__ = ["DONE", "FrontierMiddleware", "decode_request", "encode_request"]
