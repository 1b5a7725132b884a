"""``legacy``: an old table-layout PHP site served as windows-1256 (charset in the HTTP header only).

Nested tables, ``<font>`` tags, a marquee ticker, the date in Arabic words with Eastern Arabic digits and
Levantine month names. ``/news.php?id=N`` articles, ``/section.php?cat=1&page=2`` sections and a
``/print.php?id=N`` print view that robots.txt disallows but every article links. Template "v2" puts
the body in ``div#nbody`` as ``<br><br>``-separated text.
"""

from __future__ import annotations

import logging
from typing import ClassVar
from urllib.parse import quote

from ..dates import levantine_date
from ..models import ArticleSpec
from .base import Resource, SiteRenderer, esc, html_resource, image_resource

logger = logging.getLogger(__name__)

SITE_TITLE = "شبكة المنارة الإخبارية"
CHARSET = "windows-1256"
CATS = {"libya": 1, "world": 2}


class LegacySite(SiteRenderer):
    name = "legacy"
    display_name = SITE_TITLE
    charset = CHARSET
    article_pattern = r"^/news\.php\?id=\d+$"
    sitemap_index = "/sitemap.xml"
    sitemap_plain = "/sitemap-news-1.xml"
    sitemap_gz = "/sitemap-news-2.xml.gz"
    sitemap_news = "/googlenews.xml"
    feed_paths = ("/rss.php",)
    disallow = ("/print.php",)
    section_names: ClassVar[dict[str, str]] = {"libya": "الشأن الليبي", "world": "عربي ودولي"}

    def article_path(self, spec: ArticleSpec) -> str:
        return f"/news.php?id={1000 + spec.number}"

    def section_path(self, section: str, page: int) -> str:
        base = f"/section.php?cat={CATS[section]}"
        return base if page == 1 else f"{base}&page={page}"

    def disallow_links(self) -> list[str]:
        linkable = self.linkable()
        return [f"/print.php?id={1000 + linkable[0].number}"] if linkable else []

    def page(self, title: str, main: str, extra: str = "") -> str:
        ticker = " &nbsp;&nbsp;*&nbsp;&nbsp; ".join(esc(a.title) for a in self.linkable()[:4])
        menu = "".join(
            f'<tr><td bgcolor="#E8E8E8"><a href="{self.section_path(s, 1)}"><font face="Tahoma" size="2">'
            f"{self.section_names[s]}</font></a></td></tr>"
            for s in self.sections
        )
        links = "".join(
            f'<a href="{esc(h)}"><font size="1">{esc(t)}</font></a> | ' for h, t in self.noise_links()
        )
        return f"""<html dir="rtl">
<head>
<title>{esc(title)}</title>
<link rel="alternate" type="application/rss+xml" title="RSS" href="/rss.php">
{extra}
</head>
<body bgcolor="#FFFFFF" topmargin="0" leftmargin="0">
<table width="780" border="0" cellpadding="0" cellspacing="0" align="center">
<tr><td colspan="2" bgcolor="#003366" height="70"><a href="/"><img src="/images/logo.gif" border="0" alt=""></a>
<font face="Tahoma" size="5" color="#FFFFFF"><b>{SITE_TITLE}</b></font></td></tr>
<tr><td colspan="2" bgcolor="#FFFFCC"><marquee direction="right" scrollamount="3" onmouseover="this.stop()" onmouseout="this.start()">
<font face="Tahoma" size="2" color="#CC0000"><b>عاجل:</b></font> <font face="Tahoma" size="2">{ticker}</font></marquee></td></tr>
<tr>
<td width="160" valign="top" bgcolor="#F4F4F4">
<table width="100%" border="0" cellspacing="1" cellpadding="4">
<tr><td bgcolor="#003366"><font face="Tahoma" size="2" color="#FFFFFF"><b>الأقسام</b></font></td></tr>
<tr><td bgcolor="#E8E8E8"><a href="/"><font face="Tahoma" size="2">الصفحة الرئيسية</font></a></td></tr>
{menu}
<tr><td bgcolor="#E8E8E8"><a href="javascript:window.external.AddFavorite(location.href,document.title)"><font size="2">أضف للمفضلة</font></a></td></tr>
</table></td>
<td valign="top">{main}</td>
</tr>
<tr><td colspan="2" bgcolor="#EEEEEE" align="center"><font size="1">{links}</font><br>
<font face="Tahoma" size="1" color="#666666">جميع الحقوق محفوظة © 2003-2021 {SITE_TITLE}</font></td></tr>
</table>
</body>
</html>"""

    def render_home(self) -> str:
        rows = "".join(
            f'<tr><td><img src="/images/arrow.gif" alt=""> <a href="{self.article_path(a)}"><font face="Tahoma" size="3"><b>'
            f'{esc(a.title)}</b></font></a><br><font size="1" color="#999999">{levantine_date(a.published)}</font></td></tr>'
            for a in self.linkable()[:10]
        )
        return self.page(SITE_TITLE, f'<table width="100%" border="0" cellpadding="6">{rows}</table>')

    def render_section(self, section: str, page: int, pages: int, items: list[ArticleSpec]) -> str:
        rows = "".join(
            f'<tr><td><a href="{self.article_path(a)}"><font face="Tahoma" size="3">{esc(a.title)}</font></a>'
            f'<br><font size="1" color="#999999">{levantine_date(a.published)}</font></td></tr>'
            for a in items
        )
        nav = f'<font size="2">الصفحة {page} من {pages}</font> '
        if page > 1:
            nav += f'<a href="{self.section_path(section, page - 1)}">« الصفحة السابقة</a> '
        if page < pages:
            nav += f'<a href="{self.section_path(section, page + 1)}">الصفحة التالية »</a>'
        title = self.section_names[section]
        main = f"""<table width="100%" border="0" cellpadding="6"><tr><td bgcolor="#003366"><font color="#FFFFFF" size="3"><b>{title}</b></font></td></tr>
{rows}<tr><td align="center">{nav}</td></tr></table>"""
        return self.page(f"{title} - {SITE_TITLE}", main)

    def render_article(self, spec: ArticleSpec) -> str:
        if self.template == "v2":
            body = (
                '<div id="nbody" class="ntext">'
                + "<br><br>\n".join(esc(p) for p in spec.paragraphs)
                + "</div>"
            )
        else:
            body = (
                '<font face="Tahoma" size="3">'
                + "".join(f'<p align="justify">{esc(p)}</p>' for p in spec.paragraphs)
                + "</font>"
            )
        byline = f' | <font color="#003366">{esc(spec.author)}</font>' if spec.author else ""
        related = "".join(
            f'<tr><td><img src="/images/arrow.gif" alt=""> <a href="{self.article_path(a)}"><font size="2">{esc(a.title)}</font></a></td></tr>'
            for a in self.related(spec)
        )
        url = self.article_url(spec)
        main = f"""<table width="100%" border="0" cellpadding="6" cellspacing="0">
<tr><td><font face="Tahoma" size="2"><a href="/">الرئيسية</a> » <a href="{self.section_path(spec.section, 1)}">{self.section_names[spec.section]}</a></font></td></tr>
<tr><td><font face="Tahoma" size="5" color="#990000"><b>{esc(spec.title)}</b></font></td></tr>
<tr><td><font face="Tahoma" size="2" color="#666666">{levantine_date(spec.published)}{byline}</font></td></tr>
<tr><td><table width="100%" border="0"><tr><td class="text">{body}</td></tr></table></td></tr>
<tr><td bgcolor="#F0F0F0"><a href="/print.php?id={1000 + spec.number}"><img src="/images/print.gif" border="0" alt=""> نسخة للطباعة</a> |
<a href="mailto:?subject={quote(spec.title)}&amp;body={quote(url)}">أرسل الخبر لصديق</a> | عدد القراءات: {spec.number * 137 % 5000}</td></tr>
<tr><td><table width="100%" border="0" cellpadding="3"><tr><td bgcolor="#003366"><font color="#FFFFFF" size="2"><b>أخبار ذات صلة</b></font></td></tr>{related}</table></td></tr>
</table>"""
        return self.page(f"{SITE_TITLE} - {spec.title}", main, f'<link rel="canonical" href="{esc(url)}">')

    def print_view(self, spec: ArticleSpec) -> str:
        paras = "".join(f"<p>{esc(p)}</p>" for p in spec.paragraphs)
        return f"""<html dir="rtl"><head><title>{esc(spec.title)}</title><meta name="robots" content="noindex"></head>
<body onload="window.print()"><h2>{esc(spec.title)}</h2><p>{levantine_date(spec.published)}</p>{paras}</body></html>"""

    def feeds(self) -> dict[str, Resource]:
        items = self.sorted_articles("feed")
        descriptions = {a.id: a.paragraphs[0] for a in items}
        return {"/rss.php": self.rss(items, descriptions, "/rss.php", encoding=CHARSET)}

    def extra_routes(self) -> dict[str, Resource]:
        routes: dict[str, Resource] = {
            "/images/logo.gif": image_resource(),
            "/images/arrow.gif": image_resource(),
            "/images/print.gif": image_resource(),
        }
        for spec in self.articles:
            routes[f"/print.php?id={1000 + spec.number}"] = html_resource(
                self.print_view(spec), spec.modified, charset=CHARSET
            )
        return routes
