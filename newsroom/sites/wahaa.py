"""``wahaa``: a WordPress-like UTF-8 RTL news site (the richest boilerplate, served gzip-encoded).

Article body in ``div.entry-content``; breadcrumbs, share buttons, author box, tags, a "شاهد أيضاً"
related-posts box and a comment form around it. Template "v2" moves the body into ``div.story-body``
blocks without ``<p>``; "jannah", "portal", "amp" and "divs" are the real-CMS templates of
``cms_templates``. ``/?p=N`` answers 301 to the pretty URL.
"""

from __future__ import annotations

import logging
from typing import ClassVar
from urllib.parse import quote

from ..dates import iso, standard_date
from ..models import ArticleSpec
from .base import (
    Resource,
    SiteRenderer,
    esc,
    image_resource,
    paragraphs_html,
    redirect,
)
from .cms_templates import CMS_TEMPLATES

logger = logging.getLogger(__name__)

SITE_TITLE = "الواحة"
# The theme's requisites, as a WordPress theme has them: a stylesheet importing a web-font stylesheet, a
# background image, responsive and <picture> images, a lazy-loaded image its script swaps in, an icon.
THEME = "/wp-content/themes/wahaa"
BANNER = "/wp-content/uploads/2021/01/banner-300x250"
LAZY_IMAGE = "/wp-content/uploads/2021/01/ad-lazy-300x250.png"
LAZY_SCRIPT = f"{THEME}/js/lazyload.min.js?ver=1.2"
STYLE_CSS = f"""@import url("fonts/amiri.css");
body{{direction:rtl;font-family:Amiri,Tahoma,sans-serif;background:#fff url('{THEME}/img/pattern.png') repeat-x}}
.entry-content p{{line-height:1.8}}
.site-header{{background-image:url(img/header-bg.png)}}""".encode()
FONTS_CSS = b"""@font-face{font-family:Amiri;font-style:normal;font-weight:400;font-display:swap;
src:url(amiri-regular.woff2) format("woff2"),url("amiri-regular.woff") format("woff")}"""
LAZY_JS = b"""document.addEventListener("DOMContentLoaded",function(){
document.querySelectorAll("img.lazyload[data-src]").forEach(function(img){img.src=img.getAttribute("data-src");});});"""
# Not real fonts (the browser discards them and falls back to Tahoma): bytes to archive and replay.
FONT_BYTES = b"wOF2" + bytes(60)
THEME_ROUTES = {
    f"{THEME}/style.css?ver=5.3": Resource(STYLE_CSS, "text/css; charset=utf-8"),
    f"{THEME}/fonts/amiri.css": Resource(FONTS_CSS, "text/css; charset=utf-8"),
    f"{THEME}/fonts/amiri-regular.woff2": Resource(FONT_BYTES, "font/woff2", compressible=False),
    f"{THEME}/fonts/amiri-regular.woff": Resource(b"wOFF" + bytes(60), "font/woff", compressible=False),
    f"{THEME}/img/pattern.png": image_resource(),
    f"{THEME}/img/header-bg.png": image_resource(),
    f"{BANNER}.png": image_resource(),
    f"{BANNER}.webp": image_resource(),
    f"{BANNER}@2x.webp": image_resource(),
    LAZY_IMAGE: image_resource(),
    LAZY_SCRIPT: Resource(LAZY_JS, "application/javascript; charset=utf-8"),
    "/wp-content/uploads/2021/01/cropped-icon-32x32.png": image_resource(),
}


class WahaaSite(SiteRenderer):
    name = "wahaa"
    display_name = SITE_TITLE
    gzip_encoding = True
    article_pattern = r"^/\d{4}/\d{2}/\d{2}/[^/]+/$"
    sitemap_index = "/sitemap_index.xml"
    sitemap_plain = "/post-sitemap.xml"
    sitemap_gz = "/post-sitemap2.xml.gz"
    sitemap_news = "/news-sitemap.xml"
    feed_paths = ("/feed/",)
    disallow = ("/wp-admin/", "/wp-login.php")
    section_slugs: ClassVar[dict[str, str]] = {"libya": "libya", "world": "arab-world"}
    templates = ("v1", "v2", *CMS_TEMPLATES)

    def article_path(self, spec: ArticleSpec) -> str:
        day = spec.published
        return f"/{day.year:04d}/{day.month:02d}/{day.day:02d}/{quote(spec.slug)}/"

    def section_path(self, section: str, page: int) -> str:
        base = f"/category/{self.section_slugs[section]}/"
        return base if page == 1 else f"{base}page/{page}/"

    def image_path(self, spec: ArticleSpec) -> str:
        return f"/wp-content/uploads/{spec.published.year}/{spec.published.month:02d}/{spec.key}.png"

    # ---- skeleton ------------------------------------------------------------------------------
    def head(self, title: str, extra: str = "") -> str:
        return f"""<!DOCTYPE html>
<html lang="ar" dir="rtl">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<link rel="alternate" type="application/rss+xml" title="{SITE_TITLE} &raquo; الخلاصة" href="{self.url("/feed/")}">
<link rel="stylesheet" id="wahaa-style-css" href="/wp-content/themes/wahaa/style.css?ver=5.3" media="all">
<link rel="icon" href="/wp-content/uploads/2021/01/cropped-icon-32x32.png" sizes="32x32">
{extra}
</head>"""

    def masthead(self) -> str:
        ticker = self.linkable()[:3]
        ticker_html = " | ".join(f'<a href="{self.article_path(a)}">{esc(a.title)}</a>' for a in ticker)
        return f"""<body class="rtl home blog">
<a class="skip-link screen-reader-text" href="#content">تخطي إلى المحتوى</a>
<header id="masthead" class="site-header">
<div class="site-branding"><p class="site-title"><a href="/" rel="home">{SITE_TITLE}</a></p>
<p class="site-description">بوابة الأخبار الليبية والعربية</p></div>
<nav id="site-navigation" class="main-navigation"><ul id="primary-menu" class="menu">
<li class="menu-item"><a href="/">الرئيسية</a></li>
<li class="menu-item"><a href="{self.section_path("libya", 1)}">أخبار ليبيا</a></li>
<li class="menu-item"><a href="{self.section_path("world", 1)}">عربي ودولي</a></li>
<li class="menu-item"><a href="/wp-login.php">دخول</a></li>
<li class="menu-item"><a href="javascript:void(0)" class="search-toggle">بحث</a></li>
</ul></nav>
<div class="breaking-news"><span class="breaking-title">عاجل</span> {ticker_html}</div>
</header>
<div id="content" class="site-content">"""

    def sidebar(self) -> str:
        items = "".join(
            f'<li><a href="{self.article_path(a)}">{esc(a.title)}</a></li>' for a in self.linkable()[3:8]
        )
        return f"""<aside id="secondary" class="widget-area">
<section class="widget widget_recent_entries"><h2 class="widget-title">الأكثر قراءة</h2><ul>{items}</ul></section>
<section class="widget"><h2 class="widget-title">تابعونا</h2>
<a href="https://www.facebook.com/example.news">فيسبوك</a> <a href="https://twitter.com/example">تويتر</a></section>
<section class="widget widget_media_image"><picture><source srcset="{BANNER}.webp 1x, {BANNER}@2x.webp 2x" type="image/webp">
<img src="{BANNER}.png" width="300" height="250" alt=""></picture>
<img class="lazyload" src="data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==" data-src="{LAZY_IMAGE}" width="300" height="250" alt=""></section>
</aside>"""

    def footer(self) -> str:
        links = "".join(
            f'<li><a href="{esc(href)}">{esc(text)}</a></li>' for href, text in self.noise_links()
        )
        return f"""</div>
<footer id="colophon" class="site-footer">
<nav class="footer-links"><ul>{links}</ul></nav>
<div class="site-info">جميع الحقوق محفوظة © {SITE_TITLE} 2021 | <a href="/wp-admin/">لوحة التحكم</a></div>
</footer>
<script src="/wp-includes/js/wp-embed.min.js?ver=5.3"></script>
<script src="{LAZY_SCRIPT}"></script>
</body>
</html>"""

    def excerpt(self, spec: ArticleSpec, words: int = 22) -> str:
        return " ".join(spec.paragraphs[0].split()[:words]) + " …"

    # ---- pages ---------------------------------------------------------------------------------
    def render_home(self) -> str:
        posts = []
        for spec in self.linkable()[:10]:
            posts.append(
                f"""<article class="post type-post"><h2 class="entry-title"><a href="{self.article_path(spec)}" rel="bookmark">{esc(spec.title)}</a></h2>
<div class="entry-summary"><p>{esc(self.excerpt(spec))}</p></div>
<a class="more-link" href="{self.article_path(spec)}">اقرأ المزيد</a></article>"""
            )
        first = self.linkable()[0]
        shortlink = (
            f'<p class="shortlink">رابط مختصر: <a href="/?p={first.number}">/?p={first.number}</a></p>'
        )
        return (
            self.head(f"{SITE_TITLE} - بوابة الأخبار الليبية والعربية")
            + self.masthead()
            + '<main id="main" class="site-main"><h1 class="page-title">آخر الأخبار</h1>'
            + "\n".join(posts)
            + shortlink
            + "</main>"
            + self.sidebar()
            + self.footer()
        )

    def render_section(self, section: str, page: int, pages: int, items: list[ArticleSpec]) -> str:
        name = self.section_names[section]
        posts = "\n".join(
            f"""<article class="post"><h2 class="entry-title"><a href="{self.article_path(a)}">{esc(a.title)}</a></h2>
<time datetime="{iso(a.published)}">{standard_date(a.published)}</time><p>{esc(self.excerpt(a))}</p></article>"""
            for a in items
        )
        nav = ['<nav class="navigation pagination"><div class="nav-links">']
        if page > 1:
            nav.append(
                f'<a class="prev page-numbers" href="{self.section_path(section, page - 1)}">الصفحة السابقة</a>'
            )
        for number in range(1, pages + 1):
            if number == page:
                nav.append(f'<span aria-current="page" class="page-numbers current">{number}</span>')
            else:
                nav.append(
                    f'<a class="page-numbers" href="{self.section_path(section, number)}">{number}</a>'
                )
        if page < pages:
            nav.append(
                f'<a class="next page-numbers" href="{self.section_path(section, page + 1)}">الصفحة التالية</a>'
            )
        nav.append("</div></nav>")
        return (
            self.head(f"{name} - الصفحة {page} - {SITE_TITLE}")
            + self.masthead()
            + f'<main id="main" class="site-main"><header class="page-header"><h1 class="page-title">{name}</h1></header>'
            + posts
            + "".join(nav)
            + "</main>"
            + self.sidebar()
            + self.footer()
        )

    def render_article(self, spec: ArticleSpec) -> str:
        if self.template in CMS_TEMPLATES:
            return CMS_TEMPLATES[self.template](self, spec)
        url = self.article_url(spec)
        section_name = self.section_names[spec.section]
        meta = f"""<link rel="canonical" href="{esc(url)}">
<link rel="shortlink" href="{self.url(f"/?p={spec.number}")}">
<meta property="og:locale" content="ar_AR">
<meta property="og:type" content="article">
<meta property="og:title" content="{esc(spec.title)} - {SITE_TITLE}">
<meta property="og:url" content="{esc(url)}">
<meta property="og:site_name" content="{SITE_TITLE}">
<meta property="og:image" content="{self.url(self.image_path(spec))}">
<meta property="article:section" content="{section_name}">
<meta property="article:published_time" content="{iso(spec.published)}">
<meta property="article:modified_time" content="{iso(spec.modified)}">"""
        if spec.author:
            meta += f'\n<meta name="author" content="{esc(spec.author)}">'
        share_q = quote(url, safe="")
        share = f"""<div class="share-buttons">
<a class="share-facebook" href="https://www.facebook.com/sharer.php?u={share_q}">شارك على فيسبوك</a>
<a class="share-twitter" href="https://twitter.com/intent/tweet?url={share_q}">شارك على تويتر</a>
<a class="share-whatsapp" href="https://api.whatsapp.com/send?text={share_q}">واتساب</a>
<a class="share-mail" href="mailto:?subject={quote(spec.title)}&amp;body={share_q}">البريد الإلكتروني</a>
<a class="share-print" href="javascript:window.print()">طباعة</a></div>"""
        byline = (
            f' <span class="byline">بواسطة <span class="author vcard"><a class="url fn n" href="/author/'
            f'{spec.number % 5 + 1}/">{esc(spec.author)}</a></span></span>'
            if spec.author
            else ""
        )
        header = f"""<header class="entry-header"><h1 class="entry-title">{esc(spec.title)}</h1>
<div class="entry-meta"><span class="posted-on"><time class="entry-date published" datetime="{iso(spec.published)}">{standard_date(spec.published)}</time></span>{byline}
<a href="#comments" class="comments-link">لا توجد تعليقات</a></div></header>"""
        image = self.image_path(spec)
        figure = f"""<figure class="wp-caption post-thumbnail"><img src="{image}" srcset="{image}?w=400 400w, {image} 800w" sizes="(max-width: 600px) 400px, 800px" alt="{esc(spec.title)}" width="800" height="450">
<figcaption class="wp-caption-text">صورة أرشيفية - {SITE_TITLE}</figcaption></figure>"""
        if self.template == "v2":
            body = (
                '<div class="story-body" data-layout="v2">'
                + "".join(f'<div class="story-block">{esc(p)}</div>' for p in spec.paragraphs)
                + "</div>"
            )
        else:
            body = f'<div class="entry-content">\n{paragraphs_html(spec.paragraphs)}\n</div>'
        tags = "".join(
            f'<a href="/tag/{quote(t)}/" rel="tag">{esc(t)}</a> '
            for t in (["ليبيا", "طرابلس"] if spec.relevant else ["عربي", "دولي"])
        )
        author_box = (
            f"""<div class="author-box"><h3 class="author-box-title">عن الكاتب</h3>
<div class="author-bio"><strong>{esc(spec.author)}</strong> صحفي ليبي يغطي الشأن السياسي والعسكري منذ عام 2011، عمل مراسلاً لعدد من وسائل الإعلام العربية. <a href="/author/{spec.number % 5 + 1}/">جميع المقالات</a></div></div>"""
            if spec.author
            else ""
        )
        related = "".join(
            f"""<li class="related-item"><a href="{self.article_path(a)}">{esc(a.title)}</a><p>{esc(self.excerpt(a, 14))}</p></li>"""
            for a in self.related(spec)
        )
        comments = """<div id="comments" class="comments-area"><div id="respond" class="comment-respond">
<h3 id="reply-title" class="comment-reply-title">اترك تعليقاً</h3>
<form action="/wp-comments-post.php" method="post" id="commentform" class="comment-form">
<p class="comment-notes">لن يتم نشر عنوان بريدك الإلكتروني. الحقول الإلزامية مشار إليها بـ *</p>
<p class="comment-form-comment"><label for="comment">التعليق</label><textarea id="comment" name="comment"></textarea></p>
<p class="comment-form-author"><label for="author">الاسم *</label><input id="author" name="author" type="text"></p>
<p class="form-submit"><input name="submit" type="submit" id="submit" class="submit" value="إرسال التعليق"></p>
</form></div></div>"""
        breadcrumbs = (
            f'<nav class="breadcrumbs"><a href="/">الرئيسية</a> » <a href="{self.section_path(spec.section, 1)}">'
            f"{section_name}</a> » <span>{esc(spec.title)}</span></nav>"
        )
        if self.template == "v2":
            article = f"""<main class="story-layout">{breadcrumbs}
<section class="story" id="story-{spec.number}">{header.replace("entry-", "story-")}
{figure}{share}{body}<div class="story-tags">{tags}</div></section>{author_box}"""
        else:
            article = f"""<main id="main" class="site-main">{breadcrumbs}
<article id="post-{spec.number}" class="post-{spec.number} post type-post status-publish">{header}
{figure}{share}{body}<footer class="entry-footer"><span class="tags-links">الوسوم: {tags}</span></footer></article>{author_box}"""
        article += f"""<section class="related-posts"><h3 class="related-title">شاهد أيضاً</h3><ul>{related}</ul></section>
<p class="shortlink">الرابط المختصر: <a href="/?p={spec.number}">{self.url(f"/?p={spec.number}")}</a></p>
{comments}</main>"""
        return (
            self.head(f"{spec.title} - {SITE_TITLE}", meta)
            + self.masthead()
            + article
            + self.sidebar()
            + self.footer()
        )

    def feeds(self) -> dict[str, Resource]:
        items = self.sorted_articles("feed")
        descriptions = {a.id: f"<p>{esc(self.excerpt(a, 40))} [&hellip;]</p>" for a in items}
        return {"/feed/": self.rss(items, descriptions, "/feed/")}

    def extra_routes(self) -> dict[str, Resource]:
        routes: dict[str, Resource] = {}
        for spec in self.articles:
            routes[f"/?p={spec.number}"] = redirect(self.article_url(spec))
            routes[self.image_path(spec)] = image_resource()
            routes[self.image_path(spec) + "?w=400"] = image_resource()
        routes.update(THEME_ROUTES)
        routes["/wp-includes/js/wp-embed.min.js?ver=5.3"] = Resource(
            b"/* wp-embed */", "application/javascript"
        )
        return routes
