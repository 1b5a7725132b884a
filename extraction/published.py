"""The publication date of a parsed page.

From page metadata first (``article:published_time``, JSON-LD ``datePublished``, ``itemprop``,
``<time datetime>``), then from visible Arabic dates in date-ish elements (``parse_arabic_date``), then from a
short dateline just after the headline, then from htmldate as a last resort.
"""

from __future__ import annotations

import logging
import re
from copy import deepcopy
from datetime import date, datetime
from typing import Any

from lxml import etree
from lxml.html import HtmlElement

from extraction.dates import parse_arabic_date, to_iso
from extraction.metadata import norm_space

logger = logging.getLogger(__name__)

_DATEISH = re.compile(
    r"date|time|publish|posted|created|byline|post-?meta|entry-?meta|article-?info|news-?info"
)
_HEADLINE_MIN_CHARS = 10
# How far (elements in document order) after the headline a visible date may sit.
_DATE_AFTER_HEADLINE = 40
_DATE_TEXT_MAX = 150

_DATE_META = (
    "article:published_time",
    "og:published_time",
    "article:published",
    "datepublished",
    "publishdate",
    "publish-date",
    "publish_date",
    "pubdate",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dcterms.created",
    "dc.date",
    "date",
    "article.published",
    "published-date",
    "cxenseparse:recs:publishtime",
)


# --- date -----------------------------------------------------------------------------------------------


def _published_from_metadata(
    root: HtmlElement, metas: dict[str, str], ld: list[dict[str, Any]]
) -> date | datetime | None:
    for obj in ld:
        value = obj.get("datePublished") or obj.get("dateCreated")
        if isinstance(value, str) and (parsed := parse_arabic_date(value)):
            return parsed
    for key in _DATE_META:
        if metas.get(key) and (parsed := parse_arabic_date(metas[key])):
            return parsed
    for element in root.iter("time", "span", "div", "abbr"):
        if element.tag != "time" and element.get("itemprop") != "datePublished":
            continue
        value = element.get("datetime") or element.get("content") or element.text_content()
        if value and (parsed := parse_arabic_date(value)):
            return parsed
    return None


def _published_from_visible(root: HtmlElement) -> date | datetime | None:
    for element in root.iter("span", "div", "p", "time", "li", "small", "em"):
        hint = f"{element.get('class', '')} {element.get('id', '')}".lower()
        if not _DATEISH.search(hint):
            continue
        text = element.text_content()
        if len(text) > 300:
            continue
        parsed = parse_arabic_date(text)
        if parsed is not None:
            return parsed
    return None


def _published_from_htmldate(root: HtmlElement, url: str) -> date | datetime | None:
    # Imported lazily: only pages without any usable date pay for it.
    from htmldate import find_date

    try:
        found = find_date(deepcopy(root), url=url or None, original_date=True, extensive_search=True)
    except ValueError:
        return None
    return parse_arabic_date(found) if found else None


def _published_near_headline(root: HtmlElement, headline: str | None) -> date | datetime | None:
    """A short visible date just after the headline (the dateline of templates without date classes)."""
    if not headline or len(headline) < _HEADLINE_MIN_CHARS:
        return None
    body = root.find(".//body")
    elements = list((body if body is not None else root).iter(etree.Element))
    start = next(
        (
            index
            for index, element in enumerate(elements)
            if element.tag != "a"
            and element.text
            and headline.startswith(norm_space(element.text)[:_HEADLINE_MIN_CHARS])
            and norm_space(element.text_content()) == headline
        ),
        None,
    )
    if start is None:
        return None
    inside = set(elements[start].iter())
    for element in elements[start + 1 : start + 1 + _DATE_AFTER_HEADLINE]:
        if element in inside or element.tag == "a" or any(a.tag == "a" for a in element.iterancestors()):
            continue
        text = norm_space(element.text_content())
        if not text or len(text) > _DATE_TEXT_MAX:
            continue
        parsed = parse_arabic_date(text)
        if parsed is not None:
            return parsed
    return None


def extract_published(
    root: HtmlElement, metas: dict[str, str], ld: list[dict[str, Any]], url: str, headline: str | None = None
) -> str | None:
    """The publication date as ISO 8601 (date or date-time), or None.

    ``headline`` (the extracted title) lets a visible dateline right after it count before htmldate's guess.
    """
    parsed = (
        _published_from_metadata(root, metas, ld)
        or _published_from_visible(root)
        or _published_near_headline(root, headline)
        or _published_from_htmldate(root, url)
    )
    return to_iso(parsed) if parsed is not None else None
