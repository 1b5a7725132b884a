"""Four article templates modelled on real Arabic CMS families, for ``wahaa``'s ``set_template``.

Written here from the families' public markup conventions, not copied from any page:

- ``jannah``: a Jannah/Sahifa-style WordPress news theme: ``div.entry-content.entry``, a "اقرأ أيضا" box and
  an in-post ad slot (``stream-item``) between paragraphs, ``#check-also-box`` ("شاهد أيضا") after the post,
  share bars top and bottom, a post-components block with the author box and comments.
- ``portal``: a big Egyptian news portal: every body paragraph ``<p class="selectionShareable">``, a video
  player with its UI strings (Play, Mute, Settings, "تشغيل" ...) and ad slots between paragraphs, a
  mid-article "شاهد أيضا" box, a newsletter prompt and an embedded tweet inside the body.
- ``amp``: the AMP page of an article (``<html ⚡>``, ``amp-img``, ``amp-ad``, ``amp-social-share``).
- ``divs``: a body whose paragraphs are ``<div>``s (no ``<p>``), with a "اقرأ أيضا" line between them.

The gold text is the article's paragraphs, as on every other template: none of the furniture belongs to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..dates import iso, standard_date
from ..models import ArticleSpec
from .base import esc

if TYPE_CHECKING:
    from .wahaa import WahaaSite

logger = logging.getLogger(__name__)

# Video players' controls as their skins print them (JW Player / Video.js style), English and Arabic.
PLAYER_UI = "Play Mute Settings Fullscreen 00:00 / 02:41"
PLAYER_UI_AR = "تشغيل كتم الصوت الإعدادات ملء الشاشة"


def _meta(site: WahaaSite, spec: ArticleSpec) -> str:
    url = site.article_url(spec)
    author = f'<meta name="author" content="{esc(spec.author)}">' if spec.author else ""
    return f"""<link rel="canonical" href="{esc(url)}">
<meta property="og:type" content="article">
<meta property="og:title" content="{esc(spec.title)}">
<meta property="og:site_name" content="{esc(site.display_name)}">
<meta property="article:published_time" content="{iso(spec.published)}">{author}"""


def _related_links(site: WahaaSite, spec: ArticleSpec, count: int = 2) -> str:
    return "".join(
        f'<li><a href="{site.article_path(a)}">{esc(a.title)}</a></li>' for a in site.related(spec, count)
    )


def _middle(paragraphs: list[str]) -> int:
    return max(1, len(paragraphs) // 2)


def jannah(site: WahaaSite, spec: ArticleSpec) -> str:
    paras = [f"<p>{esc(p)}</p>" for p in spec.paragraphs]
    mid = _middle(spec.paragraphs)
    read_also = (
        '<div class="tie-read-also"><span class="read-also-title">اقرأ أيضا</span><ul>'
        + _related_links(site, spec, 1)
        + "</ul></div>"
    )
    ad = '<div class="stream-item stream-item-in-post stream-item-inline-post"><span class="stream-title">إعلان</span><div class="ad-slot"></div></div>'
    body = "".join(paras[:mid]) + read_also + ad + "".join(paras[mid:])
    share_q = quote(site.article_url(spec), safe="")
    share = (
        '<div class="share-buttons share-buttons-top"><div class="share-links">'
        f'<a href="https://www.facebook.com/sharer.php?u={share_q}" class="facebook-share-btn"><span class="share-btn-icon"></span> <span class="social-text">فيسبوك</span></a>'
        f'<a href="https://twitter.com/intent/tweet?url={share_q}" class="twitter-share-btn"><span class="social-text">تويتر</span></a>'
        '<a href="#" class="whatsapp-share-btn"><span class="social-text">واتساب</span></a></div></div>'
    )
    author = (
        f'<span class="meta-author"><a href="/author/{spec.number % 5 + 1}/" class="author-name tie-icon">{esc(spec.author)}</a></span>'
        if spec.author
        else ""
    )
    return f"""<!DOCTYPE html><html dir="rtl" lang="ar"><head><meta charset="UTF-8">
<title>{esc(spec.title)} - {esc(site.display_name)}</title>{_meta(site, spec)}</head>
<body id="tie-body" class="rtl post-template-default single single-post">
<div class="background-overlay"><div id="tie-container" class="site tie-container"><div id="tie-wrapper">
<header id="theme-header" class="theme-header header-layout-3"><nav id="main-nav" class="main-nav header-nav">
<ul class="menu"><li><a href="/">الرئيسية</a></li><li><a href="{site.section_path("libya", 1)}">أخبار ليبيا</a></li></ul></nav>
<div class="breaking"><span class="breaking-title">عاجل</span><ul id="breaking-news-in-header" class="breaking-news">{_related_links(site, spec, 2)}</ul></div></header>
<div id="content" class="site-content container"><div class="tie-row main-content-row">
<div class="main-content tie-col-md-8 tie-col-xs-12" role="main">
<article id="the-post" class="container-wrapper post-content tie-standard">
<header class="entry-header-outer"><nav id="breadcrumb"><a href="/">الرئيسية</a><em class="delimiter">/</em><a href="{site.section_path(spec.section, 1)}">{site.section_names[spec.section]}</a></nav>
<div class="entry-header"><h1 class="post-title entry-title">{esc(spec.title)}</h1>
<div id="single-post-meta" class="post-meta clearfix">{author}<span class="date meta-item tie-icon">{standard_date(spec.published)}</span></div></div></header>
{share}
<div class="entry-content entry clearfix">{body}</div>
<div id="post-extra-info"><div class="theiaStickySidebar"></div></div>
<div class="post-bottom-meta post-bottom-tags"><span class="tagcloud"><a href="/tag/libya/" rel="tag">ليبيا</a></span></div>
<div class="share-buttons share-buttons-bottom"><div class="share-links"><a href="#" class="facebook-share-btn"><span class="social-text">فيسبوك</span></a></div></div>
</article>
<div class="post-components"><div class="about-author container-wrapper about-author-1"><div class="author-info"><h3 class="author-name">{esc(spec.author or "")}</h3><div class="author-bio">صحفي يغطي الشأن الليبي.</div></div></div>
<div id="comments" class="comments-area"><div id="respond" class="comment-respond"><h3 id="reply-title" class="comment-reply-title the-global-title">اترك تعليقاً</h3>
<form id="commentform" class="comment-form"><p class="comment-notes">لن يتم نشر عنوان بريدك الإلكتروني.</p><textarea name="comment"></textarea></form></div></div></div>
</div>
<aside class="sidebar tie-col-md-4 tie-col-xs-12 normal-side"><div id="posts-list-widget-2" class="container-wrapper widget posts-list"><div class="widget-title the-global-title"><div class="the-subtitle">الأكثر قراءة</div></div><ul>{_related_links(site, spec, 3)}</ul></div></aside>
</div></div>
<div id="check-also-box" class="container-wrapper check-also-right"><div class="widget-title the-global-title"><div class="the-subtitle">شاهد أيضا</div></div><ul>{_related_links(site, spec, 1)}</ul></div>
<footer id="footer" class="site-footer dark-skin"><div id="site-info"><div class="copyright-text">جميع الحقوق محفوظة © {esc(site.display_name)}</div></div></footer>
</div></div></div></body></html>"""


def portal(site: WahaaSite, spec: ArticleSpec) -> str:
    paras = [f'<p class="selectionShareable">{esc(p)}</p>' for p in spec.paragraphs]
    mid = _middle(spec.paragraphs)
    player = f"""<div class="videoPlayer jwplayer" id="player-{spec.number}" aria-label="Video Player">
<div class="jw-controlbar"><span class="jw-text">{PLAYER_UI}</span></div>
<div class="jw-controls-ar"><span>{PLAYER_UI_AR}</span></div></div>"""
    ad = '<div class="adsSlot adSlot-inread" id="div-gpt-ad-inread"><span>إعلان</span></div>'
    see_also = '<div class="seeAlso"><h4>شاهد أيضا</h4><ul>' + _related_links(site, spec, 2) + "</ul></div>"
    tweet = (
        '<blockquote class="twitter-tweet" data-lang="ar"><p lang="ar" dir="rtl">تغريدة مضمنة من حساب رسمي</p>'
        '&mdash; حساب رسمي (@example) <a href="https://twitter.com/example/status/1">1 يناير 2020</a></blockquote>'
    )
    newsletter = '<div class="newsletterBox"><p>اشترك في النشرة البريدية لتصلك أهم الأخبار</p><form><input type="email"></form></div>'
    body = [*paras[:1], player, ad, *paras[1:mid], see_also, tweet, *paras[mid:], newsletter]
    author = f'<span class="writeBy">كتب {esc(spec.author)}</span>' if spec.author else ""
    return f"""<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">
<title>{esc(spec.title)} - {esc(site.display_name)}</title>{_meta(site, spec)}</head>
<body><div class="container"><header class="mainHeader"><ul class="mainMenu"><li><a href="/">الرئيسية</a></li>
<li><a href="{site.section_path("libya", 1)}">أخبار ليبيا</a></li></ul></header>
<div class="breadcrumbs"><a href="/">الرئيسية</a> &gt; <a href="{site.section_path(spec.section, 1)}">{site.section_names[spec.section]}</a></div>
<div class="row"><div class="col-md-8"><div class="articleHeader"><h1>{esc(spec.title)}</h1>
<div class="articleInfo">{author}<span class="newsDate">{standard_date(spec.published)}</span></div></div>
<div class="adsSlot adSlot-top"><span>إعلان</span></div>
<div id="articleBody" class="articleCont">{"".join(body)}</div>
<div class="shareArticle"><a href="#">فيسبوك</a> <a href="#">تويتر</a> <a href="#">واتساب</a></div>
<div class="relatedNews"><h3>أخبار متعلقة</h3><ul>{_related_links(site, spec, 3)}</ul></div></div>
<div class="col-md-4"><div class="mostRead"><h3>الأكثر قراءة</h3><ul>{_related_links(site, spec, 3)}</ul></div></div></div>
<footer class="mainFooter"><p>جميع الحقوق محفوظة © {esc(site.display_name)}</p></footer></div></body></html>"""


def amp(site: WahaaSite, spec: ArticleSpec) -> str:
    paras = [f"<p>{esc(p)}</p>" for p in spec.paragraphs]
    mid = _middle(spec.paragraphs)
    ad = '<amp-ad width="300" height="250" type="doubleclick" data-slot="/1/inarticle"><div placeholder>إعلان</div></amp-ad>'
    body = "".join(paras[:mid]) + ad + "".join(paras[mid:])
    author = f'<span class="amp-author">{esc(spec.author)}</span>' if spec.author else ""
    return f"""<!doctype html><html ⚡ lang="ar" dir="rtl"><head><meta charset="utf-8">
<script async src="https://cdn.ampproject.org/v0.js"></script>
<title>{esc(spec.title)} - {esc(site.display_name)}</title>{_meta(site, spec)}
<meta name="viewport" content="width=device-width">
<style amp-boilerplate>body{{-webkit-animation:-amp-start 8s steps(1,end) 0s 1 normal both}}</style>
<noscript><style amp-boilerplate>body{{-webkit-animation:none}}</style></noscript>
<style amp-custom>.amp-body p{{line-height:1.8}}</style></head>
<body><header class="amp-header"><a href="/">{esc(site.display_name)}</a>
<amp-sidebar id="sidebar" layout="nodisplay" side="right"><ul><li><a href="/">الرئيسية</a></li><li><a href="{site.section_path("libya", 1)}">أخبار ليبيا</a></li></ul></amp-sidebar></header>
<article class="amp-article"><h1 class="amp-title">{esc(spec.title)}</h1>
<div class="amp-meta">{author}<time datetime="{iso(spec.published)}">{standard_date(spec.published)}</time></div>
<amp-img src="{site.image_path(spec)}" width="800" height="450" layout="responsive" alt="{esc(spec.title)}"></amp-img>
<div class="amp-body">{body}</div>
<div class="amp-share"><amp-social-share type="facebook"></amp-social-share><amp-social-share type="twitter"></amp-social-share><amp-social-share type="whatsapp"></amp-social-share></div>
</article>
<div class="amp-related"><h3>مواضيع ذات صلة</h3><ul>{_related_links(site, spec, 2)}</ul></div>
<footer class="amp-footer">جميع الحقوق محفوظة © {esc(site.display_name)}</footer></body></html>"""


def divs(site: WahaaSite, spec: ArticleSpec) -> str:
    blocks = [f'<div class="news-paragraph">{esc(p)}</div>' for p in spec.paragraphs]
    mid = _middle(spec.paragraphs)
    read_also = "".join(
        f'<div class="read-also-line">اقرأ أيضا: <a href="{site.article_path(a)}">{esc(a.title)}</a></div>'
        for a in site.related(spec, 1)
    )
    body = "".join(blocks[:mid]) + read_also + "".join(blocks[mid:])
    author = f'<div class="news-author">بقلم: {esc(spec.author)}</div>' if spec.author else ""
    return f"""<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">
<title>{esc(spec.title)} | {esc(site.display_name)}</title>{_meta(site, spec)}</head>
<body><div id="page"><div id="top-menu"><a href="/">الرئيسية</a> | <a href="{site.section_path("libya", 1)}">أخبار ليبيا</a></div>
<div id="news-details"><div class="news-title"><h1>{esc(spec.title)}</h1></div>{author}
<div class="news-date">{standard_date(spec.published)}</div>
<div class="news-body">{body}</div>
<div class="news-tools"><a href="#">طباعة</a> | <a href="#">أرسل لصديق</a></div></div>
<div id="more-news"><div class="box-title">أخبار ذات صلة</div>{"".join(f'<div><a href="{site.article_path(a)}">{esc(a.title)}</a></div>' for a in site.related(spec, 3))}</div>
<div id="footer">جميع الحقوق محفوظة © {esc(site.display_name)}</div></div></body></html>"""


CMS_TEMPLATES: dict[str, Callable[[WahaaSite, ArticleSpec], str]] = {
    "jannah": jannah,
    "portal": portal,
    "amp": amp,
    "divs": divs,
}
