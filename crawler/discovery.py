"""Parsing of the discovery documents: sitemaps (index, urlset, Google news), RSS 2.0 and Atom feeds.

Pure functions on bytes (Scrapy's size-capped ``gunzip`` is the one library helper): the spider feeds
them response bodies. XML is parsed with lxml in
recover mode with entities off, because real feeds are often slightly broken and must never be able to
expand entities.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree
from scrapy.utils.gz import gunzip

from archive.dates import parse_datetime


class DecompressionLimitError(ValueError):
    """A gzip body that expands beyond the allowed size (a gzip bomb or a runaway sitemap)."""


@dataclass(frozen=True)
class SitemapEntry:
    loc: str
    lastmod: str | None = None
    published: str | None = None  # news:publication_date
    title: str | None = None  # news:title


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
        loc = lastmod = published = title = None
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
        if loc:
            entries.append(SitemapEntry(loc=loc, lastmod=lastmod, published=published, title=title))
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
