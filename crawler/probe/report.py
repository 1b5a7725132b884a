"""What a probe found, the sources entry it proposes, and the text ``scrapy probe`` prints.

``ProbeReport`` is filled by ``crawler.probe.spider.ProbeSpider``; ``proposed_entry()`` is a sources entry in
the schema of ``crawler.sources`` (checked by its own ``parse_sources``), and ``render()`` is a whole sources
file: the report as ``#`` comment lines, then the entry, so ``scrapy probe URL > site.yaml`` is usable as
``-a sources=site.yaml`` as it is.

The entry names only what the crawl would not find by itself: sitemaps named in robots.txt, feeds announced
by the home page's ``<link rel="alternate">`` and sections of the topic in the site's menu (found by the
crawl's focus discovery, which walks them as the topic's sections: listed under ``sections:`` they would be
plain listings) are reported, not listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from crawler.discovery import parse_feed_date
from crawler.probe.pattern import PatternProposal
from crawler.sources import Source, parse_sources

_NAME_CHARS = re.compile(r"[^a-z0-9_-]+")


def site_name(url: str) -> str:
    """A sources ``name`` from a home URL: ``https://www.alwasat.ly/`` -> ``alwasat``; an IP keeps its port."""
    parts = urlsplit(url)
    host = (parts.hostname or "site").lower().removeprefix("www.")
    if host.replace(".", "").isdigit() or ":" in host:
        base = host.replace(".", "-").replace(":", "-") + (f"-{parts.port}" if parts.port else "")
    else:
        base = host.split(".")[0]
    name = _NAME_CHARS.sub("-", base).strip("-_") or "site"
    if not name[0].isalnum():
        name = "site-" + name
    return name[:63]


def allowed_domain(url: str) -> str:
    """The ``allowed_domains`` entry of a home URL: its host without ``www.``, with a non-default port."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return f"{host}:{parts.port}" if parts.port and parts.port != default else host


@dataclass
class DateRange:
    first: datetime | None = None
    last: datetime | None = None

    def add(self, value: str | None) -> None:
        parsed = parse_feed_date(value)
        if parsed is None:
            return
        if self.first is None or parsed < self.first:
            self.first = parsed
        if self.last is None or parsed > self.last:
            self.last = parsed

    def text(self) -> str:
        if self.first is None or self.last is None:
            return "no dates"
        return f"{self.first.date().isoformat()} to {self.last.date().isoformat()}"


@dataclass
class Document:
    """A sitemap (index or urlset) or feed the probe fetched."""

    url: str
    kind: str  # sitemapindex | urlset | feed | unknown | failed
    found_via: str  # robots.txt | guessed | index | home page
    entries: int = 0
    news_entries: int = 0  # entries with a news:publication_date
    titled: int = 0  # entries with a title (news:title, feed title)
    dates: DateRange = field(default_factory=DateRange)
    children: int = 0
    problem: str = ""

    def line(self) -> str:
        if self.problem:
            return f"{self.url} ({self.found_via}): {self.problem}"
        if self.kind == "sitemapindex":
            dates = f", lastmod {self.dates.text()}" if self.dates.first else ""
            return f"{self.url} ({self.found_via}): sitemap index of {self.children} sitemap(s){dates}"
        what = "feed" if self.kind == "feed" else "sitemap"
        if self.kind == "urlset" and self.news_entries:
            what = f"news sitemap, titles on {self.titled} of {self.news_entries} news entries"
        return f"{self.url} ({self.found_via}): {what}, {self.entries} URL(s), {self.dates.text()}"


@dataclass
class Section:
    url: str
    text: str
    in_menu: bool  # the crawl's focus discovery finds it by itself
    article_links: int | None = None  # on its first page, when fetched
    paginated: bool = False
    problem: str = ""


@dataclass
class Sample:
    url: str
    prefetch_score: float
    status: int | None = None
    gate: str | None = None  # the JavaScript-gate reason, None when not gated
    extraction: str = ""  # article | no_article | not_html | failed
    reason: str = ""
    title: str = ""
    published: str = ""
    relevant: bool | None = None
    score: float | None = None

    def line(self) -> str:
        url = unquote(self.url)  # Arabic slugs read as Arabic
        if self.extraction in ("failed", "not_html"):
            return f"{url}: {self.reason}"
        gate = f"JavaScript gate ({self.gate}), rendered by the crawl" if self.gate else "no gate"
        if self.extraction != "article":
            return f"{self.status} {url}: {gate}; no article ({self.reason})"
        verdict = "relevant" if self.relevant else "not relevant"
        date = self.published or "no date"
        return f"{self.status} {url}: {gate}; «{self.title[:60]}» {date}; {verdict} (score {self.score})"


class ProbeFailed(Exception):
    """The site cannot be crawled as given (unreachable, not HTML, robots.txt keeps us off)."""


@dataclass
class ProbeReport:
    url: str
    name: str
    budget: int
    home: str = ""
    home_status: int | None = None
    robots_status: str = "not read"
    robots_sitemaps: list[str] = field(default_factory=list)
    crawl_delay: float | None = None
    documents: list[Document] = field(default_factory=list)
    autodiscovered_feeds: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    home_articles: int = 0
    pattern: PatternProposal | None = None
    samples: list[Sample] = field(default_factory=list)
    requests: int = 0
    over_budget: list[str] = field(default_factory=list)
    error: str = ""
    notes: list[str] = field(default_factory=list)

    # --- the entry ------------------------------------------------------------------------------------

    def proposed_entry(self) -> dict[str, Any]:
        """The sources entry (see the module docstring for what it leaves to the crawl)."""
        home = self.home or self.url
        entry: dict[str, Any] = {"name": self.name, "home": home, "allowed_domains": [allowed_domain(home)]}
        robots = set(self.robots_sitemaps)
        sitemaps = [d.url for d in self.documents if d.found_via == "guessed" and d.kind in _SITEMAP_KINDS]
        sitemaps = [u for u in sitemaps if u not in robots]
        if sitemaps:
            entry["sitemaps"] = sitemaps
        sections = [s.url for s in self.sections if not s.in_menu and (s.article_links or 0) > 0]
        if sections:
            entry["sections"] = sections
        if self.pattern is not None and self.pattern.pattern:
            entry["article_pattern"] = self.pattern.pattern
        entry["render"] = "auto"
        return entry

    def source(self) -> Source:
        """The proposed entry, loaded by the crawl's own sources loader (raises ``SourcesError``)."""
        return parse_sources({"sites": [self.proposed_entry()]}, origin=f"the proposed entry for {self.url}")[
            0
        ]

    # --- the text -------------------------------------------------------------------------------------

    def lines(self) -> list[str]:
        out = [f"scrapy probe {self.url}: {self.requests} request(s), budget {self.budget}"]
        if self.home and self.home != self.url:
            out.append(f"home page: {self.home} (redirected)")
        delay = f"Crawl-delay {self.crawl_delay:g}s" if self.crawl_delay else "no Crawl-delay"
        out.append(f"robots.txt: {self.robots_status}, {len(self.robots_sitemaps)} Sitemap: line(s), {delay}")
        sitemaps = [d for d in self.documents if d.kind != "feed" and d.found_via != "home page"]
        out.append(f"sitemaps: {len(sitemaps) or 'none found'}")
        out += [f"  {d.line()}" for d in sitemaps]
        total = sum(d.entries for d in sitemaps if d.kind == "urlset")
        if total:
            out.append(f"  {total} URL(s) in the sitemaps fetched")
        feeds = [d for d in self.documents if d.kind == "feed" or d.found_via == "home page"]
        out.append(f"feeds: {len(feeds) or 'none autodiscovered'}")
        out += [f"  {d.line()}" for d in feeds]
        out.append(f"home page: {self.home_articles} article link(s)")
        out.append(f"sections naming the topic: {len(self.sections) or 'none'}")
        for s in self.sections:
            where = (
                "the crawl finds and walks it itself" if s.in_menu else "not in a menu: under sections below"
            )
            page = s.problem or (
                f"{s.article_links} article link(s){', paginated' if s.paginated else ''}"
                if s.article_links is not None
                else "not fetched"
            )
            out.append(f"  {s.url} «{s.text[:40]}» ({where}): {page}")
        if self.pattern is not None:
            shown = self.pattern.pattern or "none (the crawl's guess is used)"
            out.append(f"article_pattern: {shown}: {self.pattern.reason}")
        out.append(f"sample: {len(self.samples)} article(s)")
        out += [f"  {s.line()}" for s in self.samples]
        gated = [s for s in self.samples if s.gate]
        if gated:
            out.append(
                f"render: auto ({len(gated)} of {len(self.samples)} sampled articles need the browser)"
            )
        relevant = [s for s in self.samples if s.relevant]
        if self.samples:
            unread = len([s for s in self.samples if s.extraction != "article"])
            line = f"relevant: {len(relevant)} of {len(self.samples)} sampled articles"
            out.append(line + (f" ({unread} without an article as fetched)" if unread else ""))
        if self.over_budget:
            out.append(
                f"left out by the budget or --max-sitemaps: {len(self.over_budget)} request(s), first"
                f" {self.over_budget[0]}"
            )
        out += [f"note: {n}" for n in self.notes]
        return out

    def render(self) -> str:
        """The report as comments, then the proposed entry as a sources file."""
        head = "".join(f"# {line}\n" for line in self.lines())
        document = {"sites": [self.proposed_entry()]}
        return head + yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=200)


_SITEMAP_KINDS = ("sitemapindex", "urlset")
