"""URL canonicalisation: one article, one URL, whatever the link looked like."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from parsel import Selector

from crawler.urls import canonical_href, canonicalize_url, is_crawlable

ARABIC = "http://127.0.0.1:8001/2020/01/12/ليبيا-طرابلس/"
ENCODED = (
    "http://127.0.0.1:8001/2020/01/12/%D9%84%D9%8A%D8%A8%D9%8A%D8%A7-%D8%B7%D8%B1%D8%A7%D8%A8%D9%84%D8%B3/"
)


def test_tracking_parameters_and_fragments_go() -> None:
    base = "http://127.0.0.1:8001/news.php?id=7"
    assert canonicalize_url(base + "&utm_source=fb&utm_medium=social#comments") == base
    assert canonicalize_url("http://127.0.0.1:8001/news.php?fbclid=abc&id=7") == base


def test_raw_and_percent_encoded_arabic_agree() -> None:
    assert canonicalize_url(ARABIC) == canonicalize_url(ENCODED) == ENCODED


def test_host_scheme_and_default_port() -> None:
    assert canonicalize_url("HTTP://News.Example.ORG:80/a") == "http://news.example.org/a"
    assert canonicalize_url("https://news.example.org:443") == "https://news.example.org/"
    assert canonicalize_url("http://127.0.0.1:8001/a") == "http://127.0.0.1:8001/a"


def test_only_http_is_crawlable() -> None:
    assert is_crawlable("https://a.org/x")
    for url in (
        "mailto:a@b.org",
        "javascript:void(0)",
        "file:///etc/passwd",
        "data:text/html,x",
        "ftp://a.org/",
    ):
        assert not is_crawlable(url)


_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)


@given(path=_text, query=_text, fragment=_text)
def test_canonicalisation_is_idempotent_and_drops_fragments(path: str, query: str, fragment: str) -> None:
    url = f"http://example.org/{path}?{query}#{fragment}"
    try:
        once = canonicalize_url(url)
    except ValueError:
        return  # urlsplit rejects some inputs (e.g. invalid IPv6 brackets); never a crash beyond that
    assert canonicalize_url(once) == once
    parts = urlsplit(once)
    assert parts.fragment == ""
    assert parts.hostname == "example.org"
    assert once.isascii()


@given(value=st.text(max_size=20))
def test_utm_parameters_never_survive(value: str) -> None:
    once = canonicalize_url("http://example.org/a?id=1&utm_source=" + value)
    assert "utm_" not in once


CANONICAL_PAGES = [
    ('<head><link rel="canonical" href="https://a.ly/x?a=1&amp;b=2"></head>', "https://a.ly/x?a=1&b=2"),
    ("<head><LINK HREF='/y' REL='Canonical'></head>", "/y"),
    ("<head><link rel=canonical href=/z></head>", "/z"),
    ('<head><!-- <link rel="canonical" href="/old"> --><link rel="canonical" href="/new"></head>', "/new"),
    ('<head><link rel="alternate" href="/feed"><link rel="shortlink" href="/s"></head>', None),
    ('<head><link rel="canonical" href=""><link rel="canonical" href=" /second "></head>', "/second"),
    ('<head><link href="/q" rel="alternate canonical" /></head>', "/q"),
    ('<head><title>t</title></head><body><p>rel="canonical" href="/text"</p></body>', None),
    ('<html dir="rtl"><head><link rel="canonical" href="/ليبيا/1"></head>', "/ليبيا/1"),
]


@pytest.mark.parametrize(("page", "want"), CANONICAL_PAGES)
def test_canonical_href(page: str, want: str | None) -> None:
    assert canonical_href(page) == want


@pytest.mark.parametrize(("page", "want"), [c for c in CANONICAL_PAGES if c[1] and 'href=""' not in c[0]])
def test_canonical_href_agrees_with_a_parse(page: str, want: str) -> None:
    # What a full parse finds (the scan also skips an empty href and takes the next canonical link).
    parsed = Selector(text=page).css(
        'link[rel="canonical" i]::attr(href), link[rel~="canonical"]::attr(href)'
    )
    assert canonical_href(page) == (parsed.get() or "").strip()
