"""Arabic text normalisation and tokenisation for term matching.

Matching must not depend on how a writer spelled hamza, whether a headline is vocalised, or which digit
set a site uses, so both topic terms and article text go through :func:`normalize` before they meet.
The rules, in order:

1. Unicode NFKC (folds Arabic presentation forms and ligatures such as ``ﻻ`` into plain letters).
2. Lower-casing (``casefold``) of Latin and other cased scripts.
3. Hamza/alef forms ``أ إ آ ٱ`` → ``ا``; alef maqsura ``ى`` → ``ي``; taa marbuta ``ة`` → ``ه``;
   the Persian letters ``ی`` and ``ک`` that some Arabic sites use → ``ي`` and ``ك``.
4. Diacritics (tashkeel, Quranic annotation marks, superscript alef) and tatweel ``ـ`` removed;
   invisible format characters (ZWNJ, direction marks) removed.
5. Eastern Arabic ``٠-٩`` and Persian ``۰-۹`` digits → ASCII ``0-9``.
6. Punctuation and symbols (Latin and Arabic: ``، ؛ ؟ « »`` ...) become spaces; whitespace collapses to
   single spaces with no leading or trailing space.

The result is idempotent: ``normalize(normalize(s)) == normalize(s)``. This module reads no settings.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize", "tokenize"]

_LETTER_MAP = {
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "ى": "ي",
    "ة": "ه",
    "ی": "ي",
    "ک": "ك",
}
_DIGIT_MAP = {chr(0x0660 + i): str(i) for i in range(10)} | {chr(0x06F0 + i): str(i) for i in range(10)}

# Tashkeel and Arabic combining marks: fathatan..sukun and the extended marks (U+064B-U+065F),
# superscript alef (U+0670), Quranic annotation signs (U+06D6-U+06ED), small high letters (U+0610-U+061A).
_DIACRITICS = "".join(
    chr(c) for c in [*range(0x0610, 0x061B), *range(0x064B, 0x0660), 0x0670, *range(0x06D6, 0x06EE)]
)
_TATWEEL = "\u0640"

_TRANSLATION = str.maketrans(
    {**_LETTER_MAP, **_DIGIT_MAP, **dict.fromkeys(_DIACRITICS + _TATWEEL, None)},
)
_SPACE_RE = re.compile(r"\s+")


def _is_separator(ch: str) -> bool:
    # Punctuation (P*) and symbols (S*) split words; so does any whitespace.
    cat = unicodedata.category(ch)
    return cat[0] in "PSZ" or ch.isspace() or cat == "Cc"


# The two per-character steps as translation tables over the Basic Multilingual Plane, built once (about
# 30 ms): ``str.translate`` runs in C, where a Python loop over every character of every article cost a
# tenth of an extraction worker's time. Characters beyond the BMP (emoji, rare scripts) take the loop.
_BMP = range(0x10000)
_DROP_FORMAT = {cp: None for cp in _BMP if unicodedata.category(chr(cp)) == "Cf"}
_SEPARATORS = {cp: " " for cp in _BMP if _is_separator(chr(cp))}
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")


def _drop_format(text: str) -> str:
    text = text.translate(_DROP_FORMAT)
    if _ASTRAL_RE.search(text):
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return text


def _separators_to_spaces(text: str) -> str:
    text = text.translate(_SEPARATORS)
    if _ASTRAL_RE.search(text):
        text = "".join(" " if _is_separator(ch) else ch for ch in text)
    return text


def normalize(text: str) -> str:
    """Return ``text`` normalised for matching (see the module docstring for the rules)."""
    # ZWNJ, ZWJ and direction marks are invisible inside words; drop them before composition.
    text = _drop_format(text)
    text = unicodedata.normalize("NFKC", text).casefold()
    # casefold and mark removal can leave sequences NFKC would compose differently; renormalising after
    # each keeps the result a fixed point.
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATION)
    text = unicodedata.normalize("NFKC", text)
    return _SPACE_RE.sub(" ", _separators_to_spaces(text)).strip()


def tokenize(text: str) -> list[str]:
    """Normalise ``text`` and split it into word tokens."""
    normalized = normalize(text)
    return normalized.split(" ") if normalized else []
