"""What every newsroom site shares: pre-rendered resources, sitemaps, feeds, robots.txt and link noise.

A site renderer turns the site's articles into a route table ``{route_key: Resource}`` once; the server
only looks bytes up. Subclasses supply the page templates and the site's URL layout.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import logging
import struct
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from ..catalog import is_exclusive
from ..dates import http_date, iso, rfc822
from ..models import ArticleSpec

logger = logging.getLogger(__name__)

PER_PAGE = 5
SERVER_START = datetime(2021, 12, 31, 12, 0, 0).astimezone()
# Boilerplate the templates print around articles; none of it may appear in the gold text.
BOILERPLATE = (
    "الرئيسية »",
    "شارك على فيسبوك",
    "شارك على تويتر",
    "شاهد أيضاً",
    "اترك تعليقاً",
    "لن يتم نشر عنوان بريدك الإلكتروني",
    "عن الكاتب",
    "اقرأ أيضاً",
    "نستخدم ملفات تعريف الارتباط",
    "Sorry, you need to enable JavaScript",
    "جميع الحقوق محفوظة",
)
NO_JS = "Sorry, you need to enable JavaScript to visit this website."
DEAD_PATHS = ("/2018/05/03/deleted-story/", "/archive/old-page.html")
UTM_QUERY = "utm_source=facebook&utm_medium=social&utm_campaign=libya"


def route_key(target: str) -> str:
    """The lookup key for a request target: decoded path, tracking parameters dropped, no fragment."""
    parts = urlsplit(target)
    path = unquote(parts.path) or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("utm_")]
    return path + ("?" + urlencode(query) if query else "")


def esc(text: str) -> str:
    return html.escape(text, quote=True)


@dataclass
class Resource:
    """One pre-rendered response. ``gate``: "" open, "html" challenge without cookie, "api" 403 without."""

    body: bytes
    content_type: str
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    last_modified: datetime = SERVER_START
    gate: str = ""
    compressible: bool = True
    # Served as this many zero bytes, written in chunks (a response too big to hold); ``body`` is unused.
    stream_bytes: int = 0
    etag: str = field(init=False)
    _gzipped: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.etag = '"' + hashlib.sha1(self.body).hexdigest()[:20] + '"'
        self.last_modified = self.last_modified.replace(microsecond=0)

    @property
    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped

    @property
    def http_last_modified(self) -> str:
        return http_date(self.last_modified)


def html_resource(
    text: str, modified: datetime = SERVER_START, charset: str = "utf-8", gate: str = ""
) -> Resource:
    # Legacy charsets lack some characters (windows-1256 has no Eastern Arabic digits): the old PHP
    # sites this imitates wrote those as numeric character references, and so do we.
    return Resource(
        text.encode(charset, errors="xmlcharrefreplace"),
        f"text/html; charset={charset}",
        last_modified=modified,
        gate=gate,
    )


def redirect(location: str, status: int = 301) -> Resource:
    body = f'<html><body>Moved: <a href="{esc(location)}">{esc(location)}</a></body></html>'
    return Resource(
        body.encode(), "text/html; charset=utf-8", status=status, headers=(("Location", location),)
    )


class SiteRenderer(ABC):
    """Base of the five site templates. ``build`` returns the complete route table of one site."""

    name = ""
    display_name = ""
    charset = "utf-8"
    gzip_encoding = False
    render = "auto"
    render_wait_selector: str | None = None
    article_pattern = ""
    # Paths (site-relative) of the discovery documents.
    sitemap_index = "/sitemap.xml"
    sitemap_plain = "/sitemap-1.xml"
    sitemap_gz = "/sitemap-2.xml.gz"
    sitemap_news = "/news-sitemap.xml"
    feed_paths: tuple[str, ...] = ("/feed/",)
    disallow: tuple[str, ...] = ()
    section_names: ClassVar[dict[str, str]] = {"libya": "أخبار ليبيا", "world": "عربي ودولي"}
    templates: tuple[str, ...] = ("v1", "v2")
    page_gate = ""

    def __init__(self, base_url: str, other_sites: dict[str, str]) -> None:
        self.base_url = base_url
        self.other_sites = other_sites
        self.template = "v1"
        self.articles: list[ArticleSpec] = []

    # ---- URL layout (subclasses override) -------------------------------------------------------
    @abstractmethod
    def article_path(self, spec: ArticleSpec) -> str:
        """The site-relative path (+query) of an article as linked, percent-encoded."""

    @abstractmethod
    def section_path(self, section: str, page: int) -> str:
        """The path of page ``page`` of a section."""

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def article_url(self, spec: ArticleSpec) -> str:
        return self.url(self.article_path(spec))

    # ---- page templates (subclasses override) ---------------------------------------------------
    @abstractmethod
    def render_home(self) -> str:
        """The home page."""

    @abstractmethod
    def render_section(self, section: str, page: int, pages: int, items: list[ArticleSpec]) -> str:
        """One page of a section listing."""

    @abstractmethod
    def render_article(self, spec: ArticleSpec) -> str:
        """An article page in the site's current template."""

    def extra_routes(self) -> dict[str, Resource]:
        return {}

    @abstractmethod
    def feeds(self) -> dict[str, Resource]:
        """The site's feeds by path."""

    # ---- shared pieces ----------------------------------------------------------------------------
    @property
    def sections(self) -> list[str]:
        return list(self.section_names)

    def sorted_articles(self, form: str | None = None) -> list[ArticleSpec]:
        items = [a for a in self.articles if form is None or form in a.discovery]
        return sorted(items, key=lambda a: (a.published, a.number), reverse=True)

    def linkable(self) -> list[ArticleSpec]:
        """Articles other pages may link to (the single-form ones stay hidden, see catalog)."""
        return [a for a in self.sorted_articles() if not is_exclusive(a)]

    def section_listing(self, section: str) -> list[ArticleSpec]:
        return [a for a in self.sorted_articles("section") if a.section == section]

    def related(self, spec: ArticleSpec, count: int = 3) -> list[ArticleSpec]:
        """Teasers for the related-posts box; a Sudan or Yemen story gets Libya headlines (teaser case)."""
        section = "libya" if spec.case == "hard_negative_teaser" else spec.section
        pool = [a for a in self.linkable() if a.id != spec.id and a.section == section]
        if not pool:
            return []
        start = spec.number % len(pool)
        return (pool[start:] + pool[:start])[:count]

    def offsite_links(self) -> list[tuple[str, str]]:
        links = [
            ("http://example.org/ar/news/libya-report", "تقرير منظمة دولية"),
            ("https://www.facebook.com/example.news", "صفحتنا على فيسبوك"),
        ]
        for name, base in sorted(self.other_sites.items()):
            if name != self.name:
                links.append((base, f"موقع شريك: {name}"))
        return links

    def noise_links(self) -> list[tuple[str, str]]:
        """Links every crawler must cope with: dead, off-site, mailto, javascript, tracking, fragments."""
        links: list[tuple[str, str]] = [(p, "أرشيف قديم") for p in DEAD_PATHS]
        links += self.offsite_links()
        links += [
            ("mailto:editor@example.org", "راسلنا"),
            ("javascript:void(0)", "تغيير حجم الخط"),
        ]
        linkable = self.linkable()
        for spec in linkable[:3]:
            path = self.article_path(spec)
            sep = "&" if "?" in path else "?"
            links.append((f"{path}{sep}{UTM_QUERY}", spec.title))
            links.append((f"{path}#comments", "التعليقات"))
        for path in self.disallow_links():
            links.append((path, "صفحة خاصة"))
        return links

    def disallow_links(self) -> list[str]:
        """Linked pages under the robots.txt Disallow rules (served, but a polite crawler never asks)."""
        return list(self.disallow)

    def robots(self) -> Resource:
        lines = ["User-agent: *"]
        lines += [f"Disallow: {rule}" for rule in self.disallow]
        lines += ["", f"Sitemap: {self.url(self.sitemap_index)}", ""]
        return Resource("\n".join(lines).encode(), "text/plain; charset=utf-8")

    def sitemap_routes(self) -> dict[str, Resource]:
        newest = max((a.modified for a in self.articles), default=SERVER_START)
        index = ['<?xml version="1.0" encoding="UTF-8"?>']
        index.append('<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
        for path in (self.sitemap_plain, self.sitemap_gz, self.sitemap_news):
            index.append(
                f"  <sitemap><loc>{esc(self.url(path))}</loc><lastmod>{iso(newest)}</lastmod></sitemap>"
            )
        index.append("</sitemapindex>")
        plain = self.urlset(self.sorted_articles("sitemap"))
        gz_body = self.urlset(self.sorted_articles("sitemap_gz")).encode()
        return {
            self.sitemap_index: Resource(
                "\n".join(index).encode(), "application/xml; charset=utf-8", last_modified=newest
            ),
            self.sitemap_plain: Resource(
                plain.encode(), "application/xml; charset=utf-8", last_modified=newest
            ),
            self.sitemap_gz: Resource(
                gzip.compress(gz_body, mtime=0),
                "application/x-gzip",
                last_modified=newest,
                compressible=False,
            ),
            self.sitemap_news: Resource(
                self.news_urlset(self.sorted_articles("news_sitemap")).encode(),
                "application/xml; charset=utf-8",
                last_modified=newest,
            ),
        }

    def urlset(self, items: Iterable[ArticleSpec]) -> str:
        out = ['<?xml version="1.0" encoding="UTF-8"?>']
        out.append('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
        for spec in items:
            out.append(
                f"  <url><loc>{esc(self.article_url(spec))}</loc><lastmod>{iso(spec.modified)}</lastmod>"
                "<changefreq>monthly</changefreq></url>"
            )
        out.append("</urlset>")
        return "\n".join(out)

    def news_urlset(self, items: Iterable[ArticleSpec]) -> str:
        out = ['<?xml version="1.0" encoding="UTF-8"?>']
        out.append(
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        )
        for spec in items:
            out.append(
                f"  <url><loc>{esc(self.article_url(spec))}</loc><lastmod>{iso(spec.modified)}</lastmod>"
                f"<news:news><news:publication><news:name>{esc(self.display_name)}</news:name>"
                "<news:language>ar</news:language></news:publication>"
                f"<news:publication_date>{iso(spec.published)}</news:publication_date>"
                f"<news:title>{esc(spec.title)}</news:title></news:news></url>"
            )
        out.append("</urlset>")
        return "\n".join(out)

    def rss(
        self,
        items: Sequence[ArticleSpec],
        description_html: dict[str, str],
        self_path: str,
        encoding: str = "utf-8",
    ) -> Resource:
        """RSS 2.0; ``description_html`` maps article id to the HTML put (entity-escaped) in <description>."""
        newest = max((a.modified for a in items), default=SERVER_START)
        out = [f'<?xml version="1.0" encoding="{encoding}"?>']
        out.append(
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:atom="http://www.w3.org/2005/Atom">'
        )
        out.append("<channel>")
        out.append(f"<title>{esc(self.display_name)}</title><link>{esc(self.base_url)}</link>")
        out.append(f'<atom:link href="{esc(self.url(self_path))}" rel="self" type="application/rss+xml"/>')
        out.append(f"<description>{esc(self.display_name)}</description><language>ar</language>")
        out.append(f"<lastBuildDate>{rfc822(newest)}</lastBuildDate>")
        for spec in items:
            out.append("<item>")
            out.append(f"<title>{esc(spec.title)}</title>")
            out.append(f"<link>{esc(self.article_url(spec))}</link>")
            out.append(f'<guid isPermaLink="true">{esc(self.article_url(spec))}</guid>')
            out.append(f"<pubDate>{rfc822(spec.published)}</pubDate>")
            if spec.author:
                out.append(f"<dc:creator>{esc(spec.author)}</dc:creator>")
            out.append(f"<category>{esc(self.section_names[spec.section])}</category>")
            out.append(f"<description>{esc(description_html[spec.id])}</description>")
            out.append("</item>")
        out.append("</channel></rss>")
        body = "\n".join(out).encode(encoding)
        return Resource(body, f"application/rss+xml; charset={encoding}", last_modified=newest)

    def paginate(self, section: str) -> list[list[ArticleSpec]]:
        items = self.section_listing(section)
        return [items[i : i + PER_PAGE] for i in range(0, len(items), PER_PAGE)] or [[]]

    def build(self, articles: list[ArticleSpec], template: str) -> dict[str, Resource]:
        """Render every page, sitemap and feed of the site."""
        if template not in self.templates:
            raise ValueError(f"site {self.name!r} has no template {template!r} (have {self.templates})")
        self.articles = articles
        self.template = template
        routes: dict[str, Resource] = {"/robots.txt": self.robots()}
        routes.update(self.sitemap_routes())
        routes.update(self.feeds())
        routes["/"] = html_resource(self.render_home(), charset=self.charset, gate=self.page_gate)
        for section in self.sections:
            pages = self.paginate(section)
            for number, items in enumerate(pages, start=1):
                text = self.render_section(section, number, len(pages), items)
                routes[route_key(self.section_path(section, number))] = html_resource(
                    text, charset=self.charset, gate=self.page_gate
                )
        for spec in articles:
            routes[route_key(self.article_path(spec))] = html_resource(
                self.render_article(spec), spec.modified, charset=self.charset, gate=self.page_gate
            )
        for path in self.disallow_links():
            routes.setdefault(
                route_key(path),
                html_resource(f"<html><body><h1>{esc(self.display_name)}</h1><p>private</p></body></html>"),
            )
        routes.update(self.extra_routes())
        return routes


def _png_pixel() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xc8\x10\x2e"))
        + chunk(b"IEND", b"")
    )


PNG_PIXEL = _png_pixel()


def image_resource() -> Resource:
    return Resource(PNG_PIXEL, "image/png", compressible=False)


def paragraphs_html(paragraphs: Iterable[str]) -> str:
    return "\n".join(f"<p>{esc(p)}</p>" for p in paragraphs)


def quote_path(path: str) -> str:
    """Percent-encode a path that may hold Arabic characters, leaving the URL syntax alone."""
    return quote(path, safe="/?&=%:#")
