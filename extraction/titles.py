"""Titles (without the site suffix) and authors from a parsed page.

Site names stripped from titles come from metadata, the host, the page's copyright line and logo, and the
headline may be bold text (old templates without ``<h1>``).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from extraction.metadata import ld_types, norm_space

logger = logging.getLogger(__name__)

_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:»«•·~/]\s+|\s*\|\s*|\s+::\s+")
_SEPARATOR_AT_END = re.compile(rf"(?:{_TITLE_SEPARATORS.pattern})$")
# "جميع الحقوق محفوظة © 2003-2021 شبكة المنارة" / "© 2021 Al Wasat. All rights reserved": the owner is the site.
_COPYRIGHT = re.compile(
    r"©|\(c\)|copyright|جميع الحقوق محفوظة|كل الحقوق محفوظة|حقوق النشر محفوظة|الحقوق محفوظة|"
    r"all rights reserved",
    re.IGNORECASE,
)
_COPYRIGHT_NOISE = re.compile(
    rf"{_COPYRIGHT.pattern}|(?<!\d)(?:19|20)\d\d(?:\s*[-–]\s*(?:19|20)\d\d)?(?!\d)|[|]",
    re.IGNORECASE,
)
_COPYRIGHT_OWNER = re.compile(r"^(?:لموقع|لـ\s*|ل(?=شبكة|موقع|صحيفة|جريدة|وكالة|قناة)|ل\s|to\s|by\s)", re.I)
_HOME_WORDS = frozenset({"الرئيسية", "الصفحة الرئيسية", "home", "logo", "الشعار", "شعار"})
# Inline emphasis that old templates use for the headline instead of <h1>.
_HEADLINE_TAGS = ("h1", "h2", "h3", "b", "strong", "font", "big")
_HEADLINE_MIN_CHARS = 10
_AUTHORISH = re.compile(r"author|byline|writer|kateb|katib")
_AUTHOR_PREFIX = re.compile(
    r"^(?:بقلم|كتب|كتبت|الكاتب|الكاتبة|إعداد|اعداد|تحرير|by)\s*[:：]?\s*", re.IGNORECASE
)

_AUTHOR_META = ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author", "byl")
_TITLE_META = ("og:title", "twitter:title")
_ARTICLE_TYPES = frozenset(
    {"article", "newsarticle", "reportagenewsarticle", "blogposting", "analysisnewsarticle"}
)


# --- title ----------------------------------------------------------------------------------------------


def site_names(metas: dict[str, str], url: str) -> set[str]:
    """Names a site may append to titles: og:site_name, application-name, host labels."""
    names = {
        metas.get(k, "") for k in ("og:site_name", "application-name", "twitter:site", "al:android:app_name")
    }
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    labels = [
        label for label in host.split(".") if label not in ("www", "com", "net", "org", "ly", "ar", "news")
    ]
    names.update(labels)
    names.add(host)
    return {n.strip().lstrip("@").lower() for n in names if n and n.strip()}


def page_site_names(root: HtmlElement) -> set[str]:
    """Names the page itself prints for its site: the copyright line, the logo's alt/title text."""
    names: set[str] = set()
    body = root.find(".//body")
    for text in (body if body is not None else root).itertext():
        if len(text) > 200 or not _COPYRIGHT.search(text):
            continue
        name = norm_space(_COPYRIGHT_NOISE.sub(" ", text)).strip(" .,،-–|:")
        name = _COPYRIGHT_OWNER.sub("", name)
        if 4 <= len(name) <= 60 and len(name.split()) <= 6:
            names.add(name.lower())
    for anchor in root.iter("a"):
        if _href_path(anchor.get("href")) not in ("/", "/index.php", "/index.html", "/index.htm"):
            continue
        for element in (anchor, *anchor.iter("img")):
            for attr in ("title", "alt"):
                value = norm_space(element.get(attr) or "")
                if 4 <= len(value) <= 60 and value not in _HOME_WORDS:
                    names.add(value.lower())
    return names


def _href_path(href: str | None) -> str | None:
    # Real pages carry hrefs urlsplit rejects ("https://[ccpa-preferences]/"): not a home link.
    try:
        return urlsplit(href or "").path
    except ValueError:
        return None


def _is_site_part(part: str, names: set[str]) -> bool:
    lowered = part.strip().lower()
    if not lowered:
        return True
    return any(lowered == n or (len(n) > 3 and (n in lowered or lowered in n)) for n in names)


def strip_site_suffix(title: str, names: set[str], headline: str | None = None) -> str:
    """Remove a site name prefix or suffix ("TITLE - الواحة", "site | TITLE") from a page title."""
    title = norm_space(title)
    if headline:
        headline = norm_space(headline)
        if (
            len(headline) >= 10
            and title != headline
            and (title.startswith(headline) or title.endswith(headline))
        ):
            return headline
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    separators = _TITLE_SEPARATORS.findall(title)
    while len(parts) > 1 and _is_site_part(parts[-1], names):
        parts.pop()
        separators.pop()
    while len(parts) > 1 and _is_site_part(parts[0], names):
        parts.pop(0)
        separators.pop(0)
    if len(parts) > 1:
        # An unknown short trailing segment after a long title is a site name we could not match.
        last = parts[-1].split()
        rest = " ".join(parts[:-1]).split()
        if len(last) <= 3 and len(rest) >= 4 and separators[-1].strip() in ("|", "-", "–", "—"):
            parts.pop()
            separators.pop()
    rebuilt = parts[0]
    for sep, part in zip(separators, parts[1:], strict=False):
        rebuilt += sep + part
    return rebuilt.strip()


def extract_title(root: HtmlElement, metas: dict[str, str], ld: list[dict[str, Any]], url: str) -> str | None:
    """The article headline without the site's name."""
    h1 = None
    for element in root.iter("h1"):
        text = norm_space(element.text_content())
        if len(text) >= 10:
            h1 = text
            break
    headline = next(
        (
            norm_space(str(o["headline"]))
            for o in ld
            if isinstance(o.get("headline"), str) and ld_types(o) & _ARTICLE_TYPES
        ),
        None,
    )
    raw = next((metas[k] for k in _TITLE_META if metas.get(k)), None)
    if raw is None:
        title_element = root.find(".//title")
        if title_element is not None and title_element.text_content().strip():
            raw = title_element.text_content()
    names = site_names(metas, url) | page_site_names(root)
    if raw:
        return strip_site_suffix(raw, names, headline or h1 or _emphasised_headline(root, raw, names)) or None
    return headline or h1


def _emphasised_headline(root: HtmlElement, raw_title: str, names: set[str]) -> str | None:
    """The bold/large text that is the <title> minus a site name: the headline of <h1>-less templates.

    The longest such text wins; one that is a known site name (the header's logo text) never does.
    """
    title = norm_space(raw_title)
    best: str | None = None
    for element in root.iter(*_HEADLINE_TAGS):
        if not element.text and not len(element):
            continue
        text = norm_space(element.text_content())
        if len(text) < _HEADLINE_MIN_CHARS or text == title or (best and len(text) <= len(best)):
            continue
        # The text must be a whole segment of the title: the rest starts or ends with a separator.
        if title.startswith(text):
            whole = _TITLE_SEPARATORS.match(title[len(text) :]) is not None
        elif title.endswith(text):
            whole = _SEPARATOR_AT_END.search(title[: -len(text)]) is not None
        else:
            continue
        if not whole or _is_site_part(text, names):
            continue
        best = text
    return best


# --- author ---------------------------------------------------------------------------------------------


def _clean_author(value: str, not_names: set[str]) -> str | None:
    value = _AUTHOR_PREFIX.sub("", norm_space(value))
    if not value or "http" in value or "www." in value or len(value) > 80:
        return None
    lowered = value.lower()
    # Publishers put their own name in the author fields; that is not a byline.
    if any(lowered == name or (len(name) > 3 and lowered in name) for name in not_names):
        return None
    return value


def _title_segments(root: HtmlElement, metas: dict[str, str]) -> set[str]:
    raws = [metas.get(k, "") for k in _TITLE_META]
    title_element = root.find(".//title")
    if title_element is not None:
        raws.append(title_element.text_content())
    segments: set[str] = set()
    for raw in raws:
        parts = _TITLE_SEPARATORS.split(norm_space(raw))
        if len(parts) > 1:
            segments.update(p.strip().lower() for p in (parts[0], parts[-1]) if p.strip())
    return segments


def extract_author(
    root: HtmlElement, metas: dict[str, str], ld: list[dict[str, Any]], url: str = ""
) -> str | None:
    """The byline: JSON-LD author, then author meta tags, then a rel=author / byline element.

    Names of the site itself (og:site_name, host labels, title prefixes/suffixes) are not authors.
    """
    not_names = site_names(metas, url) | _title_segments(root, metas)
    for obj in ld:
        if not ld_types(obj) & _ARTICLE_TYPES:
            continue
        author = obj.get("author")
        authors = author if isinstance(author, list) else [author]
        names = []
        for item in authors:
            name = item.get("name") if isinstance(item, dict) else item
            if isinstance(name, str) and (cleaned := _clean_author(name, not_names)):
                names.append(cleaned)
        if names:
            return ", ".join(names)
    for key in _AUTHOR_META:
        if metas.get(key) and (cleaned := _clean_author(metas[key], not_names)):
            return cleaned
    for element in root.iter("a", "span", "div", "p"):
        if element.get("rel") == "author" or _AUTHORISH.search(
            f"{element.get('class', '')} {element.get('itemprop', '')}".lower()
        ):
            text = norm_space(element.text_content())
            if 2 <= len(text) <= 60 and (cleaned := _clean_author(text, not_names)):
                return cleaned
    return None
