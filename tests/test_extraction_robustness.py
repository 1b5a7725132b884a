"""extract() never raises: an Article or a NoArticle with a reason for any bytes.

Fed the newsroom's pages, the Arabic dev set (when ``../shared/evaldata`` is here; the whole trafilatura
set runs in the real-page gate, ``bench/eval_extraction.py --gate``) and fuzzed HTML: truncated pages, bad
attributes, odd hrefs, nested forms, huge attributes. A page that reaches the catch-all in ``extract``
(``reason == "extraction-error"``) fails the test as surely as an exception would: the catch-all is for
crawls, not for hiding bugs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extraction import Article, NoArticle, extract
from extraction.models import REASON_INTERNAL_ERROR
from newsroom import Newsroom

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from evalsets import arabic_pages

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ARTICLE = (
    "<html lang='ar'><head><title>عنوان</title></head><body><article><h1>عنوان الخبر</h1>"
    + "".join(f"<p>فقرة رقم {i} من نص الخبر عن الأوضاع في طرابلس وبنغازي وسرت اليوم.</p>" for i in range(6))
    + "</article></body></html>"
)


def assert_clean_result(result: object) -> None:
    assert isinstance(result, Article | NoArticle)
    if isinstance(result, NoArticle):
        assert result.reason and result.reason != REASON_INTERNAL_ERROR
    else:
        assert result.text.strip()


def test_every_newsroom_and_arabic_page(newsroom: Newsroom) -> None:
    import urllib.request

    checked = 0
    for gold in newsroom.articles:
        with urllib.request.urlopen(gold.url, timeout=30) as response:
            body = response.read()
        assert_clean_result(extract(body, gold.url))
        for cut in (len(body) // 3, len(body) // 2):
            assert_clean_result(extract(body[:cut], gold.url))
        checked += 1
    for page in arabic_pages():
        assert_clean_result(extract(page.body, page.url))
        assert_clean_result(extract(page.body[: len(page.body) // 2], page.url))
    assert checked >= 20


_attr_value = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["https://[ccpa-preferences]/", "http://[::1", "javascript:void(0)", "//", "http://a:b:c/"]
    ),
    st.integers(1, 50_000).map(lambda n: "share-" * n),  # huge attributes
)
_tag = st.sampled_from(
    ["div", "p", "a", "form", "table", "td", "span", "article", "nav", "section", "li", "br"]
)


@st.composite
def fuzzed_html(draw: st.DrawFn) -> bytes:
    parts = []
    for _ in range(draw(st.integers(1, 25))):
        tag = draw(_tag)
        attr = draw(st.sampled_from(["class", "id", "href", "style", "data-x", "lang", "x y", '"']))
        value = draw(_attr_value).replace('"', "&quot;")
        text = draw(st.text(max_size=80))
        closing = draw(st.booleans())
        parts.append(f'<{tag} {attr}="{value}">{text}' + (f"</{tag}>" if closing else ""))
    page = ARTICLE.replace("</article>", "".join(parts) + "</article>")
    if draw(st.booleans()):
        page = "<form><form><form>" + page
    data = page.encode(draw(st.sampled_from(["utf-8", "utf-16", "cp1256"])), errors="replace")
    return data[: draw(st.integers(0, len(data)))]


@FUZZ
@given(fuzzed_html())
def test_fuzzed_html_never_raises(body: bytes) -> None:
    assert_clean_result(extract(body, "https://alwaha.test/news/1"))


@FUZZ
@given(
    st.binary(max_size=2000), st.sampled_from(["https://alwaha.test/a", "https://[bad]/", "", "file:///x"])
)
def test_arbitrary_bytes_never_raise(body: bytes, url: str) -> None:
    assert_clean_result(extract(body, url, {"content-type": "text/html"}))
