"""extract() and extract_feed_entry(): Article vs NoArticle, metadata, title suffixes, encodings."""

from __future__ import annotations

import html

import pytest

from extraction import Article, NoArticle, extract, extract_feed_entry
from extraction.titles import page_site_names, strip_site_suffix

PARAGRAPHS = [
    "أعلنت حكومة الوفاق الوطني الليبية، اليوم الأحد، أن قواتها استعادت السيطرة على منطقة أبو قرين جنوب شرق مدينة مصراتة بعد معارك عنيفة.",
    "وقال المتحدث باسم قوات الحكومة إن القوات دمرت عدداً من الآليات المسلحة وسيطرت على ذخائر ومعدات عسكرية خلال الهجوم المضاد.",
    "ودعت بعثة الأمم المتحدة للدعم في ليبيا جميع الأطراف إلى احترام وقف إطلاق النار الساري منذ الثاني عشر من يناير الماضي.",
    "وأشارت البعثة إلى أن استهداف مطار معيتيقة في طرابلس حرم نحو مليونين من سكان العاصمة من منفذهم الجوي الوحيد.",
]
TITLE = "الوفاق تستعيد أبو قرين جنوب مصراتة"


def article_page(
    title_tag: str = f"{TITLE} - الواحة",
    head_extra: str = '<meta property="article:published_time" content="2020-01-26T10:30:00+02:00">',
    byline: str = '<span class="author">بقلم: سالم الورفلي</span>',
    paragraphs: list[str] = PARAGRAPHS,
    charset: str = "utf-8",
) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="{charset}">
<title>{title_tag}</title><meta property="og:site_name" content="الواحة"><meta property="og:type" content="article">
<link rel="canonical" href="/news/2020/01/26/abu-qurain">{head_extra}</head><body>
<header><nav><a href="/">الرئيسية</a><a href="/libya">ليبيا</a><a href="/world">العالم</a></nav></header>
<div class="breadcrumb">الرئيسية » ليبيا » {TITLE}</div>
<main><article><h1>{TITLE}</h1>{byline}{body}
<div class="share">شارك على فيسبوك تويتر واتساب</div>
<div class="related"><h3>شاهد أيضاً</h3><ul>
<li><a href="/n/1">حفتر يعلن النفير العام في بنغازي ويهدد طرابلس</a></li>
<li><a href="/n/2">البرلمان الليبي يعقد جلسة طارئة في طبرق اليوم</a></li></ul></div>
<div id="respond"><h3>اترك تعليقاً</h3><p>لن يتم نشر عنوان بريدك الإلكتروني. الحقول الإلزامية مشار إليها بـ *</p>
<form><textarea></textarea></form></div></article></main>
<footer><p>جميع الحقوق محفوظة © الواحة 2020</p></footer></body></html>"""


def section_page() -> str:
    items = "".join(
        f'<article class="teaser"><h2><a href="/news/{i}">عنوان الخبر رقم {i} عن الأوضاع في ليبيا وطرابلس</a></h2>'
        f"<p>مقتطف قصير من الخبر رقم {i}.</p></article>"
        for i in range(12)
    )
    return f"""<html lang="ar"><head><title>أخبار ليبيا - الواحة</title></head><body>
<nav><a href="/">الرئيسية</a></nav><h1>أخبار ليبيا</h1><main>{items}</main></body></html>"""


def test_article_page_gives_clean_article() -> None:
    result = extract(article_page().encode("utf-8"), "https://alwaha.test/news/2020/01/26/abu-qurain?utm=x")
    assert isinstance(result, Article)
    assert result.paragraphs == PARAGRAPHS
    assert result.text == "\n\n".join(PARAGRAPHS)
    assert result.title == TITLE
    assert result.author == "سالم الورفلي"
    assert result.published == "2020-01-26T10:30:00+02:00"
    assert result.language == "ar"
    assert result.encoding == "utf-8"
    assert result.canonical_url == "https://alwaha.test/news/2020/01/26/abu-qurain"
    for leak in ("الرئيسية", "شارك على", "شاهد أيضاً", "حفتر يعلن", "اترك تعليقاً", "بريدك", "محفوظة"):
        assert leak not in result.text


def test_record_has_the_documented_keys() -> None:
    result = extract(article_page().encode("utf-8"), "https://alwaha.test/a")
    assert isinstance(result, Article)
    record = result.to_record()
    assert set(record) == {
        "url",
        "canonical_url",
        "title",
        "author",
        "published",
        "language",
        "text",
        "paragraphs",
        "encoding",
        "cleanup",
        "cleanup_note",
    }
    assert record["cleanup"] == "full" and record["cleanup_note"] is None
    assert record["paragraphs"] == PARAGRAPHS


def test_section_page_is_no_article() -> None:
    result = extract(section_page().encode("utf-8"), "https://alwaha.test/libya/")
    assert result == NoArticle("https://alwaha.test/libya/", "section-page")
    assert result.to_record() == {
        "url": "https://alwaha.test/libya/",
        "status": "no_article",
        "reason": "section-page",
    }


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (b"", None, "empty-body"),
        (b"  \n\t ", None, "empty-body"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, "binary-content"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", None, "binary-content"),
        (b"\x00\x01\x02\x03<html>", None, "binary-content"),
        (b'{"title": "\xd8\xae\xd8\xa8\xd8\xb1"}', {"Content-Type": "application/json"}, "not-html"),
        ("مجرد نص بلا وسوم".encode(), None, "not-html"),
    ],
)
def test_no_article_reasons(body: bytes, headers: dict[str, str] | None, reason: str) -> None:
    assert extract(body, "https://alwaha.test/x", headers) == NoArticle("https://alwaha.test/x", reason)


def test_page_without_enough_text_is_too_short_or_no_text() -> None:
    page = article_page(paragraphs=["خبر عاجل."], byline="")
    result = extract(page.encode("utf-8"), "https://alwaha.test/short")
    assert isinstance(result, NoArticle)
    assert result.reason in ("too-short", "no-main-text")


DIALOGUE = [
    "„Ich weiß, ich bin müde und sollte das vielleicht nicht sagen …“",
    "– „Dann sag es nicht.“",
    "– „Ok.“",
]


@pytest.mark.parametrize(("og_type", "is_article"), [("article", True), ("website", False)])
def test_a_short_post_is_an_article_when_the_page_declares_one(og_type: str, is_article: bool) -> None:
    # A blog's short dialogue post: under 120 characters, but the page says it is an article.
    page = article_page(paragraphs=DIALOGUE, byline="").replace(
        '<meta property="og:type" content="article">', f'<meta property="og:type" content="{og_type}">'
    )
    result = extract(page.encode("utf-8"), "https://alwaha.test/post")
    if is_article:
        assert isinstance(result, Article), result
        assert result.paragraphs == DIALOGUE
    else:
        assert result == NoArticle("https://alwaha.test/post", "too-short")


def test_undeclared_windows_1256_page() -> None:
    page = article_page().replace('<meta charset="utf-8">', "")
    result = extract(page.encode("cp1256"), "https://alwaha.test/a")
    assert isinstance(result, Article)
    assert result.encoding == "windows-1256"
    assert result.paragraphs == PARAGRAPHS


def test_header_charset_is_used() -> None:
    # ISO-8859-6 has no «»©: the page is written without them.
    page = article_page().replace('<meta charset="utf-8">', "").replace("»", "/").replace("©", "")
    result = extract(
        page.encode("iso8859-6"), "https://alwaha.test/a", {"Content-Type": "text/html; charset=ISO-8859-6"}
    )
    assert isinstance(result, Article)
    assert result.encoding == "iso-8859-6"
    assert result.title == TITLE


def test_visible_arabic_date_when_no_metadata() -> None:
    page = article_page(head_extra="", byline='<div class="post-date">الأحد ٢٦ جانفي ٢٠٢٠</div>')
    result = extract(page.encode("utf-8"), "https://alwaha.test/a")
    assert isinstance(result, Article)
    assert result.published == "2020-01-26"


def test_json_ld_metadata() -> None:
    ld = (
        '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
        f'"headline": "{TITLE}", "datePublished": "2020-01-26", "author": {{"@type": "Person", "name": "ليلى بن علي"}}}}'
        "</script>"
    )
    result = extract(article_page(head_extra=ld, byline="").encode("utf-8"), "https://alwaha.test/a")
    assert isinstance(result, Article)
    assert (result.published, result.author) == ("2020-01-26", "ليلى بن علي")


@pytest.mark.parametrize(
    "raw",
    [f"{TITLE} - الواحة", f"{TITLE} | الواحة", f"الواحة | {TITLE}", f"{TITLE} – موقع الواحة الإخباري", TITLE],
)
def test_title_suffix_removed(raw: str) -> None:
    assert strip_site_suffix(raw, {"الواحة", "alwaha"}) == TITLE


def test_title_with_inner_dash_is_kept() -> None:
    title = "لواء الإسلام - جبهة النصرة تسيطر على مخازن للصواريخ بريف دمشق"
    assert strip_site_suffix(title, {"cnn"}) == title


def test_title_from_page_strips_unknown_site_name_via_h1() -> None:
    page = article_page(title_tag=f"{TITLE} :: بوابة الوسط الإخبارية")
    result = extract(page.encode("utf-8"), "https://alwasat.test/a")
    assert isinstance(result, Article)
    assert result.title == TITLE


def test_feed_entry_with_escaped_body() -> None:
    escaped = html.escape("".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "<p>شاهد أيضاً</p><p>عنوان آخر</p>")
    result = extract_feed_entry(escaped, "https://alwaha.test/a", TITLE, "Sun, 26 Jan 2020 10:30:00 +0200")
    assert isinstance(result, Article)
    assert result.paragraphs == PARAGRAPHS
    assert result.published == "2020-01-26T10:30:00+02:00"
    assert result.title == TITLE
    assert "<p>" not in result.text


def test_feed_entry_with_br_body_and_arabic_date() -> None:
    body = "<br>".join(PARAGRAPHS)
    result = extract_feed_entry(body, "https://alwaha.test/a", None, "26 يناير 2020")
    assert isinstance(result, Article)
    assert result.paragraphs == PARAGRAPHS
    assert result.published == "2020-01-26"


def test_empty_feed_entry() -> None:
    assert extract_feed_entry("  ", "https://alwaha.test/a", TITLE, None) == NoArticle(
        "https://alwaha.test/a", "empty-body"
    )


SITE = "شبكة المنارة الإخبارية"
JUSTIFIED_BODY = "".join(f'<p align="justify">{para}' for para in PARAGRAPHS)


def table_layout_page(
    title_tag: str = f"{SITE} - {TITLE}",
    body: str = JUSTIFIED_BODY,
    footer: str = f"جميع الحقوق محفوظة © 2003-2021 {SITE}",
) -> str:
    """An old <h1>-less table-layout article: bold headline, dateline under it, unclosed <p> in <font>."""
    return f"""<html dir="rtl"><head><title>{title_tag}</title></head><body>
<table width="780"><tr><td colspan="2"><font size="5"><b>{SITE}</b></font></td></tr>
<tr><td colspan="2"><marquee><b>عاجل:</b> افتتاح معرض القاهرة الدولي للكتاب بمشاركة واسعة</marquee></td></tr>
<tr><td width="160"><table><tr><td><b>الأقسام</b></td></tr>
<tr><td><a href="/"><font>الصفحة الرئيسية</font></a></td></tr>
<tr><td><a href="/section.php?cat=1"><font>الشأن الليبي</font></a></td></tr></table></td>
<td><table>
<tr><td><font size="2"><a href="/">الرئيسية</a> » <a href="/section.php?cat=1">الشأن الليبي</a></font></td></tr>
<tr><td><font size="5"><b>{TITLE}</b></font></td></tr>
<tr><td><font size="2">الجمعة &#1634;&#1641; آذار &#1634;&#1632;&#1633;&#1641; | خالد المبروك</font></td></tr>
<tr><td><table><tr><td class="text"><font size="3">{body}</font></td></tr></table></td></tr>
<tr><td><a href="/print.php?id=1"> نسخة للطباعة</a> | <a href="mailto:?x">أرسل الخبر لصديق</a>
 | عدد القراءات: 137</td></tr>
<tr><td><table><tr><td><font><b>أخبار ذات صلة</b></font></td></tr>
<tr><td><a href="/news.php?id=9"><font>المجلس الرئاسي يعين قائداً جديداً لمنطقة طرابلس العسكرية</font></a></td></tr>
<tr><td><a href="/news.php?id=8"><font>تبادل أسرى بين طرفي النزاع الليبي برعاية أممية</font></a></td></tr>
</table></td></tr></table></td></tr>
<tr><td colspan="2"><font size="1">{footer}</font></td></tr></table></body></html>"""


def test_table_layout_article() -> None:
    result = extract(
        table_layout_page().encode("windows-1256"),
        "http://almanara.test/news.php?id=1",
        {"Content-Type": "text/html; charset=windows-1256"},
    )
    assert isinstance(result, Article)
    assert result.paragraphs == PARAGRAPHS
    assert result.title == TITLE
    assert result.published == "2019-03-29"


def test_table_layout_body_with_double_breaks() -> None:
    body = '<div id="nbody">' + "<br><br>\n".join(PARAGRAPHS) + "</div>"
    result = extract(table_layout_page(body=body).encode("utf-8"), "http://almanara.test/news.php?id=1")
    assert isinstance(result, Article)
    assert result.paragraphs == PARAGRAPHS


def test_paragraphs_in_a_data_table_cell_stay_apart() -> None:
    # One table cell with <p> paragraphs next to a <th> header: still a table, but not one glued line.
    cells = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    page = f"""<html><head><title>{TITLE}</title></head><body><article><h1>{TITLE}</h1>
<table><tr><th>الخبر</th></tr><tr><td>{cells}</td></tr></table></article></body></html>"""
    result = extract(page.encode("utf-8"), "https://alwaha.test/a")
    assert isinstance(result, Article)
    assert result.paragraphs[-len(PARAGRAPHS) :] == PARAGRAPHS


@pytest.mark.parametrize(
    "title_tag",
    [f"{SITE} - {TITLE}", f"{TITLE} | {SITE}", f"{SITE} « {TITLE}"],
)
def test_site_name_from_copyright_line_stripped(title_tag: str) -> None:
    page = table_layout_page(title_tag=title_tag)
    result = extract(page.encode("utf-8"), "http://almanara.test/news.php?id=1")
    assert isinstance(result, Article)
    assert result.title == TITLE


def test_bold_headline_picks_the_title_segment_without_copyright() -> None:
    # No copyright line names the site: the bold headline that is one whole segment of <title> wins.
    page = table_layout_page(footer="")
    result = extract(page.encode("utf-8"), "http://almanara.test/news.php?id=1")
    assert isinstance(result, Article)
    assert result.title == TITLE


def test_dateline_after_headline_beats_copyright_years() -> None:
    page = table_layout_page()
    assert "2021" in page
    result = extract(page.encode("utf-8"), "http://almanara.test/news.php?id=1")
    assert isinstance(result, Article)
    assert result.published == "2019-03-29"


def test_listing_with_datelines_is_section_page() -> None:
    rows = "".join(
        f'<tr><td><a href="/news.php?id={i}"><font>عنوان الخبر رقم {i} عن الأوضاع في ليبيا</font></a>'
        f"<br><font>الثلاثاء {i} كانون الأول 2020</font></td></tr>"
        for i in range(1, 6)
    )
    page = table_layout_page(title_tag=f"الشأن الليبي - {SITE}").replace(
        '<tr><td><table><tr><td class="text">', f"{rows}<tr><td><table><tr><td>"
    )
    page = page.replace("".join(f'<p align="justify">{p}' for p in PARAGRAPHS), "")
    result = extract(page.encode("utf-8"), "http://almanara.test/section.php?cat=1")
    assert isinstance(result, NoArticle)
    assert result.reason == "section-page"


def test_page_site_names_from_copyright_and_logo() -> None:
    from lxml.html import document_fromstring

    root = document_fromstring(
        '<html><body><a href="/"><img src="/logo.gif" alt="بوابة الوسط"></a><a href="/">الرئيسية</a>'
        f"<p>{PARAGRAPHS[0]}</p><div>© 2021 {SITE}. جميع الحقوق محفوظة</div></body></html>"
    )
    names = page_site_names(root)
    assert names == {SITE, "بوابة الوسط"}
    assert strip_site_suffix(f"بوابة الوسط « {TITLE}", names) == TITLE
