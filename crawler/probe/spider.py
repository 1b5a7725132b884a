"""``ProbeSpider``: looks at one site the way the ``libya`` spider would, within a request budget.

Run by ``scrapy probe`` (``crawler.commands.probe``) through the project's own downloader stack: the scope
guard, robots.txt as RFC 9309 says and the host gate (``crawler.politeness``: Crawl-delay, 429/503
back-off), Scrapy's download delay and one request at a time. Nothing is archived or stored.

1. The home page (robots.txt first, by the robots.txt middleware; its ``Sitemap:`` lines are read from the
   parser it hands to the ``robots_parsed`` signal). A home page that robots.txt forbids, that cannot be
   reached or that is not HTML ends the probe with ``ProbeReport.error``.
2. The sitemaps (robots.txt's, else ``/sitemap.xml``; indexes followed news sitemaps first, then newest
   first, up to ``max_sitemaps``) and the feeds the home page announces (``<link rel="alternate">``).
3. When those are in (the spider is idle), the article URL shape is learned from the sitemap and feed URLs
   (``crawler.probe.pattern``) and the home page's links are told apart with it, by the crawl's own rules
   (``crawler.discovery``): articles, pagination, the sections of the topic in the menu and tag links
   (``crawler.focus.FocusScorer.is_topic_section``) and other links naming the topic. The first page of
   each section is fetched.
4. When that is done: a sample of the articles found, half best pre-fetch topic score first
   (``FocusScorer.score``), half from the rest, each extracted by the crawl's ``extract_record`` with its
   relevance, and checked by the render gate's ``JsGateDetector``.
5. At the close the shape is learned again, with every listing seen.

Every request counts against the budget, robots.txt included (one per host), and discovery leaves the
sample its share; what the budget leaves out is listed in the report.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.discovery import (
    DecompressionLimitError,
    anchor_text,
    feed_links,
    gunzip_limited,
    is_next_page,
    looks_like_article,
    parse_feed,
    parse_sitemap,
)
from crawler.focus import FocusConfig, FocusScorer
from crawler.pipelines.extract import extract_record
from crawler.pipelines.relevance import topic_path
from crawler.politeness.robots import RobotsTxtUnreachable
from crawler.probe.pattern import learn_article_pattern
from crawler.probe.report import Document, ProbeReport, Sample, Section, allowed_domain
from crawler.sources import Source
from crawler.urls import canonicalize_url, is_crawlable
from extraction.gate import JsGateDetector
from relevance import Topic

logger = logging.getLogger(__name__)

# Sitemaps kept for learning the URL shape and choosing the sample (counts go on past it).
MAX_KEPT_URLS = 5000
# Links naming the topic outside a menu fetched to see whether they are listings.
MAX_OTHER_SECTIONS = 3
_CHROME = "boolean(ancestor::nav|ancestor::header|ancestor::aside|ancestor::footer)"

# The probe's downloader stack: the crawl's scope guard, robots.txt and host gate; nothing that archives.
PROBE_SETTINGS: dict[str, Any] = {
    "DOWNLOADER_MIDDLEWARES": {
        "crawler.scope.ScopeMiddleware": 50,
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        "crawler.politeness.robots.PolitenessRobotsTxtMiddleware": 100,
        "crawler.retry_after.RetryAfterMiddleware": 555,
    },
    "SPIDER_MIDDLEWARES": {},
    "ITEM_PIPELINES": {},
    "EXTENSIONS": {"crawler.politeness.extension.HostPolitenessExtension": 80},
    "ADDONS": {"crawler.secrets.SecretsMaskAddon": -200},
    "ROBOTSTXT_OBEY": True,
    "ROBOTSTXT_UNREACHABLE_RETRIES": 0,
    "CONCURRENT_REQUESTS": 1,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    # The delay is a floor between two requests, not an average.
    "DOWNLOAD_DELAY_JITTER": 0,
    "RETRY_TIMES": 1,
    "DOWNLOAD_TIMEOUT": 30,
    "COOKIES_ENABLED": True,
    "TELNETCONSOLE_ENABLED": False,
}


@dataclass(frozen=True)
class _Link:
    url: str
    text: str
    chrome: bool  # in the navigation (nav, header, aside, footer)
    next_page: bool


@dataclass
class _Candidate:
    url: str
    hints: tuple[str | None, ...]
    via: str
    in_section: bool = False
    published: str | None = None
    feed_content: str | None = None


class ProbeSpider(Spider):
    name = "probe"
    custom_settings = PROBE_SETTINGS

    report: ProbeReport
    sources: list[Source]
    trusted_hosts: set[str]
    topic_file: str
    focus: FocusScorer
    detector: JsGateDetector

    def __init__(
        self, url: str, name: str, budget: int, sample: int, max_sitemaps: int, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.start_url = url
        self.budget = budget
        self.sample_size = sample
        self.max_sitemaps = max_sitemaps
        self.report = ProbeReport(url=url, name=name, budget=budget)
        self.source = Source(name=name, home=url, allowed_domains=(allowed_domain(url),))
        self.sources = [self.source]
        self.trusted_hosts = set()
        self._hosts: set[str] = set()
        self._requested: set[str] = set()
        self._sitemaps_queued = 0
        self._candidates: dict[str, _Candidate] = {}
        self._article_urls: list[str] = []
        self._listings: set[str] = set()
        self._home_links: list[_Link] = []
        self._phase = "discovery"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ProbeSpider:
        spider: ProbeSpider = super().from_crawler(crawler, *args, **kwargs)
        spider.topic_file = str(topic_path(crawler.settings))
        spider.focus = FocusScorer(Topic.load(spider.topic_file), FocusConfig.from_settings(crawler.settings))
        spider.detector = JsGateDetector()  # as crawler.render.middleware builds it
        crawler.signals.connect(spider._robots_parsed, signal=signals.robots_parsed)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        return spider

    # --- requests within the budget ------------------------------------------------------------------

    def _request(self, url: str, callback: Any, kind: str, **meta: Any) -> Iterator[Request]:
        url = canonicalize_url(url)
        if url in self._requested or not is_crawlable(url):
            return
        host = urlsplit(url).netloc
        cost = 1 if host in self._hosts else 2  # a host's first request costs its robots.txt too
        # The sample comes last: discovery leaves it its share of the budget.
        limit = self.budget if kind == "article" else max(2, self.budget - self.sample_size)
        if self.report.requests + cost > limit:
            self.report.over_budget.append(f"{kind} {url}")
            return
        if kind in ("sitemap", "feed") and not self.source.in_scope(url):
            # A sitemap or feed the site points to on another host (a CDN), trusted as the crawl does.
            self.trusted_hosts.add((urlsplit(url).hostname or "").lower())
        self._hosts.add(host)
        self._requested.add(url)
        self.report.requests += cost
        meta.update(kind=kind, download_slot=host)
        yield Request(url, callback=callback, errback=self._failed, meta=meta, dont_filter=True)

    async def start(self) -> AsyncIterator[Any]:
        for request in self._request(self.start_url, self.parse_home, "home"):
            yield request

    def _robots_parsed(self, robotparser: Any, request: Request) -> None:
        if urlsplit(request.url).netloc != urlsplit(self.start_url).netloc:
            return
        rp = getattr(robotparser, "rp", None)
        self.report.robots_sitemaps = [str(u) for u in (getattr(rp, "sitemaps", None) or [])]
        stats = self.crawler.stats
        assert stats is not None
        statuses = [
            k.rsplit("/", 1)[-1]
            for k in stats.get_stats()
            if k.startswith("robotstxt/response_status_count/")
        ]
        self.report.robots_status = f"HTTP {statuses[-1]}" if statuses else "answered"
        agent = self.crawler.settings.get("USER_AGENT") or ""
        delay = robotparser.crawl_delay(agent) if hasattr(robotparser, "crawl_delay") else None
        self.report.crawl_delay = float(delay) if delay else None

    # --- the home page -------------------------------------------------------------------------------

    def parse_home(self, response: Response) -> Iterator[Request]:
        report = self.report
        report.home_status = response.status
        report.home = canonicalize_url(response.url)
        if not isinstance(response, HtmlResponse):
            kind = (response.headers.get(b"Content-Type") or b"no Content-Type").decode("latin-1")
            report.error = f"{response.url} is not an HTML page ({kind}): give the site's home page"
            return
        if report.home != canonicalize_url(self.start_url):
            self.source = Source(
                name=report.name, home=report.home, allowed_domains=(allowed_domain(report.home),)
            )
            self.sources = [self.source]
        self._listings.add(report.home)
        gate = self.detector.detect(response.text, response.url)
        if gate.gated and gate.reason != "too-short":
            report.notes.append(
                f"the home page is behind a JavaScript gate ({gate.reason}): the crawl renders it"
            )
        for href in feed_links(response):
            url = canonicalize_url(response.urljoin(href))
            if url not in report.autodiscovered_feeds:
                report.autodiscovered_feeds.append(url)
        for anchor in response.css("a[href]"):
            href = (anchor.attrib.get("href") or "").strip()
            url = response.urljoin(href)
            if not href or href.startswith("#") or not is_crawlable(url) or not self.source.in_scope(url):
                continue
            text = anchor_text(anchor)
            chrome = anchor.xpath(_CHROME).get() == "1"
            next_page = is_next_page(anchor.attrib.get("rel") or "", text, url)
            self._home_links.append(_Link(canonicalize_url(url), text, chrome, next_page))
        # Discovery documents first, then sections: the budget goes to what says most about the site.
        sitemaps = report.robots_sitemaps or [urljoin(report.home, "/sitemap.xml")]
        via = "robots.txt" if report.robots_sitemaps else "guessed"
        for url in sitemaps:
            yield from self._sitemap(url, via)
        for url in report.autodiscovered_feeds:
            yield from self._request(url, self.parse_feed, "feed", found_via="home page")

    def _listing_links(self) -> Iterator[Request]:
        """After the sitemaps and feeds: the home page's links, told apart with the article shape they show."""
        report = self.report
        proposal = learn_article_pattern(self._article_urls, self._listings)
        if proposal.pattern:
            self.source = dataclasses.replace(self.source, article_pattern=re.compile(proposal.pattern))
            self.sources = [self.source]
        sections: list[tuple[str, str, bool]] = []
        for link in self._home_links:
            if looks_like_article(self.source, link.url):
                report.home_articles += 1
                self._offer(_Candidate(link.url, (link.text,), "home"))
            elif link.next_page:
                self._listings.add(link.url)
            elif self.focus.is_topic_section(link.url, link.text, in_navigation=link.chrome):
                sections.append((link.url, link.text, True))
            elif self.focus.text_score(link.text) > 0:
                sections.append((link.url, link.text, False))
        seen: set[str] = set()
        others = 0
        for url, text, in_menu in sections:
            if url in seen or (not in_menu and others >= MAX_OTHER_SECTIONS):
                continue
            seen.add(url)
            others += not in_menu
            report.sections.append(Section(url, text, in_menu))
            self._listings.add(url)
        for section in report.sections:
            yield from self._request(section.url, self.parse_section, "section", section_url=section.url)

    def _sitemap(self, url: str, via: str) -> Iterator[Request]:
        if self._sitemaps_queued >= self.max_sitemaps:
            self.report.over_budget.append(f"sitemap {url} (--max-sitemaps {self.max_sitemaps})")
            return
        for request in self._request(url, self.parse_sitemap, "sitemap", found_via=via):
            self._sitemaps_queued += 1
            yield request

    # --- sitemaps, feeds, sections -------------------------------------------------------------------

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        document = Document(canonicalize_url(response.url), "unknown", response.meta["found_via"])
        self.report.documents.append(document)
        self._listings.add(document.url)
        body = response.body
        max_size = self.crawler.settings.getint("DOWNLOAD_MAXSIZE") or 64 * 1024 * 1024
        if body[:2] == b"\x1f\x8b":
            try:
                body = gunzip_limited(body, max_size)
            except DecompressionLimitError:
                document.problem = f"expands beyond {max_size} bytes"
                return
            except (OSError, EOFError, ValueError):
                document.problem = "not valid gzip"
                return
        sitemap = parse_sitemap(body)
        document.kind = sitemap.kind
        if sitemap.kind == "unknown":
            document.problem = f"not a sitemap (HTTP {response.status})"
            return
        if sitemap.kind == "sitemapindex":
            document.children = len(sitemap.entries)
            # News sitemaps first (titles, keywords, the newest articles), then the newest by lastmod.
            children = sorted(
                sitemap.entries,
                key=lambda e: ("news" not in e.loc.lower(), _descending(e.lastmod)),
            )
            for entry in children:
                document.dates.add(entry.lastmod)
                yield from self._sitemap(urljoin(response.url, entry.loc), "index")
            return
        for entry in sitemap.entries:
            loc = urljoin(response.url, entry.loc)
            document.entries += 1
            document.news_entries += entry.published is not None
            document.titled += bool(entry.title) and entry.published is not None
            document.dates.add(entry.published or entry.lastmod)
            self._article(
                loc, (entry.title, entry.keywords), "sitemap", published=entry.published or entry.lastmod
            )

    def parse_feed(self, response: Response) -> None:
        document = Document(canonicalize_url(response.url), "feed", response.meta["found_via"])
        self.report.documents.append(document)
        self._listings.add(document.url)
        entries = parse_feed(response.body)
        if not entries:
            document.problem = f"no entries (not a feed? HTTP {response.status})"
        for entry in entries:
            document.entries += 1
            document.titled += bool(entry.title)
            document.dates.add(entry.published)
            self._article(
                urljoin(response.url, entry.link),
                (entry.title, entry.content),
                "feed",
                published=entry.published,
                feed_content=entry.content,
            )

    def parse_section(self, response: Response) -> None:
        section = next(s for s in self.report.sections if s.url == response.meta["section_url"])
        if not isinstance(response, TextResponse):
            section.problem = "not an HTML page"
            return
        section.article_links = 0
        for anchor in response.css("a[href]"):
            url = response.urljoin((anchor.attrib.get("href") or "").strip())
            if not is_crawlable(url) or not self.source.in_scope(url):
                continue
            url = canonicalize_url(url)
            text = anchor_text(anchor)
            if looks_like_article(self.source, url):
                section.article_links += 1
                self._offer(_Candidate(url, (text,), "section", in_section=section.in_menu))
            elif is_next_page(anchor.attrib.get("rel") or "", text, url):
                section.paginated = True
                self._listings.add(url)

    def _article(self, url: str, hints: tuple[str | None, ...], via: str, **extra: Any) -> None:
        if not self.source.in_scope(url):
            return
        if len(self._article_urls) < MAX_KEPT_URLS:
            self._article_urls.append(url)
            self._offer(_Candidate(canonicalize_url(url), hints, via, **extra))

    def _offer(self, candidate: _Candidate) -> None:
        old = self._candidates.get(candidate.url)
        if old is None:
            self._candidates[candidate.url] = candidate
        else:  # one article listed twice: every hint counts, as in the crawl's re-scoring
            old.hints += candidate.hints
            old.in_section = old.in_section or candidate.in_section
            old.published = old.published or candidate.published
            old.feed_content = old.feed_content or candidate.feed_content

    # --- the sample ----------------------------------------------------------------------------------

    def _idle(self, spider: Spider) -> None:
        if self.report.error or self._phase == "done":
            return
        engine = self.crawler.engine
        assert engine is not None
        if self._phase == "discovery":
            self._phase = "listings"
            for request in self._listing_links():
                engine.crawl(request)
            raise DontCloseSpider
        self._phase = "done"
        scored = sorted(
            (
                (
                    self.focus.score(c.url, *c.hints, in_section=c.in_section, published=c.published),
                    index,
                    c,
                )
                for index, c in enumerate(self._candidates.values())
            ),
            key=lambda t: (-t[0], t[1]),
        )
        # Half the sample from the best candidates, the rest from the others in discovery order, so the
        # report shows both what the crawl takes first and what it drops.
        best = scored[: (self.sample_size + 1) // 2]
        rest = sorted(scored[len(best) :], key=lambda t: t[1])
        step = max(1, len(rest) // max(1, self.sample_size - len(best)))
        chosen = best + rest[::step][: self.sample_size - len(best)]
        for score, _, candidate in chosen:
            sample = Sample(candidate.url, score)
            for request in self._request(
                candidate.url, self.parse_article, "article", sample=sample, candidate=candidate
            ):
                self.report.samples.append(sample)
                engine.crawl(request)
        raise DontCloseSpider

    def parse_article(self, response: Response) -> None:
        sample: Sample = response.meta["sample"]
        candidate: _Candidate = response.meta["candidate"]
        sample.status = response.status
        if not isinstance(response, HtmlResponse):
            sample.extraction = "not_html"
            kind = (response.headers.get(b"Content-Type") or b"?").decode("latin-1")
            sample.reason = f"not HTML ({kind})"
            return
        verdict = self.detector.detect(response.text, response.url)
        sample.gate = verdict.reason if verdict.gated else None
        headers = {k.decode("latin-1"): b", ".join(v).decode("latin-1") for k, v in response.headers.items()}
        record = extract_record(
            response.body, response.url, headers, candidate.feed_content, candidate.published, self.topic_file
        )
        sample.extraction = str(record.get("status") or "")
        sample.reason = str(record.get("reason") or "")
        sample.title = str(record.get("title") or "")
        sample.published = str(record.get("date") or record.get("published") or "")
        relevance = record.get("relevance") or {}
        if relevance:
            sample.relevant = bool(relevance.get("relevant"))
            sample.score = relevance.get("score")

    # --- failures and the end ------------------------------------------------------------------------

    def _failed(self, failure: Failure) -> None:
        request: Request | None = getattr(failure, "request", None)
        if request is None:
            logger.error("probe: a request failed: %s", failure.getErrorMessage())
            return
        kind = request.meta.get("kind", "?")
        why = _failure_reason(failure)
        logger.debug("probe: %s %s failed: %s", kind, request.url, why)
        if kind == "home":
            if failure.check(RobotsTxtUnreachable):
                self.report.robots_status = "unreachable"
            self.report.error = f"{request.url}: {why}"
        elif kind in ("sitemap", "feed"):
            document = Document(request.url, "failed", request.meta.get("found_via", ""), problem=why)
            self.report.documents.append(document)
        elif kind == "section":
            for section in self.report.sections:
                if section.url == request.url:
                    section.problem = why
        elif kind == "article":
            sample: Sample = request.meta["sample"]
            sample.extraction = "failed"
            sample.reason = why

    def _closed(self, spider: Spider, reason: str) -> None:
        if self.report.error:
            return
        self.report.pattern = learn_article_pattern(self._article_urls, self._listings)


def _failure_reason(failure: Failure) -> str:
    """What went wrong, in words an operator can act on."""
    if failure.check(HttpError):
        response = getattr(failure.value, "response", None)
        return f"HTTP {getattr(response, 'status', '?')}"
    if failure.check(RobotsTxtUnreachable):
        return f"robots.txt could not be read, so nothing of the site may be fetched ({failure.getErrorMessage()})"
    if failure.check(IgnoreRequest):
        message = failure.getErrorMessage()
        return "robots.txt forbids it for our user agent" if "robots.txt" in message else message
    name = failure.type.__name__ if failure.type else "error"
    return f"cannot fetch it ({name}: {failure.getErrorMessage()})"


def _descending(value: str | None) -> str:
    """A sort key putting the newest ISO date first (unknown dates last)."""
    if not value:
        return "\uffff"
    return "".join(chr(0xFFFF - ord(c)) for c in value)
