"""Parsing of the discovery documents: sitemaps (index, urlset, Google news), RSS 2.0 and Atom feeds; and
how a link on a listing page is told apart (``looks_like_article``, ``is_next_page``, ``feed_links``), shared by
the ``libya`` spider and ``scrapy probe``.

Pure functions on bytes (Scrapy's size-capped ``gunzip`` is the one library helper): the spider feeds
them response bodies. XML is parsed with lxml in
recover mode with entities off, because real feeds are often slightly broken and must never be able to
expand entities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lxml import etree
from scrapy.utils.gz import gunzip

from archive.dates import parse_datetime

if TYPE_CHECKING:
    from crawler.sources import Source

NEXT_TEXT = re.compile(r"(التالي|التالية|الصفحة التالية|المزيد|next|older|»|›|&raquo;)", re.I)
PAGE_URL = re.compile(r"([?&](page|paged|p|pg|start|offset)=\d+|/page/\d+/?$)", re.I)
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/xml")
# Without an article_pattern, a path with a long slug or a numeric id is taken for an article.
ARTICLE_GUESS = re.compile(r"(\d{4,}|[^/]+-[^/]+-[^/]+)", re.U)


class DecompressionLimitError(ValueError):
    """A gzip body that expands beyond the allowed size (a gzip bomb or a runaway sitemap)."""


@dataclass(frozen=True)
class SitemapEntry:
    loc: str
    lastmod: str | None = None
    published: str | None = None  # news:publication_date
    title: str | None = None  # news:title
    keywords: str | None = None  # news:keywords


@dataclass(frozen=True)
class Sitemap:
    kind: str  # "sitemapindex" | "urlset" | "unknown"
    entries: list[SitemapEntry]


@dataclass(frozen=True)
class FeedEntry:
    link: str
    title: str | None = None
    published: str | None = None
    # The entry's body as the feed carries it (often escaped HTML); a fallback when the page fails.
    content: str | None = None


def gunzip_limited(data: bytes, max_size: int) -> bytes:
    """Decompress gzip ``data``, refusing to produce more than ``max_size`` bytes (Scrapy's ``gunzip``)."""
    try:
        return gunzip(data, max_size=max_size)
    except ValueError as exc:  # Scrapy's size error is its only ValueError; corrupt data is an OSError
        raise DecompressionLimitError(f"gzip body expands beyond {max_size} bytes") from exc


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _parse_xml(body: bytes) -> etree._Element | None:
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False
    )
    try:
        return etree.fromstring(body.strip() or b"<x/>", parser=parser)
    except etree.XMLSyntaxError:
        return None


def parse_sitemap(body: bytes) -> Sitemap:
    """Parse a sitemap index or urlset (with Google news extensions)."""
    root = _parse_xml(body)
    if root is None:
        return Sitemap("unknown", [])
    kind = _local(root.tag)
    if kind not in ("sitemapindex", "urlset"):
        return Sitemap("unknown", [])
    entries: list[SitemapEntry] = []
    for elem in root:
        if _local(elem.tag) not in ("sitemap", "url"):
            continue
        loc = lastmod = published = title = keywords = None
        for child in elem.iter():
            name = _local(child.tag)
            text = (child.text or "").strip()
            if name == "loc" and loc is None:
                loc = text
            elif name == "lastmod":
                lastmod = text
            elif name == "publication_date":
                published = text
            elif name == "title" and child is not elem:
                title = text
            elif name == "keywords":
                keywords = text
        if loc:
            entries.append(
                SitemapEntry(loc=loc, lastmod=lastmod, published=published, title=title, keywords=keywords)
            )
    return Sitemap(kind, entries)


def parse_feed(body: bytes) -> list[FeedEntry]:
    """Parse RSS 2.0 / RSS 1.0 / Atom into entries (link, title, published, content)."""
    root = _parse_xml(body)
    if root is None:
        return []
    entries: list[FeedEntry] = []
    for item in root.iter():
        name = _local(item.tag)
        if name == "item":
            entries.append(_rss_item(item))
        elif name == "entry":
            entries.append(_atom_entry(item))
    return [e for e in entries if e.link]


def _rss_item(item: etree._Element) -> FeedEntry:
    fields: dict[str, str] = {}
    for child in item:
        name = _local(child.tag)
        if (
            name in ("link", "title", "pubdate", "date", "description", "encoded", "guid")
            and name not in fields
        ):
            fields[name] = (child.text or "").strip()
    link = fields.get("link") or ""
    if not link and fields.get("guid", "").startswith("http"):
        link = fields["guid"]
    return FeedEntry(
        link=link,
        title=fields.get("title") or None,
        published=fields.get("pubdate") or fields.get("date") or None,
        content=fields.get("encoded") or fields.get("description") or None,
    )


def _atom_entry(entry: etree._Element) -> FeedEntry:
    link = ""
    title = published = content = None
    for child in entry:
        name = _local(child.tag)
        if name == "link":
            rel = child.get("rel", "alternate")
            if rel == "alternate" and not link:
                link = (child.get("href") or "").strip()
        elif name == "title":
            title = "".join(child.itertext()).strip() or None
        elif name in ("published", "updated") and (name == "published" or published is None):
            published = (child.text or "").strip() or None
        elif name in ("content", "summary") and (name == "content" or content is None):
            content = "".join(child.itertext()).strip() or None
    return FeedEntry(link=link, title=title, published=published, content=content)


def parse_feed_date(value: str | None) -> datetime | None:
    """RFC 822 (RSS) or ISO 8601 (Atom, news sitemaps) into an aware datetime; None if unreadable."""
    return parse_datetime(value)


def is_before(value: str | None, since: date | None) -> bool:
    """True when ``value`` is a readable date strictly before ``since`` (unknown dates are kept)."""
    if since is None:
        return False
    parsed = parse_feed_date(value)
    return parsed is not None and parsed.date() < since


def looks_like_article(source: Source, url: str) -> bool:
    """A link to an article: the site's ``article_pattern``, else the guess (a long slug or a numeric id)."""
    verdict = source.is_article(url)
    if verdict is not None:
        return verdict
    path = urlsplit(url).path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    return bool(last) and bool(ARTICLE_GUESS.search(last)) and not PAGE_URL.search(url)


def is_next_page(rel: str, text: str, url: str) -> bool:
    """A pagination link: ``rel="next"``, or a page URL whose text is a number, a "next" word or nothing."""
    if "next" in rel.lower().split():
        return True
    return bool(PAGE_URL.search(url)) and (not text or bool(NEXT_TEXT.search(text)) or text.isdigit())


def feed_links(page: Any) -> list[str]:
    """The hrefs of a page's ``<link rel="alternate">`` elements that announce a feed (``page``: a Scrapy
    response or parsel selector)."""
    hrefs = []
    for link in page.css('link[rel~="alternate"]'):
        href = (link.attrib.get("href") or "").strip()
        if (link.attrib.get("type") or "").lower() in FEED_TYPES and href:
            hrefs.append(href)
    return hrefs


def anchor_text(anchor: Any) -> str:
    """The text of an ``<a>`` selector, its descendants' included."""
    return " ".join(anchor.css("::text").getall()).strip()
