"""decode_html: header charset, BOM, <meta> declarations, and detection of undeclared Arabic encodings."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extraction import decode_html

ARABIC = "أعلنت حكومة الوفاق الوطني الليبية في طرابلس وقف إطلاق النار بعد اجتماع طويل مع الأمم المتحدة."
PAGE = f"<html><head><title>خبر</title></head><body><p>{ARABIC}</p></body></html>"


def test_header_charset_wins() -> None:
    body = PAGE.encode("cp1256")
    text, encoding = decode_html(body, {"Content-Type": "text/html; charset=windows-1256"})
    assert encoding == "windows-1256"
    assert ARABIC in text


def test_header_lookup_is_case_insensitive_and_accepts_quotes() -> None:
    body = PAGE.encode("iso8859-6")
    text, encoding = decode_html(body, {"content-type": 'text/html; charset="ISO-8859-6"'})
    assert encoding == "iso-8859-6"
    assert ARABIC in text


def test_utf8_bom() -> None:
    text, encoding = decode_html(codecs.BOM_UTF8 + PAGE.encode("utf-8"))
    assert encoding == "utf-8"
    assert text.startswith("<html>")
    assert ARABIC in text


def test_utf16_bom() -> None:
    text, encoding = decode_html(PAGE.encode("utf-16"))
    assert encoding == "utf-16"
    assert ARABIC in text


@pytest.mark.parametrize(
    ("meta", "codec", "label"),
    [
        ('<meta charset="windows-1256">', "cp1256", "windows-1256"),
        (
            '<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">',
            "cp1256",
            "windows-1256",
        ),
        ("<meta charset=iso-8859-6>", "iso8859-6", "iso-8859-6"),
        ('<meta charset="utf-8">', "utf-8", "utf-8"),
    ],
)
def test_meta_declaration(meta: str, codec: str, label: str) -> None:
    body = f"<html><head>{meta}</head><body><p>{ARABIC}</p></body></html>".encode(codec)
    text, encoding = decode_html(body)
    assert encoding == label
    assert ARABIC in text


@pytest.mark.parametrize(("codec", "label"), [("cp1256", "windows-1256"), ("iso8859-6", "iso-8859-6")])
def test_detects_undeclared_arabic_single_byte_encodings(codec: str, label: str) -> None:
    text, encoding = decode_html(PAGE.encode(codec))
    assert encoding == label
    assert ARABIC in text


def test_detects_undeclared_utf8() -> None:
    text, encoding = decode_html(PAGE.encode("utf-8"))
    assert (text, encoding) == (PAGE, "utf-8")


def test_wrong_western_declaration_over_cp1256_bytes_is_corrected() -> None:
    body = PAGE.encode("cp1256")
    text, encoding = decode_html(body, {"Content-Type": "text/html; charset=iso-8859-1"})
    assert encoding == "windows-1256"
    assert ARABIC in text


def test_declared_utf8_that_does_not_decode_falls_back_to_detection() -> None:
    body = f'<html><head><meta charset="utf-8"></head><body><p>{ARABIC}</p></body></html>'.encode("cp1256")
    text, encoding = decode_html(body)
    assert encoding == "windows-1256"
    assert ARABIC in text


def test_unknown_charset_label_is_ignored() -> None:
    text, encoding = decode_html(PAGE.encode("utf-8"), {"Content-Type": "text/html; charset=x-nonsense"})
    assert encoding == "utf-8"
    assert ARABIC in text


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_decode_without_error(body: bytes) -> None:
    text, encoding = decode_html(body)
    assert isinstance(text, str)
    assert encoding


def test_declared_utf8_with_a_few_invalid_bytes_stays_utf8() -> None:
    body = (
        "<html><body><p>" + "قال المتحدث باسم حكومة الوفاق في طرابلس " * 20 + "</p></body></html>"
    ).encode()
    broken = body[:200] + b"\xff\xfe" + body[200:]
    text, encoding = decode_html(broken, {"Content-Type": "text/html; charset=utf-8"})
    assert encoding == "utf-8"
    assert "حكومة الوفاق" in text
    assert text.count("\ufffd") == 2


def test_declared_utf8_that_is_really_windows_1256_is_detected() -> None:
    body = (
        "<html><body><p>" + "قال المتحدث باسم حكومة الوفاق في طرابلس " * 20 + "</p></body></html>"
    ).encode("cp1256")
    text, encoding = decode_html(body, {"Content-Type": "text/html; charset=utf-8"})
    assert encoding == "windows-1256"
    assert "حكومة الوفاق" in text
