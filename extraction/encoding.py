"""Decode raw HTML bytes to text, with a bias for the encodings Arabic news sites really use.

Order of evidence: the HTTP ``Content-Type`` charset, a byte-order mark, a ``<meta charset>`` or
``http-equiv`` declaration in the first bytes, then detection. Detection knows that undeclared Arabic pages
are UTF-8, windows-1256 or ISO-8859-6: valid UTF-8 wins, otherwise each candidate is decoded strictly and
scored by how many Arabic letters it yields against how many Latin-1 accents and control characters it
produces (ISO-8859-6 read as windows-1256 turns common letters into "ç", "è", "ê"; windows-1256 read as
ISO-8859-6 fails on undefined bytes). charset-normalizer is asked only when no Arabic candidate decodes.
A declared Western single-byte charset (ISO-8859-1, windows-1252, ASCII) is distrusted the same way,
because many Arabic sites send ``charset=iso-8859-1`` over windows-1256 bytes.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Mapping

logger = logging.getLogger(__name__)

# How far into the document a <meta> declaration is honoured (the HTML standard says 1024; real pages
# put a long <head> first, so look further).
META_SNIFF_BYTES = 8192

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta\b[^>]{0,512}?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_ARABIC_LETTER = re.compile(r"[\u0621-\u064a\u0671-\u06d3]")
_LATIN1_NOISE = re.compile(r"[\u0080-\u009f\u00c0-\u00ff\ufffd]")

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Declared charsets that Arabic sites send over windows-1256 bytes often enough to double-check.
_WESTERN_SINGLE_BYTE = frozenset({"latin-1", "iso8859-1", "cp1252", "ascii"})
# Python codec name -> the label we report (WHATWG spelling).
_REPORTED_NAME = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "cp1256": "windows-1256",
    "iso8859-6": "iso-8859-6",
    "cp1252": "windows-1252",
    "latin-1": "iso-8859-1",
    "iso8859-1": "iso-8859-1",
    "ascii": "ascii",
    "utf-16": "utf-16",
    "utf-32": "utf-32",
}
_ARABIC_CANDIDATES = ("cp1256", "iso8859-6")


def _codec(label: str) -> str | None:
    label = label.strip().strip("\"'").lower()
    # WHATWG maps these labels to windows-1252, which is a superset; so do we.
    if label in ("iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"):
        label = "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def reported_name(codec: str) -> str:
    """The charset label we store for a Python codec name (``cp1256`` -> ``windows-1256``)."""
    return _REPORTED_NAME.get(codec, codec)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def header_charset(headers: Mapping[str, str] | None) -> str | None:
    """The Python codec named by the Content-Type header's charset, if any and known."""
    content_type = _header(headers, "content-type")
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return _codec(match.group(1)) if match else None


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:META_SNIFF_BYTES])
    if not match:
        return None
    codec = _codec(match.group(1).decode("ascii", "replace"))
    # A <meta> that could be read as ASCII cannot be UTF-16/32 (HTML standard: treat it as UTF-8).
    if codec is not None and codec.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return codec


def _arabic_score(text: str) -> int:
    return len(_ARABIC_LETTER.findall(text)) - 3 * len(_LATIN1_NOISE.findall(text))


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect(body: bytes) -> tuple[str, str]:
    text = _strict(body, "utf-8")
    if text is not None:
        return text, "utf-8"
    best: tuple[int, str, str] | None = None
    for codec in _ARABIC_CANDIDATES:
        decoded = _strict(body, codec)
        if decoded is None:
            continue
        score = _arabic_score(decoded)
        if best is None or score > best[0]:
            best = (score, decoded, codec)
    if best is not None and best[0] > 0:
        return best[1], best[2]
    guessed = _charset_normalizer_guess(body)
    if guessed is not None:
        decoded = _strict(body, guessed)
        if decoded is not None:
            return decoded, guessed
    if best is not None:
        return best[1], best[2]
    return body.decode("utf-8", errors="replace"), "utf-8"


def _charset_normalizer_guess(body: bytes) -> str | None:
    # Imported lazily: most pages are UTF-8 and never need it.
    from charset_normalizer import from_bytes

    match = from_bytes(body[:65536]).best()
    if match is None:
        return None
    return _codec(match.encoding)


# A declared UTF-8 body with this small a share of invalid sequences is UTF-8 with a few broken bytes (a
# truncated multi-byte character, a stray Latin-1 byte), not a page in another encoding.
_MAX_INVALID_UTF8_SHARE = 0.01


def _decode_declared(body: bytes, codec: str) -> tuple[str, str] | None:
    text = _strict(body, codec)
    if text is None and codec in ("utf-8", "utf8"):
        lenient = body.decode("utf-8", errors="replace")
        if lenient.count("\ufffd") <= max(1, int(len(lenient) * _MAX_INVALID_UTF8_SHARE)):
            logger.debug("declared UTF-8 body has a few invalid bytes; replaced")
            return lenient, "utf-8"
    if text is None:
        logger.debug("declared charset %s does not decode the body; detecting", codec)
        return None
    if codec in _WESTERN_SINGLE_BYTE and _strict(body, "utf-8") is None:
        arabic = _strict(body, "cp1256")
        if arabic is not None and _arabic_score(arabic) > max(_arabic_score(text), 0):
            return arabic, "cp1256"
    return text, codec


def decode_html(body: bytes, headers: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Decode an HTML body; return ``(text, encoding)`` with the encoding's WHATWG-style label.

    Never raises on bad bytes: when nothing decodes cleanly the body is read as UTF-8 with replacement
    characters.
    """
    codec = header_charset(headers)
    if codec is not None:
        decoded = _decode_declared(body, codec)
        if decoded is not None:
            return decoded[0], reported_name(decoded[1])
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            if bom_codec == "utf-8":
                return body[len(bom) :].decode("utf-8", errors="replace"), "utf-8"
            return body.decode(bom_codec, errors="replace"), bom_codec
    codec = _meta_charset(body)
    if codec is not None:
        decoded = _decode_declared(body, codec)
        if decoded is not None:
            return decoded[0], reported_name(decoded[1])
    text, codec = _detect(body)
    return text, reported_name(codec)
