"""The ``libya`` spider: discovers and fetches the articles of every site in a sources file.

Discovery per site, all of it polite (robots.txt as RFC 9309 says, AutoThrottle, per-host limits):
robots.txt ``Sitemap:`` lines, sitemaps given in the sources file (indexes, gzip, Google news sitemaps with
``since``), RSS/Atom feeds (given, or found by ``<link rel="alternate">``), the home page and section pages
with their pagination. URLs are canonicalised (tracking parameters and fragments dropped, rel=canonical
honoured) so each article is fetched once.

Arguments: ``-a sources=FILE`` (default: setting CRAWL_SOURCES, else the packaged sources/libya.yaml),
``-a since=YYYY-MM-DD``, ``-a sites=name1,name2`` (a subset of the file).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from protego import Protego
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings
from twisted.python.failure import Failure

from crawler.config import ConfigError, CrawlConfig, default_crawl_id, user_agent_for
from crawler.discovery import (
    DecompressionLimitError,
    anchor_text,
    feed_links,
    gunzip_limited,
    is_before,
    is_next_page,
    looks_like_article,
    parse_feed,
    parse_sitemap,
)
from crawler.distributed.config import RedisConfig, apply_redis_settings
from crawler.focus import (
    DISCOVERY_PRIORITY,
    SECTION_PRIORITY,
    BudgetExhausted,
    Candidates,
    FocusConfig,
    FocusScorer,
    Superseded,
    page_range,
    priority,
)
from crawler.focus.learn import HarvestRates, harvest_path, pattern_of
from crawler.frontier import Frontier, frontier_of
from crawler.incremental import NotModified
from crawler.items import ArticlePage
from crawler.politeness.robots import RobotsTxtUnreachable
from crawler.sources import Source, load_sources
from crawler.urls import canonical_href, canonicalize_url, is_crawlable

logger = logging.getLogger(__name__)

_HTML_TYPES = (b"text/html", b"application/xhtml+xml")


class LibyaSpider(Spider):
    name = "libya"

    sources: list[Source]
    config: CrawlConfig
    trusted_hosts: set[str]
    _max_listing_pages: int
    focus: FocusScorer

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        redis_config = RedisConfig.from_settings(settings)
        if redis_config is not None:
            apply_redis_settings(settings, redis_config)
        # One crawl id and one User-Agent for every component, fixed before they are built.
        if not settings.get("CRAWL_ID"):
            settings.set("CRAWL_ID", default_crawl_id(), priority="spider")
        if not settings.get("USER_AGENT") or str(settings.get("USER_AGENT")).startswith("Scrapy/"):
            settings.set(
                "USER_AGENT", user_agent_for(settings.get("OPERATOR_CONTACT") or ""), priority="spider"
            )

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> LibyaSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        job = str(kwargs.get("_job") or "").strip()
        if job and (crawler.settings.getpriority("CRAWL_ID") or 0) <= SETTINGS_PRIORITIES["spider"]:
            # scrapyd 1.6 passes its job id as the `_job` argument: it names the crawl unless set explicitly.
            crawler.settings.set("CRAWL_ID", job.lower(), priority="spider")
        try:
            spider.config = CrawlConfig.from_settings(
                crawler.settings, sources=kwargs.get("sources"), since=kwargs.get("since")
            )
        except ConfigError:
            # Built before the add-ons: report every bad setting at once, not only this config's.
            from crawler.validation import validate_settings

            validate_settings(crawler.settings, sources=kwargs.get("sources"))
            raise
        sources = load_sources(spider.config.sources_path)
        wanted = [s.strip() for s in str(kwargs.get("sites") or "").split(",") if s.strip()]
        if wanted:
            unknown = sorted(set(wanted) - {s.name for s in sources})
            if unknown:
                raise ValueError(
                    f"-a sites: {', '.join(unknown)} not in sources file {spider.config.sources_path}"
                )
            sources = [s for s in sources if s.name in wanted]
        spider.sources = sources
        spider.trusted_hosts = set()
        spider._max_listing_pages = spider.config.max_listing_pages
        from crawler.pipelines.relevance import topic_path
        from relevance import Topic

        focus_config = FocusConfig.from_settings(crawler.settings)
        harvest = HarvestRates(harvest_path(crawler.settings) if focus_config.enabled else None)
        spider.focus = FocusScorer(Topic.load(topic_path(crawler.settings)), focus_config, harvest)
        crawler.signals.connect(spider._robots_parsed, signal=signals.robots_parsed)
        logger.info(
            "Crawl %s: %d site(s) from %s%s",
            spider.config.crawl_id,
            len(sources),
            spider.config.sources_path,
            f", since {spider.config.since}" if spider.config.since else "",
        )
        return spider

    @property
    def frontier(self) -> Frontier:
        """The crawl's frontier on disk (``crawler.frontier``): the seen-set and the candidates' scores."""
        return frontier_of(self.crawler)

    @property
    def candidates(self) -> Candidates:
        """The focus candidates, as queries on the crawl's frontier."""
        frontier = self.frontier
        if self.focus.candidates.frontier is not frontier:
            self.focus.candidates = Candidates(frontier)
        return self.focus.candidates

    # --- requests ------------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        if self.crawler.settings.get("CRAWL_REDIS_URL"):
            return  # distributed: seeds come from Redis (crawler.distributed.coordinator.RedisCoordinator)
        for item in self._start_requests():
            yield item

    def requests_from_seed(self, seed: dict[str, Any]) -> Iterator[Request]:
        """Requests for one seed ({"site", "kind", "url"}): from ``Source.seeds``, or pushed as JSON by
        ``scrapy seed`` for a distributed crawl."""
        source = next((s for s in self.sources if s.name == seed.get("site")), None)
        url = seed.get("url")
        if source is None or not isinstance(url, str):
            logger.warning("Ignoring seed for a site not in the sources file: %r", seed)
            return
        kind = seed.get("kind", "home")
        if kind == "robots":
            yield from self._req(url, source, self.parse_robots, "robots", dont_obey_robotstxt=True)
        elif kind in ("sitemap", "feed"):
            callback = self.parse_sitemap if kind == "sitemap" else self.parse_feed
            yield from self._req(url, source, callback, kind, trusted=True)
        elif kind in ("home", "section"):
            yield from self._req(url, source, self.parse_listing, kind, listing_depth=0)
        else:
            yield from self._article(url, source, via="seed")

    def _start_requests(self) -> Iterator[Request]:
        obey = self.crawler.settings.getbool("ROBOTSTXT_OBEY")
        for source in self.sources:
            for seed in source.seeds(obey):
                yield from self.requests_from_seed(seed)

    def _req(
        self,
        url: str,
        source: Source,
        callback: Any,
        kind: str,
        *,
        trusted: bool = False,
        priority: int = 0,
        **meta: Any,
    ) -> Iterator[Request]:
        """Build one request if ``url`` is crawlable and in the site's scope; count what is skipped."""
        stats = self.crawler.stats
        assert stats is not None
        if not is_crawlable(url):
            stats.inc_value("discovery/skipped/scheme")
            return
        if not trusted and not source.in_scope(url):
            stats.inc_value("discovery/skipped/offsite")
            return
        if trusted and not source.in_scope(url):
            # A sitemap or feed the site points to on another host (a CDN): fetch it, nothing else there.
            self.trusted_hosts.add((urlsplit(url).hostname or "").lower())
        canonical = canonicalize_url(url)
        if kind == "article":
            # The seen-set is the frontier's table on disk. Distributed, each worker's frontier knows only its
            # own requests: a better-scored request of an article another worker may already hold would be a
            # second fetch, so there a candidate seen once is a duplicate whatever its score.
            rescoring = self.focus.config.enabled and not self.crawler.settings.get("CRAWL_REDIS_URL")
            offer = self.candidates.offer(canonical, float(meta.get("focus_score", 0.0)), source.name)
            if offer is None or (offer == "better" and not rescoring):
                if self.frontier.existed and self.frontier.done_earlier(canonical):
                    stats.inc_value("recovery/skipped_done")  # finished by the killed run of this crawl
                else:
                    stats.inc_value("discovery/skipped/duplicate")
                return
            if offer == "better":
                # Listed again with a better score: its waiting row in the frontier gets that score.
                stats.inc_value("focus/rescored")
        request_meta: dict[str, Any] = {
            "site": source.name,
            "kind": kind,
            "render": source.render,
            # Politeness is per host and port: two sites on one IP but different ports are two sites.
            "download_slot": urlsplit(canonical).netloc,
        }
        if source.render_wait_selector:
            request_meta["render_wait_selector"] = source.render_wait_selector
        request_meta.update(meta)
        if kind == "article" and source.render == "always":
            request_meta["playwright"] = True
            request_meta["playwright_context"] = source.name
            request_meta["render_reason"] = "always"
        stats.inc_value(f"discovery/requests/{kind}")
        if kind == "article":
            stats.inc_value(f"discovery/articles_by_site/{source.name}")
        if self.focus.config.enabled:
            if kind in ("robots", "sitemap", "feed", "home"):
                priority = DISCOVERY_PRIORITY
            elif meta.get("focus_section"):
                priority = SECTION_PRIORITY
        yield Request(
            canonical,
            callback=callback,
            errback=self.on_error,
            meta=request_meta,
            priority=priority,
        )

    def _source(self, response: Response) -> Source:
        name = response.meta["site"]
        return next(s for s in self.sources if s.name == name)

    # --- robots and sitemaps -------------------------------------------------------------------------

    def _robots_parsed(self, robotparser: Any, request: Request) -> None:
        """Queue the Sitemap: lines of a site's robots.txt as soon as the robots.txt middleware parsed it."""
        source = next((s for s in self.sources if s.in_scope(request.url)), None)
        if source is None:
            return
        sitemaps = list(getattr(getattr(robotparser, "rp", None), "sitemaps", []) or [])
        engine = self.crawler.engine
        assert engine is not None
        for url in sitemaps:
            for req in self._req(url, source, self.parse_sitemap, "sitemap", trusted=True):
                engine.crawl(req)

    def parse_robots(self, response: Response) -> Iterator[Request]:
        source = self._source(response)
        if not isinstance(response, TextResponse):
            return
        # Protego (Scrapy's robots.txt parser) reads the Sitemap: lines, as for the middleware's robots.txt.
        for url in Protego.parse(response.text).sitemaps:
            yield from self._req(url, source, self.parse_sitemap, "sitemap", trusted=True)

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        source = self._source(response)
        stats = self.crawler.stats
        assert stats is not None
        max_size = self.crawler.settings.getint("DOWNLOAD_MAXSIZE") or 64 * 1024 * 1024
        body = response.body
        if body[:2] == b"\x1f\x8b":
            try:
                body = gunzip_limited(body, max_size)
            except DecompressionLimitError:
                logger.warning("Sitemap %s expands beyond %d bytes; skipped", response.url, max_size)
                stats.inc_value("discovery/sitemap_too_large")
                return
            except (OSError, EOFError, ValueError):
                logger.warning("Sitemap %s is not valid gzip; skipped", response.url)
                stats.inc_value("discovery/sitemap_invalid")
                return
        sitemap = parse_sitemap(body)
        if sitemap.kind == "unknown":
            logger.warning("%s is not a sitemap; skipped", response.url)
            stats.inc_value("discovery/sitemap_invalid")
            return
        stats.inc_value(f"discovery/sitemaps/{sitemap.kind}")
        since = self.config.since
        for entry in sitemap.entries:
            loc = urljoin(response.url, entry.loc)
            if sitemap.kind == "sitemapindex":
                if is_before(entry.lastmod, since):
                    stats.inc_value("discovery/skipped/before_since")
                    continue
                yield from self._req(loc, source, self.parse_sitemap, "sitemap")
                continue
            date = entry.published or entry.lastmod
            if is_before(date, since):
                stats.inc_value("discovery/skipped/before_since")
                continue
            yield from self._article(
                loc,
                source,
                via="sitemap",
                hints=(entry.title, entry.keywords),
                hint_published=entry.published,
                hint_modified=entry.lastmod,
            )

    # --- feeds and listing pages ---------------------------------------------------------------------

    def parse_feed(self, response: Response) -> Iterator[Request]:
        source = self._source(response)
        stats = self.crawler.stats
        assert stats is not None
        entries = parse_feed(response.body)
        if not entries:
            logger.warning("Feed %s has no entries (or is not a feed)", response.url)
            stats.inc_value("discovery/feed_empty")
        for entry in entries:
            if is_before(entry.published, self.config.since):
                stats.inc_value("discovery/skipped/before_since")
                continue
            yield from self._article(
                urljoin(response.url, entry.link),
                source,
                via="feed",
                hints=(entry.title, entry.content),
                hint_published=entry.published,
                feed_content=entry.content,
            )

    def parse_listing(self, response: Response) -> Iterator[Request]:
        """Home and section pages: article links, pagination, feed autodiscovery."""
        source = self._source(response)
        stats = self.crawler.stats
        assert stats is not None
        if not isinstance(response, TextResponse):
            stats.inc_value("discovery/listing_not_html")
            return
        kind = response.meta["kind"]
        depth = int(response.meta.get("listing_depth", 0))
        # A section of the topic (found in the navigation): walked to its end, or to `since`.
        topic_section = bool(response.meta.get("focus_section"))
        focus = self.focus.config.enabled
        pages: list[str] = []
        more_pages = depth < self._max_listing_pages or (
            topic_section and not _all_before(response, self.config.since)
        )
        if kind == "home":
            for href in feed_links(response):
                yield from self._req(response.urljoin(href), source, self.parse_feed, "feed")
        for anchor in response.css("a[href]"):
            href = (anchor.attrib.get("href") or "").strip()
            if not href or href.startswith("#"):
                continue
            url = response.urljoin(href)
            if not is_crawlable(url):
                stats.inc_value("discovery/skipped/scheme")
                continue
            if not source.in_scope(url):
                stats.inc_value("discovery/skipped/offsite")
                continue
            text = " ".join(anchor.css("::text").getall()).strip() if focus else ""
            chrome = (
                focus
                and anchor.xpath(
                    "boolean(ancestor::nav|ancestor::header|ancestor::aside|ancestor::footer)"
                ).get()
                == "1"
            )
            if self._looks_like_article(source, url):
                in_section = topic_section and not chrome
                yield from self._article(
                    url,
                    source,
                    via=kind,
                    hints=(text,),
                    in_section=in_section,
                    section=response.url if in_section else None,
                )
            elif self._is_next_page(anchor, url):
                pages.append(url)
                if more_pages:
                    yield from self._req(
                        url,
                        source,
                        self.parse_listing,
                        "section",
                        listing_depth=depth + 1,
                        **({"focus_section": True} if topic_section else {}),
                    )
            elif focus and not topic_section and self.focus.is_topic_section(url, text, in_navigation=chrome):
                stats.inc_value("focus/sections_found")
                yield from self._req(
                    url, source, self.parse_listing, "section", listing_depth=0, focus_section=True
                )
        if topic_section and self.config.since is None and depth == 0:
            # The pagination shows the last page ("1 2 3 … 41"): every page at once, not one "next" at a time.
            for url in page_range(pages):
                yield from self._req(
                    url, source, self.parse_listing, "section", listing_depth=1, focus_section=True
                )

    @staticmethod
    def _is_next_page(anchor: Any, url: str) -> bool:
        return is_next_page(anchor.attrib.get("rel") or "", anchor_text(anchor), url)

    @staticmethod
    def _looks_like_article(source: Source, url: str) -> bool:
        return looks_like_article(source, url)

    # --- articles ------------------------------------------------------------------------------------

    def _article(
        self,
        url: str,
        source: Source,
        *,
        via: str,
        hints: tuple[str | None, ...] = (),
        in_section: bool = False,
        section: str | None = None,
        **meta: Any,
    ) -> Iterator[Request]:
        stats = self.crawler.stats
        assert stats is not None
        if source.is_article(url) is False:
            stats.inc_value("discovery/skipped/not_article")
            return
        score = 0.0
        if self.focus.config.enabled:
            published = meta.get("hint_published") or meta.get("hint_modified")
            pattern = pattern_of(url, via, section)
            meta["focus_pattern"] = pattern
            # What earlier fetches of this pattern on this site turned out to be (this crawl and before).
            learned = self.focus.harvest.adjust(source.name, pattern)
            score = self.focus.score(url, *hints, in_section=in_section, published=published)
            if not self.focus.wanted(score):
                stats.inc_value("focus/skipped_low_score")
                return
            if learned:
                stats.inc_value("focus/learned")
                # Learning reorders candidates; it never takes a candidate with topic evidence below one without.
                score = round(max(1.0, score + learned) if score > 0 else max(0.0, learned), 2)
            if score > 0:
                meta["focus_score"] = score
        yield from self._req(
            url, source, self.parse_article, "article", priority=priority(score), discovered_via=via, **meta
        )

    def parse_article(self, response: Response) -> Iterable[ArticlePage | Request]:
        stats = self.crawler.stats
        assert stats is not None
        content_type = (response.headers.get(b"Content-Type") or b"").split(b";")[0].strip().lower()
        if content_type and content_type not in _HTML_TYPES:
            logger.info("Not HTML (%s): %s", content_type.decode("latin-1"), response.url)
            stats.inc_value("crawl/skipped/not_html")
            self._done(response.request)
            return []
        # rel=canonical: a later link to the canonical address is the same article, not a new fetch.
        canonical = _rel_canonical(response)
        if canonical and self._source(response).in_scope(canonical):
            # Marked done in the frontier with this page, once its item is through the pipelines.
            response.meta["frontier_canonical"] = canonical
        headers = {k.decode("latin-1"): b", ".join(v).decode("latin-1") for k, v in response.headers.items()}
        return [
            ArticlePage(
                url=canonicalize_url(response.request.url) if response.request else response.url,
                response_url=response.url,
                site=response.meta["site"],
                status=response.status,
                headers=headers,
                body=response.body,
                fetched_at=_capture_date(response),
                warc=response.meta.get("warc"),
                rendered=bool(response.meta.get("rendered")),
                render_reason=response.meta.get("render_reason"),
                discovered_via=response.meta.get("discovered_via", ""),
                hint_published=response.meta.get("hint_published"),
                feed_content=response.meta.get("feed_content"),
            )
        ]

    # --- page requisites (crawler/requisites.py): embeds only, archived, never extracted ------------------

    def parse_requisite(self, response: Response) -> Iterator[Request]:
        return self.crawler.requisites.parse(response, self)  # type: ignore[attr-defined]

    def requisite_failed(self, failure: Failure) -> None:
        self.crawler.requisites.failed(failure)  # type: ignore[attr-defined]
        self._done(getattr(failure, "request", None))

    def on_error(self, failure: Failure) -> None:
        """A page that fails is logged and counted; the crawl goes on."""
        request = getattr(failure, "request", None)
        if failure.check(BudgetExhausted, Superseded):
            self._done(
                request
            )  # past CRAWL_SITE_BUDGET or fetched by a better request (counted by crawler.focus)
            return
        if failure.check(NotModified, RobotsTxtUnreachable):
            # 304: unchanged since the last crawl (archived, counted by the incremental middleware).
            # Held back until its host's robots.txt answers (counted by the robots.txt middleware).
            self._done(request)
            return
        url = request.url if request is not None else "?"
        reason = failure.type.__name__ if failure.type else "error"
        response = getattr(failure.value, "response", None)
        if response is not None:
            reason = f"http_{response.status}"
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value(f"crawl/failed/{reason}")
        kind = request.meta.get("kind", "?") if request is not None else "?"
        stats.inc_value(f"crawl/failed_kind/{kind}")
        if request is not None and request.meta.get("site"):
            stats.inc_value(f"crawl/failed_by_site/{request.meta['site']}")
        logger.warning("Failed %s (%s): %s", url, kind, reason)
        if reason not in ("IgnoreRequest", "NotModified") and not reason.startswith("http_"):
            logger.debug("Failure detail for %s", url, exc_info=failure.getTracebackObject())
        self._done(request)

    def _done(self, request: Request | None) -> None:
        coordinator = getattr(self.crawler, "redis_coordinator", None)
        if coordinator is not None:
            coordinator.done(request)
        feeder = getattr(self.crawler, "frontier_feeder", None)
        if feeder is not None:
            feeder.done(request)


def _all_before(response: TextResponse, since: Any) -> bool:
    """True when ``since`` is set and every dated item of a listing page is older than it."""
    if since is None:
        return False
    dates = response.css("time::attr(datetime)").getall()
    return bool(dates) and all(is_before(value, since) for value in dates)


def _capture_date(response: Response) -> str:
    """The WARC-Date of the record the text will come from (for a rendered page, its DOM conversion
    record); the parse time only when the response was not archived (WARC off, HTTP cache)."""
    warc = response.meta.get("warc") or {}
    return str(warc.get("warc_date") or datetime.now(UTC).isoformat(timespec="seconds"))


def _rel_canonical(response: Response) -> str | None:
    if not isinstance(response, TextResponse):
        return None
    href = canonical_href(response.text)
    if not href:
        return None
    url = response.urljoin(href)
    return canonicalize_url(url) if is_crawlable(url) else None
