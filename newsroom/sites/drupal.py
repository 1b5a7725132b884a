"""``drupal``: a Drupal-style Tunisian site with a SecKit ``<noscript>`` JavaScript notice on every page.

The article is fully server-rendered (``div.field--name-body``) despite the notice, so a JS-gate
detector must not send it to the browser. Dates use Maghrebi month names ("12 جانفي 2020 - 14:30").
Template "v2" switches to Paragraphs-module markup (``div.paragraph--type--text`` blocks, no ``<p>``).
"""

from __future__ import annotations

import logging
from typing import ClassVar

from ..dates import maghrebi_datetime
from ..models import ArticleSpec
from .base import NO_JS, Resource, SiteRenderer, esc, paragraphs_html

logger = logging.getLogger(__name__)

SITE_TITLE = "الصباح المغاربي"
TERMS = {"libya": 3, "world": 7}


class DrupalSite(SiteRenderer):
    name = "drupal"
    display_name = SITE_TITLE
    article_pattern = r"^/ar/content/[a-z0-9-]+$"
    sitemap_index = "/sitemap.xml"
    sitemap_plain = "/sitemaps/default/sitemap.xml"
    sitemap_gz = "/sitemaps/archive/sitemap.xml.gz"
    sitemap_news = "/sitemaps/news/sitemap.xml"
    feed_paths = ("/rss.xml",)
    disallow = ("/user/login", "/search/")
    section_names: ClassVar[dict[str, str]] = {"libya": "ليبيا", "world": "العالم"}

    def article_path(self, spec: ArticleSpec) -> str:
        return f"/ar/content/{spec.key}"

    def section_path(self, section: str, page: int) -> str:
        base = f"/ar/taxonomy/term/{TERMS[section]}"
        return base if page == 1 else f"{base}?page={page - 1}"  # Drupal pages count from 0

    def page(self, title: str, main: str, extra: str = "") -> str:
        nav = "".join(
            f'<li class="menu-item"><a href="{self.section_path(s, 1)}">{self.section_names[s]}</a></li>'
            for s in self.sections
        )
        links = "".join(f'<li><a href="{esc(h)}">{esc(t)}</a></li>' for h, t in self.noise_links())
        return f"""<!DOCTYPE html>
<html lang="ar" dir="rtl" class="no-js">
<head>
<meta charset="utf-8">
<meta name="Generator" content="Drupal 8 (https://www.drupal.org)">
<title>{esc(title)}</title>
<style id="seckit-clickjacking-no-body" media="all">body {{ display: none !important; }}</style>
<script src="/core/misc/drupal.js?v=8.9.1"></script>
<link rel="alternate" type="application/rss+xml" title="{SITE_TITLE}" href="{self.url("/rss.xml")}">
{extra}
</head>
<body class="path-node page-node-type-article">
<noscript><div class="seckit-noscript-tag" style="padding:1em;background:#fdd">{NO_JS}</div></noscript>
<a href="#main-content" class="visually-hidden focusable skip-link">Skip to main content</a>
<div class="dialog-off-canvas-main-canvas">
<header role="banner"><div class="site-branding"><a href="/" rel="home">{SITE_TITLE}</a></div>
<nav role="navigation"><ul class="menu"><li class="menu-item"><a href="/">الرئيسية</a></li>{nav}<li><a href="/user/login">دخول</a></li></ul></nav></header>
<main role="main"><a id="main-content" tabindex="-1"></a>{main}</main>
<footer role="contentinfo"><ul class="menu">{links}</ul><p>جميع الحقوق محفوظة © {SITE_TITLE}</p></footer>
</div>
</body>
</html>"""

    def teaser(self, spec: ArticleSpec) -> str:
        return (
            f'<article class="node node--type-article node--view-mode-teaser"><h2><a href="{self.article_path(spec)}" rel="bookmark">'
            f'<span class="field field--name-title">{esc(spec.title)}</span></a></h2>'
            f'<div class="node__meta">{maghrebi_datetime(spec.published)}</div></article>'
        )

    def render_home(self) -> str:
        return self.page(
            SITE_TITLE,
            '<div class="view-content">' + "".join(self.teaser(a) for a in self.linkable()[:10]) + "</div>",
        )

    def render_section(self, section: str, page: int, pages: int, items: list[ArticleSpec]) -> str:
        pager = '<nav class="pager" role="navigation"><ul class="pager__items">'
        if page < pages:
            pager += f'<li class="pager__item pager__item--next"><a href="{self.section_path(section, page + 1)}" rel="next">الصفحة التالية ›</a></li>'
        pager += "</ul></nav>"
        name = self.section_names[section]
        main = (
            f'<h1 class="page-title">{name}</h1><div class="view-content">'
            + "".join(self.teaser(a) for a in items)
            + "</div>"
            + pager
        )
        return self.page(f"{name} | {SITE_TITLE}", main)

    def render_article(self, spec: ArticleSpec) -> str:
        url = self.article_url(spec)
        author = (
            f'بقلم <span class="field field--name-uid"><a href="/ar/user/{spec.number}">{esc(spec.author)}</a></span> - '
            if spec.author
            else ""
        )
        if self.template == "v2":
            body = (
                '<div class="field field--name-field-paragraphs">'
                + "".join(
                    f'<div class="paragraph paragraph--type--text"><div class="field field--name-field-text">{esc(p)}</div></div>'
                    for p in spec.paragraphs
                )
                + "</div>"
            )
        else:
            body = (
                '<div class="clearfix text-formatted field field--name-body field--type-text-with-summary '
                f'field--label-hidden field__item">\n{paragraphs_html(spec.paragraphs)}\n</div>'
            )
        related = "".join(
            f'<li><a href="{self.article_path(a)}">{esc(a.title)}</a></li>' for a in self.related(spec)
        )
        main = f"""<article role="article" class="node node--type-article node--view-mode-full">
<h1 class="page-title"><span class="field field--name-title">{esc(spec.title)}</span></h1>
<div class="node__meta">{author}<span class="field field--name-created">{maghrebi_datetime(spec.published)}</span></div>
<div class="node__content">{body}
<div class="field field--name-field-tags"><a href="{self.section_path(spec.section, 1)}">{self.section_names[spec.section]}</a></div>
</div></article>
<section class="block block-views"><h2>مقالات ذات صلة</h2><ul>{related}</ul></section>"""
        extra = f'<link rel="canonical" href="{esc(url)}">\n<link rel="shortlink" href="{self.url(f"/node/{spec.number}")}">'
        return self.page(f"{spec.title} | {SITE_TITLE}", main, extra)

    def feeds(self) -> dict[str, Resource]:
        items = self.sorted_articles("feed")
        descriptions = {a.id: f"<p>{esc(a.paragraphs[0])}</p>" for a in items}
        return {"/rss.xml": self.rss(items, descriptions, "/rss.xml")}

    def extra_routes(self) -> dict[str, Resource]:
        js = b"(function(){var s=document.getElementById('seckit-clickjacking-no-body');if(s&&top===self){s.parentNode.removeChild(s);}})();"
        routes = {"/core/misc/drupal.js?v=8.9.1": Resource(js, "application/javascript")}
        for spec in self.articles:
            routes[f"/node/{spec.number}"] = Resource(
                b"", "text/html", status=301, headers=(("Location", self.article_url(spec)),)
            )
        return routes
