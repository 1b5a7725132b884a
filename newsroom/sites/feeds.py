"""``feeds``: a site whose RSS feed carries each whole article body as entity-escaped HTML.

Also an Atom feed with the body in ``<content type="html">``. Article pages (``/article/<n>.html``)
put the body in ``<article>`` with an inline "اقرأ أيضاً" teaser paragraph and show a cookie bar;
``<time datetime>`` carries the date. Template "v2" moves the body to ``section.c-article__content``.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from ..dates import iso, standard_date
from ..models import ArticleSpec
from .base import SERVER_START, Resource, SiteRenderer, esc

logger = logging.getLogger(__name__)

SITE_TITLE = "النشرة"
COOKIE_BAR = (
    "نستخدم ملفات تعريف الارتباط (الكوكيز) لتحسين تجربتك على موقعنا وتحليل الزيارات. "
    "باستمرارك في التصفح فإنك توافق على ذلك."
)


class FeedsSite(SiteRenderer):
    name = "feeds"
    display_name = SITE_TITLE
    article_pattern = r"^/article/\d+\.html$"
    sitemap_index = "/sitemap.xml"
    sitemap_plain = "/sitemaps/articles-1.xml"
    sitemap_gz = "/sitemaps/articles-2.xml.gz"
    sitemap_news = "/sitemaps/news.xml"
    feed_paths = ("/feed.xml", "/atom.xml")
    disallow = ("/search",)
    section_names: ClassVar[dict[str, str]] = {"libya": "ليبيا", "world": "المنطقة"}

    def article_path(self, spec: ArticleSpec) -> str:
        return f"/article/{5000 + spec.number}.html"

    def section_path(self, section: str, page: int) -> str:
        return f"/section/{section}/" if page == 1 else f"/section/{section}/?page={page}"

    def disallow_links(self) -> list[str]:
        return ["/search?q=%D9%84%D9%8A%D8%A8%D9%8A%D8%A7"]

    def read_also(self, spec: ArticleSpec) -> ArticleSpec | None:
        related = self.related(spec, 1)
        return related[0] if related else None

    def body_html(self, spec: ArticleSpec, wrap: str = "p") -> str:
        """The body with the inline teaser after the second paragraph (as the feed also carries it)."""
        blocks = [
            f"<{wrap}>{esc(p)}</{wrap}>" if wrap == "p" else f'<div class="c-paragraph">{esc(p)}</div>'
            for p in spec.paragraphs
        ]
        teaser = self.read_also(spec)
        if teaser is not None:
            link = f'<p class="read-also"><strong>اقرأ أيضاً:</strong> <a href="{self.article_url(teaser)}">{esc(teaser.title)}</a></p>'
            blocks.insert(min(2, len(blocks)), link)
        return "\n".join(blocks)

    def page(self, title: str, main: str, extra: str = "") -> str:
        nav = " ".join(
            f'<a href="{self.section_path(s, 1)}">{self.section_names[s]}</a>' for s in self.sections
        )
        links = "".join(f'<li><a href="{esc(h)}">{esc(t)}</a></li>' for h, t in self.noise_links())
        return f"""<!DOCTYPE html>
<html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="alternate" type="application/rss+xml" title="{SITE_TITLE}" href="{self.url("/feed.xml")}">
<link rel="alternate" type="application/atom+xml" title="{SITE_TITLE} (Atom)" href="{self.url("/atom.xml")}">
{extra}</head><body>
<div class="cookie-bar" id="cookie-notice" role="dialog"><p>{COOKIE_BAR} <a href="/privacy.html">سياسة الخصوصية</a></p><button type="button">موافق</button></div>
<header class="site-header"><a class="logo" href="/">{SITE_TITLE}</a><nav class="main-nav"><a href="/">الرئيسية</a> {nav}</nav></header>
<main class="container">{main}</main>
<footer class="site-footer"><ul class="links">{links}</ul><p>جميع الحقوق محفوظة © {SITE_TITLE} 2021</p></footer>
</body></html>"""

    def cards(self, items: list[ArticleSpec]) -> str:
        return "".join(
            f'<div class="card"><h3><a href="{self.article_path(a)}">{esc(a.title)}</a></h3>'
            f'<time datetime="{iso(a.published)}">{standard_date(a.published)}</time></div>'
            for a in items
        )

    def render_home(self) -> str:
        return self.page(
            f"{SITE_TITLE} | الصفحة الرئيسية",
            f'<section class="latest"><h2>الأحدث</h2>{self.cards(self.linkable()[:10])}</section>',
        )

    def render_section(self, section: str, page: int, pages: int, items: list[ArticleSpec]) -> str:
        nav = ""
        if page < pages:
            nav = f'<a class="pager-next" href="{self.section_path(section, page + 1)}">الصفحة التالية</a>'
        name = self.section_names[section]
        return self.page(
            f"{name} | {SITE_TITLE}", f'<h1>{name}</h1>{self.cards(items)}<nav class="pager">{nav}</nav>'
        )

    def render_article(self, spec: ArticleSpec) -> str:
        url = self.article_url(spec)
        author = f'<span class="article__author">بقلم: {esc(spec.author)}</span> ' if spec.author else ""
        header = f"""<h1 class="article__title">{esc(spec.title)}</h1>
<div class="article__meta">{author}<time datetime="{iso(spec.published)}">{standard_date(spec.published)} - {spec.published:%H:%M}</time></div>"""
        if self.template == "v2":
            main = f"""<article class="c-article">{header}</article>
<section class="c-article__content">{self.body_html(spec, wrap="div")}</section>"""
        else:
            main = f'<article class="article">{header}\n{self.body_html(spec)}\n</article>'
        main += f'<aside class="most-read"><h2>الأكثر قراءة</h2>{self.cards(self.linkable()[:4])}</aside>'
        extra = (
            f'<link rel="canonical" href="{esc(url)}"><meta property="og:title" content="{esc(spec.title)}">'
        )
        return self.page(f"{spec.title} | {SITE_TITLE}", main, extra)

    def atom(self, items: list[ArticleSpec]) -> Resource:
        newest = max((a.modified for a in items), default=SERVER_START)
        out = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ar">',
        ]
        out.append(
            f"<title>{SITE_TITLE}</title><id>{esc(self.base_url)}</id><updated>{iso(newest)}</updated>"
        )
        out.append(
            f'<link rel="self" href="{esc(self.url("/atom.xml"))}"/><link href="{esc(self.base_url)}"/>'
        )
        for spec in items:
            author = f"<author><name>{esc(spec.author)}</name></author>" if spec.author else ""
            out.append(
                f'<entry><title>{esc(spec.title)}</title><link href="{esc(self.article_url(spec))}"/>'
                f"<id>{esc(self.article_url(spec))}</id><published>{iso(spec.published)}</published>"
                f"<updated>{iso(spec.modified)}</updated>{author}"
                f'<content type="html">{esc(self.body_html(spec))}</content></entry>'
            )
        out.append("</feed>")
        return Resource("\n".join(out).encode(), "application/atom+xml; charset=utf-8", last_modified=newest)

    def feeds(self) -> dict[str, Resource]:
        items = self.sorted_articles("feed")
        descriptions = {a.id: self.body_html(a) for a in items}
        return {"/feed.xml": self.rss(items, descriptions, "/feed.xml"), "/atom.xml": self.atom(items)}

    def extra_routes(self) -> dict[str, Resource]:
        privacy = self.page("سياسة الخصوصية", "<h1>سياسة الخصوصية</h1><p>نحترم خصوصية زوارنا.</p>")
        return {"/privacy.html": Resource(privacy.encode(), "text/html; charset=utf-8")}
