"""A generated large pan-Arab news site where a few percent of the articles are about Libya.

``PanArabSite`` extends :class:`newsroom.bigsite.BigSite` (same page template, same corpus, same server)
with what a real pan-Arab outlet has and the focused crawl needs to find its Libya coverage first:

- ``libya_percent`` of the articles are about Libya (the rest about everything else);
- sections (``/category/<slug>/``, paginated ``/page/N/``, 20 items a page, newest first) linked from the
  menu, one of them the Libya section «ليبيا»; Libya articles outside it carry the tag «ليبيا»
  (``/tag/%D9%84...%/``, linked from the home page's tag cloud), so every Libya article is listed in the
  Libya section or on the Libya tag page before it is fetched;
- ``quiet_share`` of the Libya articles (at most a third) have a neutral headline with no Libya word, so
  neither their title nor their slug says Libya: only the section, the tag and the text do;
- Arabic slugs (the headline's words, percent-encoded), monthly sitemaps without titles
  (``/sitemap-YYYY-MM.xml``), a news sitemap of the last two days with titles and keywords, an RSS feed
  (``/feed/``, autodiscovered from ``<link rel="alternate">``), robots.txt naming both sitemap kinds.

Everything is still derived from ``(seed, site, number)``; the per-section member lists (a few integers per
article) are computed once per process.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import random
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import quote, unquote

from .bigsite import BigArticle, BigSite, _Story
from .dates import http_date, iso, standard_date
from .sites.base import esc

PER_LISTING = 20
NEWS_SITEMAP_DAYS = 2
FEED_ITEMS = 30
LIBYA_SECTION = "libya"
LIBYA_TAG = "ليبيا"
# slug, menu text; the first is the Libya section.
SECTIONS = (
    (LIBYA_SECTION, "ليبيا"),
    ("politics", "سياسة"),
    ("economy", "اقتصاد"),
    ("gulf", "الخليج"),
    ("world", "عربي ودولي"),
    ("sport", "رياضة"),
    ("culture", "ثقافة وفنون"),
    ("opinion", "رأي"),
)
OTHER_TAGS = ("مصر", "السودان", "تونس", "الجزائر", "سوريا", "لبنان", "العراق", "اليمن")
# Headlines that name no place or actor of the Libya topic: a Libya article under one of these is only
# recognisable from its section, its tag and its text.
QUIET_TITLES = (
    "اجتماع مرتقب لبحث الملفات العالقة بين الأطراف",
    "تصريحات جديدة حول مستقبل المفاوضات المتعثرة",
    "مسؤول يكشف تفاصيل الاتفاق الأخير",
    "تحذيرات من تدهور الأوضاع الإنسانية خلال الأيام المقبلة",
    "ترقب لنتائج الجولة الجديدة من المحادثات",
    "خلافات حادة تؤجل التصويت على القرار",
    "وفد رسمي يصل لإجراء مشاورات عاجلة",
    "مبادرة جديدة لتوحيد المؤسسات المنقسمة",
    "أزمة الوقود تتفاقم وطوابير أمام المحطات",
    "الإفراج عن محتجزين في صفقة تبادل",
)
ARTICLE_PATTERN = r"^/\d{4}/\d{2}/\d{2}/[A-Za-z0-9%-]+-\d+/$"
_ARTICLE_PATH = re.compile(r"^/(\d{4})/(\d{2})/(\d{2})/([A-Za-z0-9%-]+)-(\d+)/$")
_LISTING_PATH = re.compile(r"^/(category|tag)/([^/]+)/(?:page/(\d+)/)?$")
_MONTH_SITEMAP = re.compile(r"^/sitemap-(\d{4})-(\d{2})\.xml$")
_WORD = re.compile(r"\w+", re.U)


class PanArabSite(BigSite):
    """A pan-Arab site: ``libya_percent`` % Libya coverage, sections, tags, monthly and news sitemaps, RSS."""

    ARTICLE_PATTERN = ARTICLE_PATTERN

    def __init__(
        self,
        name: str,
        index: int,
        articles: int,
        *,
        libya_percent: float = 4.0,
        quiet_share: float = 0.3,
        section_share: float = 0.7,
        **kwargs: object,
    ) -> None:
        if not 0 < libya_percent <= 100:
            raise ValueError(f"libya_percent must be in (0, 100], got {libya_percent}")
        if not 0 <= quiet_share <= 1 / 3 + 1e-9:
            raise ValueError(f"quiet_share must be between 0 and 1/3, got {quiet_share}")
        kwargs.setdefault("gated_share", 0.0)
        super().__init__(name, index, articles, **kwargs)  # type: ignore[arg-type]
        self.libya_percent = libya_percent
        self.quiet_share = quiet_share
        self.section_share = section_share

    # ---- identity --------------------------------------------------------------------------------
    def is_libya(self, number: int) -> bool:
        return self._hash("libya", number) % 10_000 < round(self.libya_percent * 100)

    def story(self, number: int) -> _Story:
        pool = self.corpus.relevant if self.is_libya(number) else self.corpus.irrelevant
        return pool[self._hash("story", number) % len(pool)]

    def is_quiet(self, number: int) -> bool:
        """A Libya article whose headline (and so slug) carries no Libya word."""
        return self.is_libya(number) and self._hash("quiet", number) % 10_000 < round(
            self.quiet_share * 10_000
        )

    def headline(self, number: int) -> str:
        if self.is_quiet(number):
            return QUIET_TITLES[self._hash("quiet-title", number) % len(QUIET_TITLES)]
        return self.story(number).title

    def section(self, number: int) -> str:
        """The section slug the article is filed under."""
        h = self._hash("section", number)
        if self.is_libya(number) and h % 100 < round(self.section_share * 100):
            return LIBYA_SECTION
        return SECTIONS[1 + h % (len(SECTIONS) - 1)][0]

    def tags(self, number: int) -> tuple[str, ...]:
        h = self._hash("tags", number)
        if self.is_libya(number):
            return (LIBYA_TAG,) if self.section(number) != LIBYA_SECTION else ()
        return (OTHER_TAGS[h % len(OTHER_TAGS)],)

    def slug(self, number: int) -> str:
        words = _WORD.findall(self.headline(number))[:7]
        return quote("-".join(words), safe="-")

    def article_path(self, number: int) -> str:
        day = self.published(number)
        return f"/{day.year:04d}/{day.month:02d}/{day.day:02d}/{self.slug(number)}-{number}/"

    def number_for_path(self, path: str) -> int | None:
        match = _ARTICLE_PATH.match(path)
        if match is None:
            return None
        number = int(match.group(5))
        if not 1 <= number <= self.articles or self.article_path(number) != path:
            return None
        return number

    def article(self, number: int) -> BigArticle:
        art = super().article(number)
        prefix = art.title[: len(art.title) - len(self.story(number).title)]
        return dataclasses.replace(art, title=prefix + self.headline(number))

    def _link(self, number: int, cls: str = "") -> str:
        klass = f' class="{cls}"' if cls else ""
        return f'<a{klass} href="{self.article_path(number)}">{esc(self.headline(number))}</a>'

    # ---- listings ---------------------------------------------------------------------------------
    @functools.cached_property
    def _members(self) -> dict[tuple[str, str], list[int]]:
        """("category"|"tag", name) -> article numbers, oldest first."""
        members: dict[tuple[str, str], list[int]] = {}
        for number in self.numbers():
            members.setdefault(("category", self.section(number)), []).append(number)
            for tag in self.tags(number):
                members.setdefault(("tag", tag), []).append(number)
        return members

    def listing_pages(self, kind: str, name: str) -> int:
        return max(1, math.ceil(len(self._members.get((kind, name), ())) / PER_LISTING))

    def listing_url(self, kind: str, name: str, page: int = 1) -> str:
        base = f"/{kind}/{quote(name) if kind == 'tag' else name}/"
        return base if page == 1 else f"{base}page/{page}/"

    def libya_listed(self) -> set[int]:
        """Every article number listed in the Libya section or on the Libya tag page."""
        return set(self._members.get(("category", LIBYA_SECTION), ())) | set(
            self._members.get(("tag", LIBYA_TAG), ())
        )

    def libya_numbers(self) -> list[int]:
        return [n for n in self.numbers() if self.is_libya(n)]

    def page_count(self) -> int:
        """Every page a whole-site crawl fetches: articles, listings, sitemaps, feed, home, robots.txt."""
        listings = sum(self.listing_pages(kind, name) for kind, name in self._members)
        return self.articles + listings + len(self.months()) + 2 + 1 + 1 + 1

    def listing(self, kind: str, name: str, page: int) -> bytes | None:
        numbers = self._members.get((kind, name))
        pages = self.listing_pages(kind, name)
        if numbers is None or not 1 <= page <= pages:
            return None
        newest_first = numbers[::-1][(page - 1) * PER_LISTING : page * PER_LISTING]
        title = dict(SECTIONS).get(name, name) if kind == "category" else f"وسم: {name}"
        items = "".join(
            f'<article class="post-item"><h2 class="entry-title">{self._link(n)}</h2>'
            f'<time datetime="{iso(self.published(n))}">{standard_date(self.published(n))}</time>'
            f"<p>{esc(' '.join(self.story(n).paragraphs[0].split()[:18]))} …</p></article>"
            for n in newest_first
        )
        nav = []
        if page > 1:
            nav.append(
                f'<a class="prev page-numbers" href="{self.listing_url(kind, name, page - 1)}">« السابق</a>'
            )
        for k in range(max(1, page - 2), min(pages, page + 2) + 1):
            nav.append(f'<a class="page-numbers" href="{self.listing_url(kind, name, k)}">{k}</a>')
        if page + 2 < pages:  # WordPress: "1 2 3 … 41 Next"
            nav.append(
                f'<span class="dots">…</span><a class="page-numbers" href="{self.listing_url(kind, name, pages)}">{pages}</a>'
            )
        if page < pages:
            nav.append(
                f'<a class="next page-numbers" href="{self.listing_url(kind, name, page + 1)}">التالي »</a>'
            )
        head = f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="UTF-8"><title>{esc(title)} - {esc(self.title)}</title></head>'
        return (
            head
            + self._masthead(numbers[-1])
            + f'<main id="main" class="site-main"><h1 class="page-title">{esc(title)}</h1>{items}'
            + f'<nav class="pagination">{"".join(nav)}</nav></main>'
            + self._sidebar(numbers[-1])
            + self._footer()
        ).encode()

    def _masthead(self, number: int) -> str:
        ticker = " | ".join(self._link(n) for n in self._neighbours(number, 1, 4))
        menu = "".join(
            f'<li class="menu-item"><a href="{self.listing_url("category", slug)}">{text}</a></li>'
            for slug, text in SECTIONS
        )
        return f"""<body class="rtl">
<header id="masthead" class="site-header">
<div class="site-branding"><p class="site-title"><a href="/" rel="home">{esc(self.title)}</a></p>
<p class="site-description">أخبار العالم العربي على مدار الساعة</p></div>
<nav id="site-navigation" class="main-navigation"><ul id="primary-menu" class="menu">
<li class="menu-item"><a href="/">الرئيسية</a></li>{menu}</ul></nav>
<div class="breaking-news"><span class="breaking-title">عاجل</span> {ticker}</div>
</header>
<div id="content" class="site-content">"""

    def _main(self, art: BigArticle, rng: random.Random, comments: int, app_shell: bool) -> str:
        html = super()._main(art, rng, comments, app_shell)
        section = self.section(art.number)
        crumb = f'<a href="{self.listing_url("category", section)}">{dict(SECTIONS)[section]}</a>'
        html = re.sub(r'<a href="/category/libya/">[^<]*</a>', crumb, html, count=1)
        tags = " ".join(
            f'<a href="{self.listing_url("tag", t)}" rel="tag">{t}</a>' for t in self.tags(art.number)
        )
        return re.sub(
            r'(<span class="tags-links">الوسوم: ).*?(</span>)',
            lambda m: m.group(1) + tags + m.group(2),
            html,
            count=1,
        )

    def home(self) -> bytes:
        latest = "".join(
            f"<li>{self._link(n)} <time>{standard_date(self.published(n))}</time></li>"
            for n in range(self.articles, max(0, self.articles - 20), -1)
        )
        cloud = " ".join(
            f'<a class="tag-cloud-link" href="{self.listing_url("tag", t)}">{t}</a>'
            for t in (LIBYA_TAG, *OTHER_TAGS)
        )
        return (
            f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="UTF-8"><title>{esc(self.title)}</title>'
            f'<link rel="alternate" type="application/rss+xml" title="{esc(self.title)}" href="/feed/"></head>'
            f'{self._masthead(self.articles)}<main id="main" class="site-main"><h1 class="page-title">آخر الأخبار</h1>'
            f'<ul class="latest">{latest}</ul><div class="tagcloud">{cloud}</div></main>'
            f"{self._sidebar(self.articles)}{self._footer()}"
        ).encode()

    # ---- sitemaps and feed ---------------------------------------------------------------------------
    @functools.cached_property
    def _months(self) -> dict[str, tuple[int, int]]:
        months: dict[str, tuple[int, int]] = {}
        for number in self.numbers():
            key = self.published(number).strftime("%Y-%m")
            first, _ = months.get(key, (number, number))
            months[key] = (first, number)
        return months

    def months(self) -> list[str]:
        return list(self._months)

    def robots(self) -> bytes:
        return (
            "User-agent: *\nDisallow: /wp-admin/\n\n"
            f"Sitemap: {self.url('/sitemap_index.xml')}\nSitemap: {self.url('/news-sitemap.xml')}\n"
        ).encode()

    def sitemap_index(self) -> bytes:
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
        ]
        for key, (_, last) in self._months.items():
            out.append(
                f"<sitemap><loc>{self.url(f'/sitemap-{key}.xml')}</loc><lastmod>{iso(self._modified(last))}</lastmod></sitemap>"
            )
        out.append("</sitemapindex>")
        return "\n".join(out).encode()

    def _modified(self, number: int) -> datetime:
        return self.published(number) + timedelta(hours=number % 5)

    def month_sitemap(self, key: str) -> bytes | None:
        span = self._months.get(key)
        if span is None:
            return None
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
        ]
        for n in range(span[0], span[1] + 1):
            out.append(
                f"<url><loc>{self.article_url(n)}</loc><lastmod>{iso(self._modified(n))}</lastmod></url>"
            )
        out.append("</urlset>")
        return "\n".join(out).encode()

    def sitemap_urls(self) -> Iterator[str]:
        for key in self._months:
            yield from re.findall(r"<loc>([^<]+)</loc>", (self.month_sitemap(key) or b"").decode())

    def news_numbers(self) -> list[int]:
        newest = self.published(self.articles)
        return [
            n
            for n in range(self.articles, 0, -1)
            if newest - self.published(n) <= timedelta(days=NEWS_SITEMAP_DAYS)
        ]

    def news_sitemap(self) -> bytes:
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">',
        ]
        for n in self.news_numbers():
            keywords = ", ".join((dict(SECTIONS)[self.section(n)], *self.tags(n)))
            out.append(
                f"<url><loc>{self.article_url(n)}</loc><news:news><news:publication><news:name>{esc(self.title)}"
                f"</news:name><news:language>ar</news:language></news:publication>"
                f"<news:publication_date>{iso(self.published(n))}</news:publication_date>"
                f"<news:title>{esc(self.headline(n))}</news:title><news:keywords>{esc(keywords)}</news:keywords>"
                "</news:news></url>"
            )
        out.append("</urlset>")
        return "\n".join(out).encode()

    def feed(self) -> bytes:
        items = []
        for n in range(self.articles, max(0, self.articles - FEED_ITEMS), -1):
            lead = " ".join(self.story(n).paragraphs[0].split()[:30])
            items.append(
                f"<item><title>{esc(self.headline(n))}</title><link>{self.article_url(n)}</link>"
                f"<pubDate>{http_date(self.published(n))}</pubDate><description>{esc(lead)}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{esc(self.title)}</title><link>{self.base_url}</link>{''.join(items)}</channel></rss>"
        ).encode()

    def respond(self, path: str, cookie: str) -> tuple[int, str, bytes, tuple[tuple[str, str], ...]]:
        xml = "application/xml; charset=utf-8"
        if path == "/news-sitemap.xml":
            return 200, xml, self.news_sitemap(), ()
        if path in ("/feed/", "/rss/"):
            return 200, "application/rss+xml; charset=utf-8", self.feed(), ()
        match = _MONTH_SITEMAP.match(path)
        if match is not None:
            body = self.month_sitemap(f"{match.group(1)}-{match.group(2)}")
            if body is not None:
                return 200, xml, body, ()
        match = _LISTING_PATH.match(path)
        if match is not None:
            name = unquote(match.group(2)) if match.group(1) == "tag" else match.group(2)
            body = self.listing(match.group(1), name, int(match.group(3) or 1))
            if body is not None:
                return 200, "text/html; charset=utf-8", body, ()
        if path.startswith("/post-sitemap"):
            return 404, "text/html; charset=utf-8", b"not found", ()
        return super().respond(path, cookie)
