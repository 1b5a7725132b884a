"""Page requisites: the stylesheets, scripts, images, fonts and icons an archived HTML page needs to replay.

A page fetched without the browser is archived as HTML alone unless its embeds are fetched too. For every
HTML page the spider archives (articles, home and section pages; ``response.meta["kind"]``) that was not
rendered (the browser captures a rendered page's embeds itself), ``RequisitesSpiderMiddleware`` adds
requests for what the page embeds: ``<link rel=stylesheet|icon|preload|modulepreload>``, ``<script src>``,
``<img src|srcset>`` and the lazy-load attributes (``data-src``, ``data-srcset``, ``data-lazy-src``,
``data-original``), ``<picture><source srcset>``, ``<video poster>``, media ``src``, and the ``url()``s and
``@import``s of inline ``<style>`` blocks and ``style=`` attributes. A stylesheet's own ``url()``s and
``@import``s (fonts, background images, further stylesheets) follow when it arrives, up to a few levels.

Requisites are embeds only: they go to the spider's ``parse_requisite`` (which hands them back here), never
to discovery or extraction, and the WARC middleware archives them like every fetch. They may come from the
site's hosts and from any host the page embeds from (a CDN); ``crawler.scope`` still applies the address
rules to them (no private addresses unless a site lives there) and robots.txt is obeyed per host. Each URL
is requested once per crawl (and Scrapy's duplicate filter, shared in a distributed crawl, stands behind
that); a payload already archived by an earlier crawl becomes a revisit record through the WARC writer's
digest index. Politeness: each requisite goes through the download slot of its own host and port, the same
slot the host's pages use.

Settings: CRAWL_REQUISITES (on), CRAWL_REQUISITES_MAX_SIZE (bytes of one requisite; larger ones are cut off
by Scrapy's DOWNLOAD_MAXSIZE machinery and counted), CRAWL_REQUISITES_MAX_PER_PAGE.
Stats: ``requisites/requests``, ``requisites/requests/<type>``, ``requisites/fetched``, ``requisites/bytes``,
``requisites/failed/<reason>``, ``requisites/skipped/<reason>`` (``duplicate``, ``scheme``, ``too_many``,
``depth``), per site ``requisites/fetched_by_site/<site>`` and ``requisites/uncaptured_by_site/<site>``
(failed, refused or over the per-page bound: what the site's pages embed that the archive lacks).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.response import get_base_url

from crawler.config import SettingsReader
from crawler.workers import WorkerPool

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

PAGE_KINDS = frozenset({"article", "home", "section"})
# A stylesheet importing a stylesheet importing ...: deeper chains are not followed.
MAX_DEPTH = 4
_HTML_TYPES = (b"text/html", b"application/xhtml+xml")
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.I)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_LAZY_ATTRS = ("data-src", "data-lazy-src", "data-original", "data-lazy")
_LAZY_SRCSETS = ("data-srcset", "data-lazy-srcset")
_LINK_RELS = {
    "stylesheet": "css",
    "icon": "icon",
    "apple-touch-icon": "icon",
    "apple-touch-icon-precomposed": "icon",
    "mask-icon": "icon",
    "preload": "preload",
    "modulepreload": "script",
    "prefetch": "preload",
}
_PRELOAD_AS = {"style": "css", "script": "script", "font": "font", "image": "image"}
_EXTENSION_TYPES = {
    ".css": "css",
    ".js": "script",
    ".mjs": "script",
    ".woff": "font",
    ".woff2": "font",
    ".ttf": "font",
    ".otf": "font",
    ".eot": "font",
    ".ico": "icon",
}


@dataclass(frozen=True)
class RequisitesConfig:
    """CRAWL_REQUISITES*, parsed and checked once at start-up."""

    enabled: bool
    max_size: int
    max_per_page: int

    @classmethod
    def from_settings(cls, settings: Any) -> RequisitesConfig:
        """Raises ``ConfigError`` naming every bad CRAWL_REQUISITES* setting."""
        r = SettingsReader(settings)
        enabled = r.boolean("CRAWL_REQUISITES")
        max_size = r.integer("CRAWL_REQUISITES_MAX_SIZE", minimum=1, hint=" (bytes of one requisite)")
        max_per_page = r.integer("CRAWL_REQUISITES_MAX_PER_PAGE", minimum=1, hint=" (requisites of one page)")
        r.check()
        return cls(enabled=enabled, max_size=max_size, max_per_page=max_per_page)


@dataclass(frozen=True)
class Requisite:
    """One embed of a page or stylesheet: its absolute URL and what it is (css, script, image, font ...)."""

    url: str
    type: str


def srcset_urls(value: str) -> list[str]:
    """The candidate URLs of a ``srcset`` (``a.jpg 1x, b.jpg 2x``), parsed as the HTML standard says: a URL
    runs to the next whitespace (commas inside it stay), descriptors run to the next comma."""
    urls = []
    position, end = 0, len(value)
    while position < end:
        while position < end and (value[position].isspace() or value[position] == ","):
            position += 1
        start = position
        while position < end and not value[position].isspace():
            position += 1
        url = value[start:position]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            while position < end and value[position] != ",":
                position += 1
        if url:
            urls.append(url)
    return urls


def css_references(css: str, base_url: str) -> list[Requisite]:
    """The ``@import``s (type css) and ``url()``s of a stylesheet, absolute against ``base_url``."""
    css = _CSS_COMMENT.sub("", css)
    found: list[Requisite] = []
    imported: set[str] = set()
    for match in _CSS_IMPORT.finditer(css):
        url = next(g for g in match.groups() if g is not None).strip()
        if url:
            imported.add(url)
            found.append(Requisite(urljoin(base_url, url), "css"))
    for match in _CSS_URL.finditer(css):
        url = next((g for g in match.groups() if g is not None), "").strip()
        if not url or url.startswith(("data:", "#")):
            continue
        prefix = css[max(0, match.start() - 12) : match.start()].lower()
        kind = "css" if url in imported or "@import" in prefix else _type_of(url, "image")
        found.append(Requisite(urljoin(base_url, url), kind))
    return found


def page_requisites(response: TextResponse) -> list[Requisite]:
    """Everything an HTML page embeds, absolute (``<base href>`` honoured), in document order, once each."""
    found: list[Requisite] = []
    base = get_base_url(response)

    def add(value: str | None, kind: str) -> None:
        value = (value or "").strip()
        if value and not value.startswith(("data:", "#", "javascript:", "about:")):
            found.append(Requisite(response.urljoin(value), kind))

    for element in response.xpath("//*[@src or @srcset or @href or @poster or @style or @data-src]"):
        tag = str(element.root.tag).lower() if isinstance(element.root.tag, str) else ""
        attrib = element.attrib
        if tag == "link":
            rels = (attrib.get("rel") or "").lower().split()
            kinds = [_LINK_RELS[rel] for rel in rels if rel in _LINK_RELS]
            if kinds:
                kind = kinds[0]
                if kind == "preload":
                    kind = _PRELOAD_AS.get((attrib.get("as") or "").lower(), "other")
                add(attrib.get("href"), kind)
                if attrib.get("imagesrcset"):
                    for url in srcset_urls(attrib["imagesrcset"]):
                        add(url, "image")
        elif tag == "script":
            add(attrib.get("src"), "script")
        elif tag in ("img", "source", "input", "video", "audio", "track", "embed"):
            media = "image" if tag in ("img", "input") else "media"
            if tag == "source":
                media = "image" if element.xpath("parent::picture") else "media"
            add(attrib.get("src"), media)
            for name in _LAZY_ATTRS:
                add(attrib.get(name), media)
            for name in ("srcset", *_LAZY_SRCSETS):
                if attrib.get(name):
                    for url in srcset_urls(attrib[name]):
                        add(url, media)
            add(attrib.get("poster"), "image")
        elif tag in _LAZY_TAGS_WITH_DATA_SRC:
            for name in _LAZY_ATTRS:
                add(attrib.get(name), "image")
        if attrib.get("style"):
            found.extend(css_references(attrib["style"], base))
    for css in response.xpath("//style/text()").getall():
        found.extend(css_references(css, base))
    return _unique(found)


def requisites_of(url: str, body: bytes, encoding: str | None = None) -> list[Requisite]:
    """``page_requisites`` of the HTML ``body`` at ``url`` (runs in a worker process: plain values in and
    out). Raises ``ValueError`` for a body lxml cannot parse."""
    return page_requisites(HtmlResponse(url, body=body, encoding=encoding))


@dataclass(frozen=True)
class _Page:
    url: str
    body: bytes
    encoding: str | None
    meta: Any
    spider: Any


# Lazy-load scripts put data-src on other elements too (a <div> with a background image).
_LAZY_TAGS_WITH_DATA_SRC = frozenset({"div", "span", "figure", "a", "section"})


def _unique(found: Iterable[Requisite]) -> list[Requisite]:
    seen: set[str] = set()
    result = []
    for requisite in found:
        url = requisite.url.split("#", 1)[0]
        if url not in seen:
            seen.add(url)
            result.append(Requisite(url, requisite.type))
    return result


def _type_of(url: str, default: str) -> str:
    path = urlsplit(url).path.lower()
    for extension, kind in _EXTENSION_TYPES.items():
        if path.endswith(extension):
            return kind
    return default


def _is_html(response: Response) -> bool:
    content_type = (response.headers.get(b"Content-Type") or b"").split(b";")[0].strip().lower()
    return isinstance(response, TextResponse) and (not content_type or content_type in _HTML_TYPES)


def _is_css(response: Response) -> bool:
    content_type = (response.headers.get(b"Content-Type") or b"").split(b";")[0].strip().lower()
    return content_type == b"text/css" or (
        not content_type and urlsplit(response.url).path.lower().endswith(".css")
    )


class RequisitesSpiderMiddleware:
    """Adds requisite requests to the output of every archived HTML page; reachable as
    ``crawler.requisites``, whose ``parse``/``failed`` the spider's ``parse_requisite``/``requisite_failed``
    call."""

    def __init__(
        self, config: RequisitesConfig, stats: StatsCollector, crawler: Crawler | None = None
    ) -> None:
        self.config = config
        self.stats = stats
        self.crawler = crawler
        self._seen: set[str] = set()
        # The crawl's worker processes (crawler.workers), where pages are parsed; None: parsed in place.
        self.pool: WorkerPool | None = WorkerPool.of(crawler) if crawler is not None else None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RequisitesSpiderMiddleware:
        config = RequisitesConfig.from_settings(crawler.settings)
        if not config.enabled:
            raise NotConfigured("CRAWL_REQUISITES is off: pages are archived without their embeds")
        assert crawler.stats is not None
        middleware = cls(config, crawler.stats, crawler)
        crawler.requisites = middleware  # type: ignore[attr-defined]
        return middleware

    # --- the spider's output --------------------------------------------------------------------------
    def process_spider_output(
        self, response: Response, result: Iterable[Any], spider: Any = None
    ) -> Iterator[Any]:
        yield from result
        page = self._page_to_parse(response, spider)
        if page is not None:
            yield from self._found_requests(page, self._parse_here(page))

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any], spider: Any = None
    ) -> AsyncIterator[Any]:
        async for item in result:
            yield item
        page = self._page_to_parse(response, spider)
        if page is None:
            return
        # Parsing the page (lxml, a few milliseconds) is CPU work: in the crawl's worker processes, so the
        # reactor thread keeps fetching meanwhile.
        if self.pool is None:
            found = self._parse_here(page)
        else:
            try:
                found = await self.pool.run(requisites_of, page.url, page.body, page.encoding)
            except ValueError:  # not parseable as HTML after all
                self.stats.inc_value("requisites/unparsable_page")
                found = None
            except BrokenProcessPool:  # a worker died (counted by the extraction): parse it here
                found = self._parse_here(page)
        for request in self._found_requests(page, found):
            yield request

    def _page_to_parse(self, response: Response, spider: Any) -> _Page | None:
        """The HTML whose embeds are wanted for this response, or None (not an archived plain page)."""
        # Scrapy 2.13+ no longer passes the spider to middlewares: the crawler knows it.
        spider = spider or getattr(self.crawler, "spider", None)
        meta = response.meta
        if meta.get("kind") not in PAGE_KINDS or spider is None:
            return None
        gated = meta.get("render_gated_page")
        if gated:
            # Rendered in the browser (which archived what it loaded), but the plain page it replaced is
            # archived as well, and an archivist may land on it: its own requisites are fetched here.
            url, body = gated
            return _Page(url, body, None, meta, spider)
        if meta.get("rendered") or meta.get("playwright"):
            return None
        if response.status != 200 or not _is_html(response):
            return None
        assert isinstance(response, TextResponse)
        return _Page(response.url, response.body, response.encoding, meta, spider)

    def _parse_here(self, page: _Page) -> list[Requisite] | None:
        try:
            return requisites_of(page.url, page.body, page.encoding)
        except ValueError:  # not parseable as HTML after all
            self.stats.inc_value("requisites/unparsable_page")
            return None

    def _found_requests(self, page: _Page, found: list[Requisite] | None) -> Iterator[Request]:
        if found is not None:
            yield from self._requests(found, page.meta, page.spider, depth=1)

    def _requests(self, found: list[Requisite], meta: Any, spider: Any, *, depth: int) -> Iterator[Request]:
        if depth > MAX_DEPTH:
            self.stats.inc_value("requisites/skipped/depth", len(found))
            return
        for count, requisite in enumerate(found):
            if count >= self.config.max_per_page:
                self.stats.inc_value("requisites/skipped/too_many", len(found) - count)
                self._uncaptured(meta.get("site"), len(found) - count)
                return
            parts = urlsplit(requisite.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                self.stats.inc_value("requisites/skipped/scheme")
                continue
            if requisite.url in self._seen:
                self.stats.inc_value("requisites/skipped/duplicate")
                continue
            self._seen.add(requisite.url)
            self.stats.inc_value("requisites/requests")
            self.stats.inc_value(f"requisites/requests/{requisite.type}")
            yield Request(
                requisite.url,
                callback=spider.parse_requisite,
                errback=spider.requisite_failed,
                meta={
                    "site": meta.get("site"),
                    "kind": "requisite",
                    "requisite_type": requisite.type,
                    "requisite_depth": depth,
                    # Politeness is per host and port, as for pages: the host's slot, whoever embeds it.
                    "download_slot": parts.netloc,
                    "download_maxsize": self.config.max_size,
                    "render": "never",
                },
            )

    # --- requisite responses (through the spider) ----------------------------------------------------
    def parse(self, response: Response, spider: Any) -> Iterator[Request]:
        """A requisite arrived (already archived): count it; a stylesheet's own embeds follow."""
        self.stats.inc_value("requisites/fetched")
        self.stats.inc_value("requisites/bytes", len(response.body))
        if response.meta.get("site"):
            self.stats.inc_value(f"requisites/fetched_by_site/{response.meta['site']}")
        if response.status >= 400:
            self.stats.inc_value(f"requisites/failed/http_{response.status}")
            return
        if not _is_css(response):
            return
        text = (
            response.text if isinstance(response, TextResponse) else response.body.decode("utf-8", "replace")
        )
        depth = int(response.meta.get("requisite_depth", 1)) + 1
        yield from self._requests(css_references(text, response.url), response.meta, spider, depth=depth)

    def failed(self, failure: Failure) -> None:
        """A requisite that could not be fetched (or was refused by robots.txt or the address rules)."""
        reason = failure.type.__name__ if failure.type else "error"
        response = getattr(failure.value, "response", None)
        if response is not None:
            reason = f"http_{response.status}"
        self.stats.inc_value(f"requisites/failed/{reason}")
        request = getattr(failure, "request", None)
        self._uncaptured(request.meta.get("site") if request is not None else None)
        logger.debug("Requisite not fetched (%s): %s", reason, request.url if request is not None else "?")

    def _uncaptured(self, site: str | None, count: int = 1) -> None:
        # Per site, what its pages embed that the archive will not hold: the report's "uncaptured".
        if site:
            self.stats.inc_value(f"requisites/uncaptured_by_site/{site}", count)
