"""Arabic normalisation for matching: one test per rule, and properties over arbitrary text."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from relevance import normalize, tokenize
from relevance.normalize import _DIACRITICS, _TATWEEL

# Arabic letters, marks, digits, punctuation and a few troublemakers (combining marks, ZWNJ, ligatures).
_ARABIC_ALPHABET = st.sampled_from(
    [chr(c) for c in range(0x0600, 0x0700)]
    + list("abcXYZ İß 0123456789.,-\n\t")
    + ["\u200c", "\u200d", "\u200f", "\u0301", "ﻻ", "\ufe70", "ﷲ"]
)
_TEXTS = st.one_of(st.text(), st.lists(_ARABIC_ALPHABET, max_size=60).map("".join))


def test_hamza_alef_forms_become_bare_alef() -> None:
    assert normalize("أحمد إبراهيم آمنة ٱلله") == "احمد ابراهيم امنه الله"


def test_alef_maqsura_becomes_yaa() -> None:
    assert normalize("مستشفى إلى بنغازى") == "مستشفي الي بنغازي"


def test_taa_marbuta_becomes_haa() -> None:
    assert normalize("مدينة مصراتة") == "مدينه مصراته"


def test_diacritics_removed() -> None:
    assert normalize("طَرَابُلُسُ اللّٰه") == "طرابلس الله"


def test_tatweel_removed() -> None:
    assert normalize("ليبـــيا") == "ليبيا"


def test_eastern_arabic_and_persian_digits_become_ascii() -> None:
    assert normalize("٢٠١٩ و۲۰۲۰") == "2019 و2020"


def test_latin_lowercased() -> None:
    assert normalize("LIBYA Haftar") == "libya haftar"


def test_punctuation_splits_words() -> None:
    assert normalize("«ليبيا»،طرابلس؛ (بنغازي)؟ Libya-Tripoli") == "ليبيا طرابلس بنغازي libya tripoli"


def test_presentation_forms_and_invisible_marks() -> None:
    # lam-alef ligature, and a zero-width non-joiner inside a word
    assert normalize("ﻻ ليب\u200cيا") == "لا ليبيا"


def test_tokenize_splits_on_normalised_spaces() -> None:
    assert tokenize("  وبطرابلس،  للسراج\n\nوالليبيين ") == ["وبطرابلس", "للسراج", "والليبيين"]
    assert tokenize("  ، ") == []


@given(_TEXTS)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(_TEXTS)
def test_no_diacritics_or_tatweel_survive(text: str) -> None:
    out = normalize(text)
    assert not set(out) & set(_DIACRITICS + _TATWEEL)
    assert not set(out) & set("أإآٱىة")


@given(st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=12))
def test_digits_map_to_ascii(digits: list[int]) -> None:
    ascii_digits = "".join(map(str, digits))
    eastern = "".join(chr(0x0660 + d) for d in digits)
    persian = "".join(chr(0x06F0 + d) for d in digits)
    assert normalize(eastern) == normalize(persian) == ascii_digits


@given(_TEXTS)
def test_output_has_single_spaces_and_no_punctuation(text: str) -> None:
    out = normalize(text)
    assert out == out.strip()
    assert "  " not in out
    assert all(unicodedata.category(ch)[0] not in "PS" for ch in out)
