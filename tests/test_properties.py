"""Property tests (hypothesis): URL canonicalisation, storage key building and the Arabic normaliser.

Each property is one a user relies on: an article is fetched once whatever the link spelling; nothing a web
page says can make a key climb out of its prefix; normalised text matches however it was typed.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import parse_qsl, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from w3lib.url import canonicalize_url as w3lib_canonicalize_url

from archive.keys import (
    MAX_KEY_BYTES,
    article_id,
    check_key,
    manifest_key,
    safe_segment,
    state_key,
    text_key,
    wacz_key,
    warc_key,
)
from crawler.urls import canonicalize_url
from relevance import normalize
from tests.canonical_reference import reference_canonicalize_url

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- URLs -----------------------------------------------------------------------------------------------
_ARABIC = st.characters(min_codepoint=0x0600, max_codepoint=0x06FF)
_SEGMENT_CHARS = st.one_of(
    st.sampled_from("abcXYZ019-._~%!$&'()*+,;=:@ "),
    _ARABIC,
    st.characters(codec="utf-8", exclude_categories=["Cs"]),
)
_segment = st.text(_SEGMENT_CHARS, max_size=12).map(
    lambda s: s.replace("/", "").replace("?", "").replace("#", "")
)
_host = st.from_regex(r"\A[a-zA-Z][a-zA-Z0-9-]{0,10}(\.[a-zA-Z]{2,5}){1,2}\Z").filter(lambda h: "--" not in h)
_param_name = st.one_of(
    st.sampled_from(["utm_source", "UTM_Medium", "utm_campaign", "fbclid", "gclid", "page", "id", "q", "s"]),
    st.from_regex(r"\A[a-z]{1,6}\Z"),
)
_param_value = st.text(st.one_of(st.sampled_from("abc123-_ "), _ARABIC), max_size=8)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(_host)
    port = draw(st.one_of(st.just(""), st.sampled_from([":80", ":443", ":8080", ":3000"])))
    path = "/" + "/".join(draw(st.lists(_segment, max_size=4)))
    params = draw(st.lists(st.tuples(_param_name, _param_value), max_size=4))
    query = "&".join(f"{k}={v}" for k, v in params)
    fragment = draw(st.one_of(st.just(""), st.text(max_size=6).map(lambda f: "#" + f)))
    return f"{scheme}://{host}{port}{path}{'?' + query if query else ''}{fragment}"


@PROPERTY_SETTINGS
@given(urls())
def test_canonical_form_is_byte_identical_to_the_archived_one(url: str) -> None:
    # Article ids hash this form: it must not move (w3lib's canonicalize_url sorts query arguments).
    assert canonicalize_url(url) == reference_canonicalize_url(url)


def test_canonical_form_keeps_query_order_unlike_w3lib() -> None:
    url = "https://Alwasat.ly:443/news/ليبيا/?b=2&a=1&utm_source=x#top"
    assert canonicalize_url(url) == "https://alwasat.ly/news/%D9%84%D9%8A%D8%A8%D9%8A%D8%A7/?b=2&a=1"
    assert "?a=1&b=2" in w3lib_canonicalize_url(url)


@PROPERTY_SETTINGS
@given(urls())
def test_canonicalize_is_idempotent(url: str) -> None:
    once = canonicalize_url(url)
    assert canonicalize_url(once) == once


@PROPERTY_SETTINGS
@given(urls())
def test_canonical_url_has_no_fragment_or_tracking_and_lower_scheme_host(url: str) -> None:
    canonical = canonicalize_url(url)
    parts = urlsplit(canonical)
    assert "#" not in canonical and parts.fragment == ""
    assert parts.scheme == parts.scheme.lower() and parts.scheme in ("http", "https")
    assert parts.netloc == parts.netloc.lower()
    assert parts.port not in (80, 443) or (parts.scheme, parts.port) in (("http", 443), ("https", 80))
    names = [k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    assert not any(n.startswith("utm_") or n in ("fbclid", "gclid") for n in names)
    assert canonical.isascii()  # Arabic paths are percent-encoded, as browsers send them


@PROPERTY_SETTINGS
@given(urls())
def test_tracking_parameters_and_fragments_do_not_make_new_urls(url: str) -> None:
    base = canonicalize_url(url)
    sep = "&" if urlsplit(url.strip()).query else "?"
    # Leading and trailing white space is not part of a URL (HTML strips it from href values).
    decorated = url.strip().split("#", 1)[0] + f"{sep}utm_source=twitter&fbclid=xyz#comments"
    assert canonicalize_url(decorated) == base


# --- keys -----------------------------------------------------------------------------------------------
_hostile = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        ["..", ".", "../../etc/passwd", "/abs", "a/../b", "\\..\\x", "\u202e.exe", "\x00", " .. "]
    ),
    st.text(st.sampled_from("./\\\x00\n\r\t\u200f\u202e\u2066 ـكلب%"), max_size=40),
)


def _assert_safe(key: str, prefix: str) -> None:
    assert key.startswith(prefix)
    assert check_key(key) == key
    parts = key.split("/")
    assert ".." not in parts and "." not in parts and "" not in parts
    assert not any(unicodedata.category(ch)[0] == "C" for ch in key)
    assert "\\" not in key and not key.startswith("/")
    assert len(key.encode("utf-8")) <= MAX_KEY_BYTES


@PROPERTY_SETTINGS
@given(
    site=_hostile, published=st.one_of(st.none(), _hostile, st.dates().map(str)), ident=_hostile, ext=_hostile
)
def test_text_key_stays_under_its_site_prefix(site: str, published: str | None, ident: str, ext: str) -> None:
    key = text_key(site, published, ident, ext)
    _assert_safe(key, "text/")
    assert len(key.split("/")) in (
        4,
        5,
    )  # text/<site>/undated/<id>.<ext> or text/<site>/<yyyy>/<mm>/<id>.<ext>
    assert key.split("/")[1] == safe_segment(site)


@PROPERTY_SETTINGS
@given(crawl=_hostile, name=_hostile)
def test_other_keys_stay_under_their_prefixes(crawl: str, name: str) -> None:
    _assert_safe(warc_key(crawl, name), "warc/")
    assert len(warc_key(crawl, name).split("/")) == 3
    _assert_safe(wacz_key(crawl), "wacz/")
    _assert_safe(manifest_key(crawl), "manifests/")
    _assert_safe(state_key(name), "state/")
    assert len(state_key(name).split("/")) == 2


@PROPERTY_SETTINGS
@given(_hostile, st.booleans())
def test_safe_segment_is_one_harmless_segment(value: str, unicode_ok: bool) -> None:
    segment = safe_segment(value, unicode_ok=unicode_ok)
    assert segment and "/" not in segment and "\\" not in segment
    assert set(segment) != {"."}
    assert safe_segment(segment, unicode_ok=unicode_ok) == segment  # idempotent


@PROPERTY_SETTINGS
@given(st.text(max_size=300))
def test_article_id_is_short_hex(url: str) -> None:
    ident = article_id(url)
    assert len(ident) == 16 and all(c in "0123456789abcdef" for c in ident)


# --- Arabic normaliser ------------------------------------------------------------------------------------
_DIACRITICS = {
    chr(c) for c in [*range(0x064B, 0x0660), 0x0670, *range(0x0610, 0x061B), *range(0x06D6, 0x06EE)]
}
_arabic_text = st.text(
    st.one_of(
        st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),
        st.characters(min_codepoint=0xFB50, max_codepoint=0xFDFF),  # presentation forms A
        st.characters(min_codepoint=0xFE70, max_codepoint=0xFEFF),  # presentation forms B
        st.sampled_from(" \u200c\u200d\u200f\u202e\t\n،؛؟«»ـ0123456789"),
    ),
    max_size=80,
)
_any_text = st.one_of(_arabic_text, st.text(max_size=80))


@PROPERTY_SETTINGS
@given(_any_text)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@PROPERTY_SETTINGS
@given(_any_text)
def test_normalized_text_has_no_diacritics_tatweel_or_eastern_digits(text: str) -> None:
    out = normalize(text)
    assert not (set(out) & _DIACRITICS)
    assert "\u0640" not in out  # tatweel
    assert not any("\u0660" <= ch <= "\u0669" or "\u06f0" <= ch <= "\u06f9" for ch in out)
    assert not any(unicodedata.category(ch) == "Cf" for ch in out)
    assert out == out.strip() and "  " not in out


@PROPERTY_SETTINGS
@given(st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=8))
def test_eastern_and_persian_digits_become_ascii(digits: list[int]) -> None:
    ascii_digits = "".join(str(d) for d in digits)
    assert normalize("".join(chr(0x0660 + d) for d in digits)) == ascii_digits
    assert normalize("".join(chr(0x06F0 + d) for d in digits)) == ascii_digits


@PROPERTY_SETTINGS
@given(st.lists(st.sampled_from(sorted(_DIACRITICS | {"\u0640"})), max_size=6))
def test_vocalised_and_plain_spellings_match(marks: list[str]) -> None:
    word = "ليبيا"
    decorated = word[0] + "".join(marks) + word[1:]
    assert normalize(decorated) == normalize(word)
