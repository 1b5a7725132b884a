"""Large offline news sites for benchmarks: thousands of realistic Arabic article pages, generated per request.

``BigSite`` derives every page from ``(seed, site, article number)`` alone, so nothing is held in memory
and a page is the same on every start: a WordPress-like template (nav, breaking ticker, breadcrumbs, share
buttons, author box, related posts, comments, sidebar, footer, JSON-LD and inline CSS/JS) around Arabic
paragraphs composed from the newsroom corpus (``newsroom/corpus``), padded to a size drawn from 30-150 KB.
About ``gated_share`` of the articles are JavaScript-gated exactly like the newsroom's ``gated`` site
(its challenge shell and ``app.js`` are reused): without the challenge cookie the page is the challenge
shell; with it an app shell loads ``/api/articles/<n>.json`` by XHR. Each site has ``robots.txt`` with a
``Sitemap:`` line, a sitemap index and sitemaps of at most ``PER_SITEMAP`` URLs.

``BigSiteServer`` serves several sites, one port each, from one asyncio process (raw ``asyncio.Protocol``
HTTP/1.1 with keep-alive, optional gzip), fast enough that a crawler on the same machine is not waiting
for it. CLI::

    python -m newsroom.bigsite serve --articles 5000 --sites 4 --sources-out /tmp/big.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gzip
import json
import logging
import math
import os
import random
import re
import signal
import socket
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from .catalog import CORPUS_DIR
from .dates import LIBYA_TZ, http_date, iso, standard_date
from .models import RELEVANT_CASES
from .sites.base import PNG_PIXEL, esc
from .sites.gated import APP_JS, CHALLENGE_COOKIE, CHALLENGE_JS, challenge_page

logger = logging.getLogger(__name__)

MIN_PAGE_BYTES = 30 * 1024
MAX_PAGE_BYTES = 150 * 1024
MODE_PAGE_BYTES = 60 * 1024
PER_SITEMAP = 5000
DEFAULT_SEED = "bigsite-1"
RELEVANT_PERCENT = 85
FIRST_DAY = datetime(2019, 1, 3, 6, 0, tzinfo=LIBYA_TZ)
SITE_TITLES = (
    "الواحة الكبرى",
    "المرصد الليبي",
    "بوابة الجنوب",
    "صدى طرابلس",
    "برقة اليوم",
    "فزان نيوز",
    "الساحل الإخباري",
    "منارة المتوسط",
)
CITIES = ("طرابلس", "بنغازي", "مصراتة", "سبها", "الزاوية", "سرت", "درنة", "غريان", "تونس", "القاهرة")
ARTICLE_PATTERN = r"^/\d{4}/\d{2}/\d{2}/[a-z0-9-]+-\d+/$"
RENDER_WAIT_SELECTOR = "#app h1"
_ARTICLE_PATH = re.compile(r"^/(\d{4})/(\d{2})/(\d{2})/([a-z0-9-]+)-(\d+)/$")
_SITEMAP_PATH = re.compile(r"^/post-sitemap(\d+)\.xml$")
_API_PATH = re.compile(r"^/api/articles/(\d+)\.json$")
_CHALLENGE = f"{CHALLENGE_COOKIE[0]}={CHALLENGE_COOKIE[1]}"
_PAGE_CHROME = "wp-block"


# ---- corpus --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Story:
    key: str
    title: str
    paragraphs: tuple[str, ...]
    relevant: bool


@dataclass(frozen=True)
class Corpus:
    """The newsroom corpus split into what relevant and irrelevant articles are composed from."""

    relevant: tuple[_Story, ...]
    irrelevant: tuple[_Story, ...]
    relevant_pool: tuple[str, ...]
    irrelevant_pool: tuple[str, ...]
    authors: tuple[str, ...]
    sentences: tuple[str, ...]


@functools.cache
def load_corpus() -> Corpus:
    """Stories and background paragraphs of ``newsroom/corpus`` (read once per process)."""
    with (CORPUS_DIR / "stories.yaml").open(encoding="utf-8") as fh:
        stories = yaml.safe_load(fh)
    with (CORPUS_DIR / "pools.yaml").open(encoding="utf-8") as fh:
        pools: dict[str, list[str]] = yaml.safe_load(fh)
    relevant: list[_Story] = []
    irrelevant: list[_Story] = []
    for entries in stories["sites"].values():
        for story in entries:
            case = story.get("case", "plain")
            # Stories that mention Libya in passing would make the relevance split of this corpus fuzzy.
            if case in ("hard_negative_passing", "hard_negative_teaser"):
                continue
            item = _Story(story["key"], story["title"], tuple(story["paras"]), case in RELEVANT_CASES)
            (relevant if item.relevant else irrelevant).append(item)
    relevant_pool = tuple(p for name, ps in pools.items() if name.startswith("libya") for p in ps)
    irrelevant_pool = tuple(p for name, ps in pools.items() if not name.startswith("libya") for p in ps)
    authors = tuple(a for names in stories["authors"].values() for a in names)
    sentences = tuple(
        s.strip() + "."
        for p in irrelevant_pool + relevant_pool
        for s in p.split("،")
        if 40 <= len(s.strip()) <= 160
    )
    return Corpus(tuple(relevant), tuple(irrelevant), relevant_pool, irrelevant_pool, authors, sentences)


@functools.cache
def _css_filler() -> str:
    """A large block of plausible theme CSS; pages take a prefix of it to reach their size."""
    rng = random.Random("bigsite-css")
    props = (
        "margin:0 auto",
        "padding:4px 8px",
        "color:#333",
        "background:#f7f7f7",
        "font-size:14px",
        "line-height:1.8",
        "border-bottom:1px solid #e5e5e5",
        "display:flex",
        "text-align:right",
        "direction:rtl",
        "font-family:Tahoma,Arial,sans-serif",
        "box-sizing:border-box",
        "transition:all .2s ease-in-out",
    )
    blocks = ("header", "nav", "widget", "post", "entry", "related", "comment", "footer", "ad", "ticker")
    rules = []
    for n in range(12000):
        selector = f".{rng.choice(blocks)}-{_PAGE_CHROME}-{n}"
        if n % 3 == 0:
            selector += f" .{rng.choice(blocks)}__inner>a:hover"
        rules.append(selector + "{" + ";".join(rng.sample(props, 3)) + "}")
    return "\n".join(rules)


# ---- articles ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BigArticle:
    """One generated article: what a perfect crawl would store for it."""

    site: str
    number: int
    path: str
    title: str
    author: str
    published: datetime
    modified: datetime
    paragraphs: tuple[str, ...]
    relevant: bool
    gated: bool

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


class BigSite:
    """One large site, generated on demand. ``number`` runs from 1 to ``articles``."""

    def __init__(
        self,
        name: str,
        index: int,
        articles: int,
        *,
        seed: str = DEFAULT_SEED,
        gated_share: float = 0.05,
        base_url: str = "http://127.0.0.1/",
    ) -> None:
        if articles < 1:
            raise ValueError("a big site needs at least one article")
        if not 0.0 <= gated_share <= 1.0:
            raise ValueError(f"gated_share must be between 0 and 1, got {gated_share}")
        self.name = name
        self.index = index
        self.articles = articles
        self.seed = seed
        self.gated_share = gated_share
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.title = SITE_TITLES[index % len(SITE_TITLES)] + (
            f" {index + 1}" if index >= len(SITE_TITLES) else ""
        )
        self.corpus = load_corpus()

    # ---- identity of an article (cheap: used for every link) ----------------------------------------
    def _hash(self, salt: str, number: int) -> int:
        return zlib.crc32(f"{self.seed}/{salt}/{self.name}/{number}".encode())

    def story(self, number: int) -> _Story:
        h = self._hash("story", number)
        pool = self.corpus.relevant if h % 100 < RELEVANT_PERCENT else self.corpus.irrelevant
        return pool[(h // 100) % len(pool)]

    def is_gated(self, number: int) -> bool:
        return self._hash("gate", number) % 10_000 < round(self.gated_share * 10_000)

    def published(self, number: int) -> datetime:
        # Older numbers first, roughly 27 articles a day per site, spread over the hours of the day.
        return FIRST_DAY + timedelta(minutes=number * 53 + self.index * 7)

    def article_path(self, number: int) -> str:
        day = self.published(number)
        return f"/{day.year:04d}/{day.month:02d}/{day.day:02d}/{self.story(number).key}-{number}/"

    def article_url(self, number: int) -> str:
        return self.url(self.article_path(number))

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def number_for_path(self, path: str) -> int | None:
        """The article number a path belongs to, or None when it is not exactly an article's path."""
        match = _ARTICLE_PATH.match(path)
        if match is None:
            return None
        number = int(match.group(5))
        if not 1 <= number <= self.articles or self.article_path(number) != path:
            return None
        return number

    def article(self, number: int) -> BigArticle:
        """The full article (gold) for ``number``."""
        if not 1 <= number <= self.articles:
            raise KeyError(number)
        story = self.story(number)
        rng = random.Random(f"{self.seed}/article/{self.name}/{number}")
        pool = self.corpus.relevant_pool if story.relevant else self.corpus.irrelevant_pool
        extra = rng.sample(pool, min(len(pool), rng.randint(2, 12)))
        city = rng.choice(CITIES)
        first = f"{city} - {self.title}: {story.paragraphs[0]}"
        paragraphs = (first, *story.paragraphs[1:], *extra)
        published = self.published(number)
        prefix = rng.choice(("", "", "", "عاجل: ", "تحديث: ", "بالفيديو: "))
        return BigArticle(
            site=self.name,
            number=number,
            path=self.article_path(number),
            title=f"{prefix}{story.title}",
            author=rng.choice(self.corpus.authors),
            published=published,
            modified=published + timedelta(hours=number % 5),
            paragraphs=paragraphs,
            relevant=story.relevant,
            gated=self.is_gated(number),
        )

    def target_size(self, number: int) -> int:
        rng = random.Random(f"{self.seed}/size/{self.name}/{number}")
        return int(rng.triangular(MIN_PAGE_BYTES, MAX_PAGE_BYTES, MODE_PAGE_BYTES))

    def numbers(self) -> range:
        return range(1, self.articles + 1)

    def _neighbours(self, number: int, offset: int, count: int) -> list[int]:
        return [(number - 1 + offset + k) % self.articles + 1 for k in range(count) if self.articles > 1]

    def _link(self, number: int, cls: str = "") -> str:
        story = self.story(number)
        klass = f' class="{cls}"' if cls else ""
        return f'<a{klass} href="{self.article_path(number)}">{esc(story.title)}</a>'

    # ---- templates -----------------------------------------------------------------------------------
    def _head(self, art: BigArticle, css: str) -> str:
        url = self.article_url(art.number)
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": art.title,
            "datePublished": iso(art.published),
            "dateModified": iso(art.modified),
            "author": {"@type": "Person", "name": art.author},
            "publisher": {"@type": "Organization", "name": self.title},
            "mainEntityOfPage": url,
            "inLanguage": "ar",
        }
        wp_settings = {
            "ajaxurl": "/wp-admin/admin-ajax.php",
            "postId": art.number,
            "lazyload": True,
            "i18n": {"more": "المزيد", "close": "إغلاق", "share": "مشاركة"},
        }
        return f"""<!DOCTYPE html>
<html lang="ar" dir="rtl">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(art.title)} - {esc(self.title)}</title>
<link rel="canonical" href="{esc(url)}">
<link rel="shortlink" href="{self.url(f"/?p={art.number}")}">
<meta property="og:locale" content="ar_AR">
<meta property="og:type" content="article">
<meta property="og:title" content="{esc(art.title)}">
<meta property="og:url" content="{esc(url)}">
<meta property="og:site_name" content="{esc(self.title)}">
<meta property="og:image" content="{self.url(f"/wp-content/uploads/{art.number}.png")}">
<meta property="article:published_time" content="{iso(art.published)}">
<meta property="article:modified_time" content="{iso(art.modified)}">
<meta name="author" content="{esc(art.author)}">
<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>
<script>var wpSettings = {json.dumps(wp_settings, ensure_ascii=False)};</script>
<style id="theme-inline-css">
{css}
</style>
</head>"""

    def _masthead(self, number: int) -> str:
        ticker = " | ".join(self._link(n) for n in self._neighbours(number, 1, 4))
        menu = "".join(
            f'<li class="menu-item"><a href="/category/{slug}/">{name}</a></li>'
            for slug, name in (
                ("libya", "أخبار ليبيا"),
                ("politics", "سياسة"),
                ("economy", "اقتصاد"),
                ("oil", "نفط وطاقة"),
                ("world", "عربي ودولي"),
                ("sport", "رياضة"),
                ("culture", "ثقافة وفنون"),
                ("opinion", "رأي"),
                ("video", "فيديو"),
                ("reports", "تقارير"),
            )
        )
        return f"""<body class="rtl post-template-default single single-post">
<a class="skip-link screen-reader-text" href="#content">تخطي إلى المحتوى</a>
<header id="masthead" class="site-header">
<div class="site-branding"><p class="site-title"><a href="/" rel="home">{esc(self.title)}</a></p>
<p class="site-description">بوابة الأخبار الليبية والعربية</p></div>
<nav id="site-navigation" class="main-navigation"><ul id="primary-menu" class="menu">
<li class="menu-item"><a href="/">الرئيسية</a></li>{menu}
<li class="menu-item"><a href="javascript:void(0)" class="search-toggle">بحث</a></li></ul></nav>
<div class="breaking-news"><span class="breaking-title">عاجل</span> {ticker}</div>
</header>
<div id="content" class="site-content">"""

    def _sidebar(self, number: int) -> str:
        most_read = "".join(f"<li>{self._link(n)}</li>" for n in self._neighbours(number, 40, 10))
        latest = "".join(f"<li>{self._link(n)}</li>" for n in self._neighbours(number, 90, 6))
        return f"""<aside id="secondary" class="widget-area">
<section class="widget widget_recent_entries"><h2 class="widget-title">الأكثر قراءة</h2><ul>{most_read}</ul></section>
<section class="widget"><h2 class="widget-title">آخر الأخبار</h2><ul>{latest}</ul></section>
<section class="widget widget_newsletter"><h2 class="widget-title">النشرة البريدية</h2>
<form action="/newsletter/" method="post"><input type="email" name="email" placeholder="بريدك الإلكتروني">
<button type="submit">اشترك</button></form></section>
<section class="widget ad"><div class="ad-slot" data-slot="sidebar-1">إعلان</div></section>
<section class="widget"><h2 class="widget-title">تابعونا</h2>
<a href="https://www.facebook.com/example.news">فيسبوك</a> <a href="https://twitter.com/example">تويتر</a>
<a href="https://t.me/example">تلغرام</a> <a href="https://youtube.com/example">يوتيوب</a></section>
</aside>"""

    def _footer(self) -> str:
        links = "".join(
            f'<li><a href="{href}">{text}</a></li>'
            for href, text in (
                ("/about/", "من نحن"),
                ("/contact/", "اتصل بنا"),
                ("/privacy/", "سياسة الخصوصية"),
                ("/terms/", "شروط الاستخدام"),
                ("/ads/", "أعلن معنا"),
                ("/rss/", "خدمة RSS"),
                ("mailto:editor@example.org", "راسلنا"),
                ("/wp-admin/", "لوحة التحكم"),
            )
        )
        return f"""</div>
<footer id="colophon" class="site-footer">
<nav class="footer-links"><ul>{links}</ul></nav>
<div class="site-info">جميع الحقوق محفوظة © {esc(self.title)} 2021</div>
<div class="cookie-notice">نستخدم ملفات تعريف الارتباط لتحسين تجربتك. <a href="/privacy/">المزيد</a></div>
</footer>
<script>(function(){{var d=document,s=d.createElement("script");s.async=true;s.src="/wp-includes/js/stats.js?v=3";
d.getElementsByTagName("head")[0].appendChild(s);window.dataLayer=window.dataLayer||[];
window.dataLayer.push({{"event":"pageview","site":"{self.name}"}});}})();</script>
</body>
</html>"""

    def _comments(self, rng: random.Random, count: int) -> str:
        sentences = self.corpus.sentences
        items = []
        for k in range(count):
            name = rng.choice(self.corpus.authors).split()[0]
            said = " ".join(rng.sample(sentences, rng.randint(1, 3)))
            items.append(
                f'<li class="comment" id="comment-{k + 1}"><article class="comment-body">'
                f'<footer class="comment-meta"><b class="fn">{esc(name)}</b> '
                f'<span class="says">قال:</span></footer><div class="comment-content"><p>{esc(said)}</p></div>'
                f'<a class="comment-reply-link" href="#respond">رد</a></article></li>'
            )
        return f"""<div id="comments" class="comments-area"><h3 class="comments-title">{count} تعليقات</h3>
<ol class="comment-list">{"".join(items)}</ol>
<div id="respond" class="comment-respond"><h3 id="reply-title" class="comment-reply-title">اترك تعليقاً</h3>
<form action="/wp-comments-post.php" method="post" id="commentform" class="comment-form">
<p class="comment-notes">لن يتم نشر عنوان بريدك الإلكتروني. الحقول الإلزامية مشار إليها بـ *</p>
<p class="comment-form-comment"><label for="comment">التعليق</label><textarea id="comment" name="comment"></textarea></p>
<p class="form-submit"><input name="submit" type="submit" id="submit" class="submit" value="إرسال التعليق"></p>
</form></div></div>"""

    def _main(self, art: BigArticle, rng: random.Random, comments: int, app_shell: bool) -> str:
        number = art.number
        section = "أخبار ليبيا" if art.relevant else "عربي ودولي"
        crumbs = (
            f'<nav class="breadcrumbs"><a href="/">الرئيسية</a> » <a href="/category/libya/">{section}</a>'
            f" » <span>{esc(art.title)}</span></nav>"
        )
        if app_shell:
            # The gated template: the article arrives by XHR (newsroom.sites.gated.APP_JS).
            return (
                f'<main id="main" class="site-main">{crumbs}<div id="app" data-article-id="{number}"></div>'
                '<script src="/static/app.js"></script></main>'
            )
        share_q = quote(self.article_url(number), safe="")
        related = "".join(
            f'<li class="related-item">{self._link(n)}<p>{esc(" ".join(self.story(n).paragraphs[0].split()[:14]))} …</p></li>'
            for n in self._neighbours(number, 7, 6)
        )
        body = "\n".join(f"<p>{esc(p)}</p>" for p in art.paragraphs)
        tags = " ".join(
            f'<a href="/tag/{quote(t)}/" rel="tag">{t}</a>'
            for t in (("ليبيا", "طرابلس", "سياسة") if art.relevant else ("عربي", "دولي"))
        )
        return f"""<main id="main" class="site-main">{crumbs}
<article id="post-{number}" class="post-{number} post type-post status-publish">
<header class="entry-header"><h1 class="entry-title">{esc(art.title)}</h1>
<div class="entry-meta"><time class="entry-date published" datetime="{iso(art.published)}">{standard_date(art.published)}</time>
<span class="byline">بواسطة <a class="url fn n" href="/author/{number % 9 + 1}/">{esc(art.author)}</a></span>
<a href="#comments" class="comments-link">{comments} تعليقات</a></div></header>
<figure class="wp-caption post-thumbnail"><img src="/wp-content/uploads/{number}.png" alt="{esc(art.title)}" width="800" height="450">
<figcaption class="wp-caption-text">صورة أرشيفية - {esc(self.title)}</figcaption></figure>
<div class="share-buttons"><a class="share-facebook" href="https://www.facebook.com/sharer.php?u={share_q}">شارك على فيسبوك</a>
<a class="share-twitter" href="https://twitter.com/intent/tweet?url={share_q}">شارك على تويتر</a>
<a class="share-print" href="javascript:window.print()">طباعة</a></div>
<div class="entry-content">
{body}
</div>
<footer class="entry-footer"><span class="tags-links">الوسوم: {tags}</span></footer></article>
<div class="author-box"><h3 class="author-box-title">عن الكاتب</h3><div class="author-bio"><strong>{esc(art.author)}</strong>
صحفي يغطي الشأن السياسي والعسكري منذ عام 2011. <a href="/author/{number % 9 + 1}/">جميع المقالات</a></div></div>
<section class="related-posts"><h3 class="related-title">شاهد أيضاً</h3><ul>{related}</ul></section>
{self._comments(rng, comments)}</main>"""

    def render_article(self, number: int, *, app_shell: bool = False) -> bytes:
        """The article page as served: the full page, or (``app_shell``) the gated page behind the cookie."""
        art = self.article(number)
        target = self.target_size(number)
        rng = random.Random(f"{self.seed}/page/{self.name}/{number}")
        comments = rng.randint(0, 12)
        parts = [self._masthead(number), self._main(art, rng, comments, app_shell), self._sidebar(number)]
        parts.append(self._footer())
        rest = "".join(parts).encode("utf-8")
        head_size = len(self._head(art, "").encode("utf-8"))
        filler = _css_filler()
        room = max(0, target - head_size - len(rest))
        cut = filler.rfind("}", 0, room) + 1 if room < len(filler) else len(filler)
        return self._head(art, filler[:cut]).encode("utf-8") + rest

    def api_json(self, number: int) -> bytes:
        """What ``/api/articles/<n>.json`` answers (the fields ``newsroom.sites.gated.APP_JS`` reads)."""
        art = self.article(number)
        data = {
            "id": f"{self.name}-{number}",
            "site_name": self.title,
            "title": art.title,
            "author": art.author,
            "published": iso(art.published),
            "published_display": standard_date(art.published),
            "section": "أخبار ليبيا" if art.relevant else "عربي ودولي",
            "paragraphs": list(art.paragraphs),
        }
        return json.dumps(data, ensure_ascii=False).encode("utf-8")

    # ---- discovery ---------------------------------------------------------------------------------
    def sitemap_count(self) -> int:
        return math.ceil(self.articles / PER_SITEMAP)

    def robots(self) -> bytes:
        return (
            f"User-agent: *\nDisallow: /wp-admin/\nDisallow: /wp-login.php\n\n"
            f"Sitemap: {self.url('/sitemap_index.xml')}\n"
        ).encode()

    def sitemap_index(self) -> bytes:
        newest = iso(self.published(self.articles))
        out = ['<?xml version="1.0" encoding="UTF-8"?>']
        out.append('<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
        for k in range(1, self.sitemap_count() + 1):
            out.append(
                f"<sitemap><loc>{self.url(f'/post-sitemap{k}.xml')}</loc><lastmod>{newest}</lastmod></sitemap>"
            )
        out.append("</sitemapindex>")
        return "\n".join(out).encode()

    def sitemap(self, k: int) -> bytes | None:
        """Sitemap ``k`` (1-based): articles ``(k-1)*PER_SITEMAP+1`` ... , None past the last one."""
        if not 1 <= k <= self.sitemap_count():
            return None
        first = (k - 1) * PER_SITEMAP + 1
        last = min(self.articles, k * PER_SITEMAP)
        out = ['<?xml version="1.0" encoding="UTF-8"?>']
        out.append('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
        for n in range(first, last + 1):
            modified = self.published(n) + timedelta(hours=n % 5)
            out.append(f"<url><loc>{self.article_url(n)}</loc><lastmod>{iso(modified)}</lastmod></url>")
        out.append("</urlset>")
        return "\n".join(out).encode()

    def sitemap_urls(self) -> Iterator[str]:
        """Every article URL the sitemaps list, in sitemap order."""
        for k in range(1, self.sitemap_count() + 1):
            body = self.sitemap(k) or b""
            yield from re.findall(r"<loc>([^<]+)</loc>", body.decode())

    def home(self) -> bytes:
        latest = "".join(
            f"<li>{self._link(n)} <time>{standard_date(self.published(n))}</time></li>"
            for n in range(self.articles, max(0, self.articles - 20), -1)
        )
        return (
            f"""<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="UTF-8"><title>{esc(self.title)}</title>
</head>{self._masthead(self.articles)}<main id="main" class="site-main"><h1 class="page-title">آخر الأخبار</h1>
<ul class="latest">{latest}</ul></main>{self._sidebar(self.articles)}{self._footer()}"""
        ).encode()

    # ---- HTTP --------------------------------------------------------------------------------------
    def respond(self, path: str, cookie: str) -> tuple[int, str, bytes, tuple[tuple[str, str], ...]]:
        """``(status, content type, body, extra headers)`` for a GET of ``path`` (no query string)."""
        html_type = "text/html; charset=utf-8"
        number = self.number_for_path(path)
        if number is not None:
            modified = self.published(number) + timedelta(hours=number % 5)
            headers = (("Last-Modified", http_date(modified)),)
            if self.is_gated(number):
                if _CHALLENGE not in cookie:
                    return 200, html_type, _challenge_body(), (("Cache-Control", "no-store"),)
                return 200, html_type, self.render_article(number, app_shell=True), headers
            return 200, html_type, self.render_article(number), headers
        if path == "/robots.txt":
            return 200, "text/plain; charset=utf-8", self.robots(), ()
        if path == "/sitemap_index.xml":
            return 200, "application/xml; charset=utf-8", self.sitemap_index(), ()
        match = _SITEMAP_PATH.match(path)
        if match is not None:
            body = self.sitemap(int(match.group(1)))
            if body is not None:
                return 200, "application/xml; charset=utf-8", body, ()
        match = _API_PATH.match(path)
        if (
            match is not None
            and 1 <= int(match.group(1)) <= self.articles
            and self.is_gated(int(match.group(1)))
        ):
            if _CHALLENGE not in cookie:
                return 403, "application/json", b'{"error": "challenge required"}', ()
            return 200, "application/json; charset=utf-8", self.api_json(int(match.group(1))), ()
        if path == "/":
            return 200, html_type, self.home(), ()
        static = _STATIC.get(path)
        if static is not None:
            return 200, static[0], static[1], ()
        if path.endswith(".png"):
            return 200, "image/png", PNG_PIXEL, ()
        return 404, html_type, _NOT_FOUND, ()


_NOT_FOUND = '<!DOCTYPE html><html lang="ar"><body><h1>الصفحة غير موجودة</h1></body></html>'.encode()
_STATIC: dict[str, tuple[str, bytes]] = {
    "/static/challenge.js": ("application/javascript; charset=utf-8", CHALLENGE_JS.encode()),
    "/static/app.js": ("application/javascript; charset=utf-8", APP_JS.encode()),
    "/static/app.css": ("text/css; charset=utf-8", b"body{direction:rtl}#app{min-height:400px}"),
    "/wp-includes/js/stats.js?v=3": ("application/javascript", b"/* stats */"),
}


@functools.cache
def _challenge_body() -> bytes:
    return challenge_page().body


# ---- server ------------------------------------------------------------------------------------------
class _HttpProtocol(asyncio.Protocol):
    """Minimal HTTP/1.1: GET/HEAD, keep-alive, pipelining, gzip when asked and enabled."""

    def __init__(self, site: BigSite, gzip_level: int) -> None:
        self.site = site
        self.gzip_level = gzip_level
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    self.transport.close()
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, version = lines[0].split(" ", 2)
            except ValueError:
                self.transport.close()
                return
            headers = {}
            for line in lines[1:]:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if length:
                self.buffer = self.buffer[length:]  # request bodies are ignored (no POST routes)
            self._answer(method, target, version, headers)

    def _answer(self, method: str, target: str, version: str, headers: dict[str, str]) -> None:
        assert self.transport is not None
        try:
            status, ctype, body, extra = self.site.respond(target.split("#", 1)[0], headers.get("cookie", ""))
        except Exception:  # a generator bug must show up as a 500, not a hung connection
            logger.exception("bigsite %s failed on %s", self.site.name, target)
            status, ctype, body, extra = 500, "text/plain", b"internal error", ()
        out = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}",
            f"Content-Type: {ctype}",
            "Server: nginx/1.18.0",
        ]
        if self.gzip_level and ctype.startswith(("text/", "application/json", "application/xml")):
            out.append("Vary: Accept-Encoding")
            if "gzip" in headers.get("accept-encoding", ""):
                body = gzip.compress(body, compresslevel=self.gzip_level, mtime=0)
                out.append("Content-Encoding: gzip")
        out.append(f"Content-Length: {len(body)}")
        out.extend(f"{k}: {v}" for k, v in extra)
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        out.append("Connection: keep-alive" if keep_alive else "Connection: close")
        payload = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
        self.transport.write(payload if method == "HEAD" else payload + body)
        if not keep_alive:
            self.transport.close()
            self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


_REASONS = {200: "OK", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}


@dataclass
class ServedSite:
    site: BigSite
    sock: socket.socket

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])


def _site_share(articles: int, sites: int, index: int) -> int:
    """How many of ``articles`` the site at ``index`` (of ``sites``) serves."""
    return articles // sites + (1 if index < articles % sites else 0)


def gated_count(articles: int, sites: int = 4, *, gated_share: float = 0.05, seed: str = DEFAULT_SEED) -> int:
    """How many articles ``serve --articles N --sites S --gated-share G`` puts behind the JavaScript gate."""
    total = 0
    for index in range(sites):
        share = _site_share(articles, sites, index)
        site = BigSite(f"big{index + 1:02d}", index, share, seed=seed, gated_share=gated_share)
        total += sum(site.is_gated(number) for number in range(1, share + 1))
    return total


class BigSiteServer:
    """``sites`` big sites sharing ``articles`` between them, one listening socket each on ``host``.

    ``bind()`` opens the sockets (so URLs are known), ``serve_forever()`` runs the asyncio loop in this
    process; ``workers > 1`` forks that many processes accepting on the same sockets.
    """

    def __init__(
        self,
        articles: int,
        sites: int = 4,
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        seed: str = DEFAULT_SEED,
        gated_share: float = 0.05,
        gzip_level: int = 1,
        libya_percent: float | None = None,
    ) -> None:
        if sites < 1 or articles < sites:
            raise ValueError("need at least one site and at least one article per site")
        self.articles = articles
        self.site_count = sites
        self.host = host
        self.base_port = base_port
        self.seed = seed
        self.gated_share = gated_share
        self.gzip_level = gzip_level
        # Set: pan-Arab sites (newsroom.panarab) where this percentage of the articles is about Libya.
        self.libya_percent = libya_percent
        self.served: list[ServedSite] = []

    def bind(self) -> BigSiteServer:
        for index in range(self.site_count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.base_port + index if self.base_port else 0))
            sock.listen(1024)
            sock.setblocking(False)
            share = _site_share(self.articles, self.site_count, index)
            port = sock.getsockname()[1]
            site = self._site(index, share, f"http://{self.host}:{port}/")
            self.served.append(ServedSite(site, sock))
        return self

    def _site(self, index: int, share: int, base_url: str) -> BigSite:
        name = f"big{index + 1:02d}"
        if self.libya_percent is None:
            return BigSite(
                name, index, share, seed=self.seed, gated_share=self.gated_share, base_url=base_url
            )
        from .panarab import PanArabSite

        return PanArabSite(
            name,
            index,
            share,
            libya_percent=self.libya_percent,
            seed=self.seed,
            gated_share=self.gated_share,
            base_url=base_url,
        )

    @property
    def sites(self) -> list[BigSite]:
        return [s.site for s in self.served]

    def sources(self) -> dict[str, Any]:
        """A sources document for ``scrapy crawl libya -a sources=FILE``."""
        return {
            "sites": [
                {
                    "name": s.site.name,
                    "home": s.site.base_url,
                    "allowed_domains": [f"{self.host}:{s.port}"],
                    "sitemaps": [s.site.url("/sitemap_index.xml")],
                    "article_pattern": getattr(s.site, "ARTICLE_PATTERN", ARTICLE_PATTERN),
                    "render": "auto",
                    "render_wait_selector": RENDER_WAIT_SELECTOR,
                }
                for s in self.served
            ]
        }

    def write_sources(self, path: str | Path) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        text = "# Written by newsroom.bigsite for a benchmark crawl.\n"
        tmp.write_text(
            text + yaml.safe_dump(self.sources(), allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        tmp.replace(target)  # appears complete or not at all: a waiting process may read it at once
        return target

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        servers = []
        for served in self.served:

            def factory(site: BigSite = served.site) -> _HttpProtocol:
                return _HttpProtocol(site, self.gzip_level)

            servers.append(await loop.create_server(factory, sock=served.sock, backlog=1024))
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        for server in servers:
            server.close()

    def serve_forever(self, workers: int = 1) -> None:
        children: list[int] = []
        for _ in range(max(0, workers - 1)):
            pid = os.fork()
            if pid == 0:
                asyncio.run(self._serve())
                os._exit(0)
            children.append(pid)
        try:
            asyncio.run(self._serve())
        finally:
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            for pid in children:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m newsroom.bigsite", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve big sites until SIGTERM/SIGINT")
    serve.add_argument("--articles", type=int, default=5000, help="articles over all sites (default 5000)")
    serve.add_argument("--sites", type=int, default=4, help="number of sites, one port each (default 4)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--base-port", type=int, default=0, help="first port (default: free ports)")
    serve.add_argument("--seed", default=DEFAULT_SEED)
    serve.add_argument("--gated-share", type=float, default=0.05, help="share of JavaScript-gated articles")
    serve.add_argument("--gzip-level", type=int, default=1, help="gzip level when asked; 0: never gzip")
    serve.add_argument("--workers", type=int, default=1, help="server processes sharing the sockets")
    serve.add_argument(
        "--libya-percent",
        type=float,
        help="pan-Arab sites (newsroom.panarab): this percentage of the articles is about Libya",
    )
    serve.add_argument("--sources-out", help="write a sources YAML for the spider here once listening")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    server = BigSiteServer(
        args.articles,
        args.sites,
        host=args.host,
        base_port=args.base_port,
        seed=args.seed,
        gated_share=args.gated_share,
        gzip_level=args.gzip_level,
        libya_percent=args.libya_percent,
    ).bind()
    load_corpus()
    _css_filler()
    if args.sources_out:
        server.write_sources(args.sources_out)
    for site in server.sites:
        print(f"{site.name} {site.base_url} articles={site.articles}", flush=True)
    print("READY", flush=True)
    server.serve_forever(args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
