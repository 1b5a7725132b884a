"""Page metadata shared by the extractors: ``<meta>`` values, JSON-LD, the article type, language, canonical URL.

Titles and authors are read in ``extraction.titles``, publication dates in ``extraction.published``.
The language is read from the text (share of Arabic script among letters) with the ``<html lang>`` attribute
as a hint for non-Arabic text.
"""

import json
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

from lxml.html import HtmlElement

logger = logging.getLogger(__name__)
_WS = re.compile(r"\s+")
_ARABIC_LETTER = re.compile(r"[\u0621-\u064a\u0671-\u06d3]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")

_ARTICLE_TYPES = frozenset(
    {"article", "newsarticle", "reportagenewsarticle", "blogposting", "analysisnewsarticle"}
)


def norm_space(text: str) -> str:
    """Collapse whitespace runs to one space."""
    return _WS.sub(" ", text).strip()


def meta_values(root: HtmlElement) -> dict[str, str]:
    """``<meta>`` name/property/itemprop -> content (lower-cased keys, first occurrence wins)."""
    values: dict[str, str] = {}
    for meta in root.iter("meta"):
        content = meta.get("content")
        if not content:
            continue
        for attr in ("property", "name", "itemprop"):
            key = meta.get(attr)
            if key:
                values.setdefault(key.strip().lower(), content.strip())
    return values


def json_ld(root: HtmlElement) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page, flattened out of lists and ``@graph``."""
    objects: list[dict[str, Any]] = []
    for script in root.iter("script"):
        if (script.get("type") or "").lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except ValueError:
            logger.debug("unparseable JSON-LD block skipped")
            continue
        objects.extend(_flatten_ld(data))
    return objects


def _flatten_ld(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _flatten_ld(item)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _flatten_ld(data["@graph"])


def ld_types(obj: dict[str, Any]) -> set[str]:
    value = obj.get("@type")
    types = value if isinstance(value, list) else [value]
    return {str(t).lower() for t in types if t}


def is_article_page(metas: dict[str, str], ld: list[dict[str, Any]]) -> bool:
    """Whether the page declares itself an article (og:type or JSON-LD type)."""
    if metas.get("og:type", "").lower() == "article":
        return True
    return any(ld_types(obj) & _ARTICLE_TYPES for obj in ld)


# --- language and canonical URL -------------------------------------------------------------------------


def detect_language(text: str, lang_hint: str | None) -> str:
    """ "ar" when Arabic script dominates the letters; else the page's lang hint, else "und"."""
    arabic = len(_ARABIC_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    if arabic and arabic >= latin:
        return "ar"
    hint = (lang_hint or "").strip().lower().replace("_", "-").split("-")[0]
    if hint and hint != "ar":
        return hint
    if latin > arabic:
        return "en" if not hint else "und"
    return "und"


def canonical_url(root: HtmlElement, metas: dict[str, str], url: str) -> str:
    """``<link rel=canonical>``, then og:url, resolved against the page URL; the URL itself otherwise."""
    candidates = [
        link.get("href", "").strip()
        for link in root.iter("link")
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href")
    ]
    for href in (*candidates[:1], metas.get("og:url")):
        if not href:
            continue
        try:
            return urljoin(url, href)
        except ValueError:  # an unparseable href ("https://[bad]/") is no canonical URL
            continue
    return url
