"""Extraction on the newsroom's real-CMS templates, and the clean-up rules that make it generalise.

The templates (``newsroom/sites/cms_templates.py``): a Jannah/Sahifa-style WordPress theme, an Egyptian
portal (``selectionShareable`` on every paragraph, a video player, ad slots, a mid-article "شاهد أيضا" box,
an embedded tweet, a newsletter prompt), an AMP page, a body of ``<div>`` paragraphs. Every article must
come out word for word, furniture gone, the text after the furniture kept.
"""

from __future__ import annotations

import gzip
import urllib.request

import pytest
from lxml.html import document_fromstring

from extraction import Article, extract
from extraction.cleanup import boilerplate_family, clean_dom, clean_paragraphs, hint_tokens
from newsroom import Newsroom
from newsroom.sites.cms_templates import CMS_TEMPLATES, PLAYER_UI, PLAYER_UI_AR

# What each template prints around the body, to prove the page holds the furniture the test is about.
FURNITURE = {
    "jannah": ("stream-item-in-post", "tie-read-also", "check-also-box", "اقرأ أيضا"),
    "portal": (
        "selectionShareable",
        PLAYER_UI,
        PLAYER_UI_AR,
        "twitter-tweet",
        "شاهد أيضا",
        "النشرة البريدية",
    ),
    "amp": ("<amp-ad", "amp-social-share", "⚡"),
    "divs": ("news-paragraph", "اقرأ أيضا:"),
}


def fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
        return gzip.decompress(body) if response.headers.get("Content-Encoding") == "gzip" else body


@pytest.mark.parametrize("template", sorted(CMS_TEMPLATES))
def test_every_article_comes_out_word_for_word(newsroom: Newsroom, template: str) -> None:
    golds = [a for a in newsroom.articles if a.site == "wahaa"]
    try:
        newsroom.set_template("wahaa", template)
        for gold in golds:
            body = fetch(gold.url)
            page = body.decode("utf-8")
            assert all(marker in page for marker in FURNITURE[template]), gold.id
            result = extract(body, gold.url)
            assert isinstance(result, Article), (gold.id, result)
            assert result.paragraphs == gold.paragraphs, gold.id
            assert result.title == gold.title
            assert result.published == gold.published
            assert result.cleanup == "full"
            for leak in ("إعلان", "Play", "تشغيل", "تغريدة", "النشرة البريدية", "شاهد أيضا", "اقرأ أيضا"):
                assert leak not in result.text, (gold.id, leak)
    finally:
        newsroom.set_template("wahaa", "v1")


def test_hints_match_tokens_not_substrings() -> None:
    assert hint_tokens("selectionShareable post_body-text") == (
        "selection",
        "shareable",
        "post",
        "body",
        "text",
    )
    assert boilerplate_family("selectionShareable") is None
    assert boilerplate_family("shadow header loading") is None  # "ad" inside words
    assert boilerplate_family("post-share top") == "share"
    assert boilerplate_family("adsSlot") == "ads"
    assert boilerplate_family("jp-relatedposts") == "related"
    assert boilerplate_family("about-author") == "author-box"
    assert boilerplate_family("a2a_kit") == "share"


P = [
    "قال المتحدث باسم المجلس الرئاسي إن الاجتماع ناقش ترتيبات المرحلة المقبلة وتوحيد المؤسسات السيادية في البلاد.",
    "وأضاف أن الأطراف اتفقت على مواصلة الحوار في جولة جديدة تعقد الشهر المقبل برعاية البعثة الأممية في جنيف.",
    "وأشار إلى أن ملف توحيد المصرف المركزي سيكون على رأس جدول الأعمال إلى جانب ملف الانتخابات والميزانية.",
    "ودعت البعثة جميع الأطراف إلى الامتناع عن أي خطوات أحادية قد تقوض التقدم المحرز في المسار السياسي.",
]


def page(body: str) -> bytes:
    return (
        "<html lang='ar'><head><title>عنوان الخبر</title></head><body><header><a href='/'>الرئيسية</a></header>"
        f"<div class='main'><h1>عنوان الخبر</h1>{body}</div><footer>جميع الحقوق محفوظة</footer></body></html>"
    ).encode()


def test_paragraphs_inside_the_article_survive_a_share_class() -> None:
    # Each paragraph is too short to be protected by size; the class alone must not remove it.
    body = "".join(f"<p class='post-share-text'>{p}</p>" for p in P)
    result = extract(page(body), "https://portal.test/a")
    assert isinstance(result, Article)
    assert result.paragraphs == P


def test_inline_furniture_does_not_cut_the_article() -> None:
    furniture = (
        "<div class='video-js'><span>Play</span> <span>Mute</span> <span>Settings</span> <span>0:00</span></div>"
        "<p>شاهد أيضا</p><ul><li><a href='/x'>عنوان خبر آخر عن طرابلس والمنطقة الغربية</a></li></ul>"
        "<p>إعلان</p><p>اشترك في النشرة البريدية لتصلك أهم الأخبار</p>"
    )
    result = extract(
        page(f"<p>{P[0]}</p><p>{P[1]}</p>{furniture}<p>{P[2]}</p><p>{P[3]}</p>"), "https://p.test/a"
    )
    assert isinstance(result, Article)
    assert result.paragraphs == P


def test_safety_net_keeps_trafilatura_text_and_says_why() -> None:
    # A body whose wrapper is named like a widget and whose text is link-heavy: the DOM stage would take it.
    links = "".join(f"<a href='/t/{i}'>وسم رقم {i}</a> " for i in range(30))
    body = "<div class='main'>" + "".join(f"<div class='widget-text'>{p} {links}</div>" for p in P) + "</div>"
    root = document_fromstring(page(body))
    result = clean_dom(root)
    assert result.removals == []
    assert result.fallback_reason and "main block" in result.fallback_reason
    article = extract(page(body), "https://p.test/a")
    assert isinstance(article, Article)
    assert article.cleanup == "fallback"
    assert article.cleanup_note and article.cleanup_note.startswith("DOM clean-up would remove")
    assert article.to_record()["cleanup"] == "fallback"
    assert all(p in article.text for p in P)


def test_comment_policy_family_without_one_site_sentence() -> None:
    notes = [
        "يرجى مراجعة سياسة التعليقات قبل المشاركة.",
        "التعليقات المنشورة لا تعبر بالضرورة عن رأي الموقع.",
        "Comments are moderated and may take a while to appear.",
    ]
    assert clean_paragraphs([P[0], *notes, P[1]]) == [P[0], P[1]]
