"""Focused crawling: the crawl spends its budget on the topic's coverage first.

Every candidate article URL gets a score from what is known before it is fetched (``FocusScorer``): the
news-sitemap title and keywords, the feed title and description, the anchor text of the link, the
percent-decoded URL slug (Arabic slugs carry the headline's words), whether it was listed in a section of
the topic, and its recency. The text is scored with the relevance topic (``relevance/``: same gazetteer,
same Arabic normaliser) as if it were a headline. The score becomes the request's Scrapy priority.

Settings (``FocusConfig``, validated at start):

- ``CRAWL_FOCUS``: ``prioritise`` (default: everything is fetched, topic candidates first; discovery
  documents and the topic's sections before any article), ``only`` (articles scoring below
  ``CRAWL_FOCUS_MIN_SCORE`` are not fetched; listings still are), ``off`` (discovery order, no section
  discovery: the crawl as it was).
- ``CRAWL_SITE_BUDGET``: at most this many article fetches per site per crawl (0: no cap), taken in priority
  order by ``FocusBudgetMiddleware``.
- ``CRAWL_FOCUS_MIN_SCORE``: the ``only`` threshold.

Sections of the topic are found in the site's navigation (``is_topic_section``): a non-article link whose
text or decoded path names one of the topic's places or actors. Their pagination is walked to its end (or
to ``since``), not bounded by ``CRAWL_MAX_LISTING_PAGES``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from scrapy.exceptions import IgnoreRequest

from crawler.config import SettingsReader
from relevance import Topic

if TYPE_CHECKING:
    from crawler.focus.learn import HarvestRates
    from crawler.frontier import Frontier

FOCUS_MODES = ("prioritise", "only", "off")
# Discovery documents first (their entries carry the hints), then the topic's sections, then articles.
DISCOVERY_PRIORITY = 3000
SECTION_PRIORITY = 2000
SECTION_BONUS = 12.0
MAX_SCORE = 60.0
RECENCY_DAYS = 365.0
RECENCY_BONUS = 3.0
_SLUG_SPLIT = re.compile(r"[-_+./\s]+")
_SECTION_PATH = re.compile(
    r"/(category|categories|section|sections|tag|tags|topic|topics|where|country|news|c)/", re.I
)


class BudgetExhausted(IgnoreRequest):
    """An article request past its site's CRAWL_SITE_BUDGET: not fetched, counted."""


class Superseded(IgnoreRequest):
    """An article request whose URL was requested again with a better score, or already fetched."""


@dataclass(frozen=True)
class FocusConfig:
    mode: str
    site_budget: int
    min_score: float

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    @classmethod
    def from_settings(cls, settings: Any) -> FocusConfig:
        r = SettingsReader(settings)
        mode = r.choice("CRAWL_FOCUS", FOCUS_MODES)
        budget = r.integer("CRAWL_SITE_BUDGET", minimum=0, hint=" (article fetches per site; 0: no cap)")
        min_score = r.number("CRAWL_FOCUS_MIN_SCORE", minimum=0)
        r.check()
        return cls(mode=mode, site_budget=budget, min_score=min_score)


def slug_text(url: str) -> str:
    """The words of a URL's path: percent-decoded, separators as spaces (``/2024/05/ليبيا-اليوم-12/``)."""
    path = unquote(urlsplit(url).path, errors="replace")
    return " ".join(part for part in _SLUG_SPLIT.split(path) if part and not part.isdigit())


class FocusScorer:
    """Pre-fetch topic scores of candidate URLs, and the Scrapy priorities made from them."""

    def __init__(self, topic: Topic, config: FocusConfig, harvest: HarvestRates | None = None) -> None:
        from crawler.focus.learn import HarvestRates

        self.topic = topic
        self.config = config
        self.candidates = Candidates()
        self.harvest = harvest if harvest is not None else HarvestRates(None)

    def text_score(self, *texts: str | None) -> float:
        text = " ".join(t for t in texts if t)
        return self.topic.score(text, "").score if text.strip() else 0.0

    def score(
        self,
        url: str,
        *hints: str | None,
        in_section: bool = False,
        published: str | None = None,
        now: datetime | None = None,
    ) -> float:
        score = min(self.text_score(*hints, slug_text(url)), MAX_SCORE)
        if in_section:
            score += SECTION_BONUS
        if score > 0:
            score += recency(published, now)
        return round(score, 2)

    def wanted(self, score: float) -> bool:
        """False when CRAWL_FOCUS=only and the candidate scores below CRAWL_FOCUS_MIN_SCORE."""
        return self.config.mode != "only" or score >= self.config.min_score

    def is_topic_section(self, url: str, text: str, *, in_navigation: bool) -> bool:
        """A link to a listing of the topic: in the navigation or under a section-like path, naming it."""
        if not (in_navigation or _SECTION_PATH.search(urlsplit(url).path)):
            return False
        return self.text_score(text, slug_text(url)) > 0


_PAGE_NUMBER = re.compile(r"(/page/|[?&](?:page|paged|p|pg)=)(\d+)(/?)$", re.I)
MAX_SECTION_PAGES = 10_000


def page_range(urls: list[str]) -> list[str]:
    """Every page of a paginated listing from the page links it shows ("1 2 3 … 41"): pages 2 to the
    highest number, for links that differ only in that number (so a section is walked to its end without
    waiting for each "next" page in turn)."""
    templates: dict[tuple[str, str], int] = {}
    for url in urls:
        match = _PAGE_NUMBER.search(url)
        if match is not None:
            key = (url[: match.start(2)], match.group(3))
            templates[key] = max(templates.get(key, 0), int(match.group(2)))
    if len(templates) != 1:
        return []
    (prefix, suffix), last = next(iter(templates.items()))
    return [f"{prefix}{n}{suffix}" for n in range(2, min(last, MAX_SECTION_PAGES) + 1)]


def recency(published: str | None, now: datetime | None = None) -> float:
    """Up to RECENCY_BONUS for a candidate published today, falling to 0 over RECENCY_DAYS."""
    from crawler.discovery import parse_feed_date

    date = parse_feed_date(published)
    if date is None:
        return 0.0
    age = ((now or datetime.now(UTC)) - date).total_seconds() / 86400
    return round(RECENCY_BONUS * max(0.0, 1 - max(age, 0.0) / RECENCY_DAYS), 2)


def priority(score: float) -> int:
    """A Scrapy request priority (higher first) from a focus score."""
    return round(score * 10)


class Candidates:
    r"""The best score each candidate article was offered with: queries on a ``crawler.frontier.Frontier``
    (the crawl's table on disk; by default one in memory).

    A link found later with a better score (the same article listed in the topic's section after its
    sitemap entry) raises its waiting row's score (``offer`` says "better"); a request handed over once is
    taken and never again, so each article is fetched once.
    """

    def __init__(self, frontier: Frontier | None = None) -> None:
        from crawler.frontier import Frontier

        self.frontier = frontier if frontier is not None else Frontier(":memory:")

    def offer(self, url: str, score: float, site: str = "") -> str | None:
        """ "new", "better" (a better score than before) or None (a duplicate, or taken already)."""
        return self.frontier.offer(url, site, score)

    def take(self, url: str, score: float) -> bool:
        """False when a better request for ``url`` exists or it was taken already."""
        from crawler.frontier import DONE, QUEUED

        state = self.frontier.state(url)
        if state is None:
            return True
        if state in (QUEUED, DONE) or (self.frontier.score(url) or 0.0) > score:
            return False
        self.frontier.mark_queued(url)
        return True

    def mark_taken(self, url: str) -> None:
        self.frontier.mark_done(url)


class FocusDownloaderMiddleware:
    """Downloader middleware: one fetch per candidate (the best-scored request), and CRAWL_SITE_BUDGET.

    Past CRAWL_SITE_BUDGET article fetches for a site, its articles are not fetched; the scheduler hands
    requests over best-scored first, so the budget goes to the best candidates.
    """

    def __init__(self, crawler: Any, budget: int) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.budget = budget
        self.fetched: dict[str, int] = {}
        self.redis = bool(crawler.settings.get("CRAWL_REDIS_URL"))

    @classmethod
    def from_crawler(cls, crawler: Any) -> FocusDownloaderMiddleware:
        from scrapy.exceptions import NotConfigured

        config = FocusConfig.from_settings(crawler.settings)
        if not config.enabled:
            raise NotConfigured("CRAWL_FOCUS is off")
        return cls(crawler, config.site_budget)

    def process_request(self, request: Any, spider: Any = None) -> None:
        meta = request.meta
        if meta.get("kind") != "article" or meta.get("focus_taken"):
            return
        # A request the frontier fed was handed over once, best first (crawler.frontier.feeder); in Redis
        # mode a candidate is requested once whatever its later scores (the spider does not rescore there).
        candidates = (
            None
            if meta.get("frontier_url") or self.redis
            else getattr(getattr(self.crawler.spider, "focus", None), "candidates", None)
        )
        if candidates is not None and not candidates.take(request.url, float(meta.get("focus_score", 0.0))):
            self.stats.inc_value("focus/superseded")
            raise Superseded(f"a better-scored request for {request.url} exists or it was fetched")
        meta["focus_taken"] = True
        if not self.budget:
            return
        site = str(meta.get("site") or "")
        done = self.fetched.get(site, 0)
        if done >= self.budget:
            self.stats.inc_value("focus/over_budget")
            self.stats.inc_value(f"focus/over_budget_by_site/{site}")
            raise BudgetExhausted(f"site {site} reached CRAWL_SITE_BUDGET={self.budget}")
        self.fetched[site] = done + 1
