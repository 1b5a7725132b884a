"""Decide from a page's HTML whether a browser is needed to see its content.

``JsGateDetector.detect(html, url)`` answers a ``GateVerdict``: gated or not, and why. It looks at content
only (no Scrapy, no network): the text a reader would see (``<noscript>``, scripts, styles and templates
excluded), the scripts on the page and a few well-known challenge markers. It parses once with lxml and
reads at most ``max_bytes`` of the document, so it is cheap enough to run on every HTML response.

Reasons, checked in this order:

- ``challenge-marker``: a bot-challenge *page* (Cloudflare "Just a moment...", ``window._cf_chl_opt``,
  ``/cdn-cgi/challenge-platform/h/``, DDoS-Guard, Sucuri, "Checking your browser", or an inline script that
  sets a cookie and reloads) with almost no visible text. A challenge beacon on a full article (Cloudflare's
  JSD ``/cdn-cgi/challenge-platform/scripts/jsd/main.js``) is not a challenge page.
- ``js-notice``: "please enable JavaScript" (English or Arabic) in the *visible* text of a page without an
  article's worth of text. The same notice inside ``<noscript>`` (Drupal SecKit and many themes) is ignored.
- ``app-shell``: an empty application container (``<div id="app"></div>``, ``#root``, ``#__next``, ...)
  with scripts and almost no text.
- ``too-short``: scripts and far too little non-link text for any article page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import lxml.html
from lxml import etree

__all__ = ["GateVerdict", "JsGateDetector"]

# Elements whose text a reader never sees.
_HIDDEN_TAGS = frozenset(
    {"script", "style", "noscript", "template", "head", "title", "meta", "link", "svg", "iframe", "object"}
)
_APP_SHELL_IDS = frozenset(
    {
        "app",
        "root",
        "__next",
        "__nuxt",
        "___gatsby",
        "svelte",
        "main-app",
        "app-root",
        "react-root",
        "vue-app",
    }
)
_APP_SHELL_TAGS = frozenset({"app-root", "my-app"})

_NOTICE_RE = re.compile(
    r"(?:enable|turn\s+on|activate)\s+javascript"
    r"|javascript\s+(?:is\s+)?(?:required|disabled|must\s+be\s+enabled)"
    r"|(?:يرجى|الرجاء|رجاء|يجب|من\s+فضلك|يُرجى)\s+(?:تفعيل|تمكين)\s+(?:ال)?جافا\s*سكري?بت",
    re.IGNORECASE,
)
# Arabic diacritics and tatweel, removed before matching notices.
_ARABIC_MARKS_RE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_SPACE_RE = re.compile(r"\s+")

# Markers that only appear on challenge/interstitial pages (never on a protected site's normal pages).
_CHALLENGE_MARKERS: tuple[str, ...] = (
    "window._cf_chl_opt",
    "/cdn-cgi/challenge-platform/h/",
    'id="challenge-form"',
    "cf-browser-verification",
    "cf_chl_",
    "check.ddos-guard.net",
    "ddos-guard",
    "sucuri_cloudproxy_js",
    "sucuri website firewall",
    "checking your browser",
    "just a moment...",
    "ddos protection by",
)
_COOKIE_RELOAD_RE = re.compile(
    r"document\.cookie\s*=.*?(?:location\.reload|location\.replace|location\.href\s*=|location\s*=|"
    r"location\.assign)",
    re.IGNORECASE | re.DOTALL,
)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_NON_JS_SCRIPT_TYPES = frozenset({"application/ld+json", "application/json", "text/template", "text/html"})


@dataclass(frozen=True)
class GateVerdict:
    """Whether a page needs a browser, and the rule that said so."""

    gated: bool
    reason: str | None = None


_NOT_GATED = GateVerdict(False, None)


@dataclass(frozen=True)
class _PageFacts:
    visible_text: str
    non_link_chars: int
    scripts: int
    inline_scripts: str
    empty_app_container: bool


_HIDDEN_BLOCKS_RE = re.compile(r"<(noscript|template|script|style)\b.*?</\1\s*>", re.I | re.S)
_PARAGRAPH_RE = re.compile(r"<p\b[^>]*>(.*?)</p\s*>", re.I | re.S)
# The fast path's scanner: the next hidden block's opening tag, or the next paragraph.
_HIDDEN_OR_PARAGRAPH_RE = re.compile(
    r"<(noscript|template|script|style)\b|<p\b[^>]*>(.*?)</p\s*>", re.I | re.S
)
_BLOCK_END_RE = {
    name: re.compile(rf"</{name}\s*>", re.I) for name in ("noscript", "template", "script", "style")
}
_LINK_RE = re.compile(r"<a\b.*?</a\s*>", re.I | re.S)
_TAG_RE = re.compile(r"<[^>]+>")


class JsGateDetector:
    """Content-based detector of pages that only show their content to a JavaScript-running browser.

    ``min_text_chars``: below this much visible non-link text a page with scripts is ``too-short``;
    ``article_text_chars``: a page with at least this much non-link text is an article whatever notices or
    markers it also carries; ``max_bytes``: how much of the document is examined.
    """

    def __init__(
        self, *, min_text_chars: int = 150, article_text_chars: int = 500, max_bytes: int = 2_000_000
    ) -> None:
        if min_text_chars < 0 or article_text_chars < min_text_chars or max_bytes <= 0:
            raise ValueError(
                "JsGateDetector needs 0 <= min_text_chars <= article_text_chars and max_bytes > 0, got "
                f"{min_text_chars}, {article_text_chars}, {max_bytes}"
            )
        self.min_text_chars = min_text_chars
        self.article_text_chars = article_text_chars
        self.max_bytes = max_bytes

    def detect(self, html: str | bytes, url: str) -> GateVerdict:
        """Decide whether ``html`` (the page at ``url``) must be rendered to show its content."""
        text = self._decode(html)
        if not text.strip():
            return _NOT_GATED
        if self._plainly_an_article(text):
            return _NOT_GATED
        facts = self._facts(text, url)
        if facts is None:
            return _NOT_GATED
        is_article = facts.non_link_chars >= self.article_text_chars
        if is_article:
            return _NOT_GATED
        lowered = text.lower()
        if (
            any(marker in lowered for marker in _CHALLENGE_MARKERS)
            and facts.non_link_chars < self.min_text_chars
        ):
            return GateVerdict(True, "challenge-marker")
        if (
            facts.scripts
            and _COOKIE_RELOAD_RE.search(facts.inline_scripts)
            and (facts.non_link_chars < self.min_text_chars)
        ):
            return GateVerdict(True, "challenge-marker")
        normalised = _ARABIC_MARKS_RE.sub("", facts.visible_text)
        if _NOTICE_RE.search(normalised):
            return GateVerdict(True, "js-notice")
        if facts.scripts and facts.empty_app_container and facts.non_link_chars < self.min_text_chars:
            return GateVerdict(True, "app-shell")
        if facts.scripts and facts.non_link_chars < self.min_text_chars and len(facts.visible_text) < 1000:
            return GateVerdict(True, "too-short")
        return _NOT_GATED

    def _plainly_an_article(self, text: str) -> bool:
        """Fast path without a parse: paragraphs holding twice the article threshold of plain text.

        Every page gets this check on the crawler's reactor thread, most of them ordinary articles; the
        full parse is kept for the pages that are not plainly articles. Paragraphs inside ``<noscript>`` or
        ``<template>`` do not count, and neither does link text. The scan stops as soon as the paragraphs
        seen hold enough text, so an article costs about the markup before its body.
        """
        chars = 0
        position = 0
        while True:
            match = _HIDDEN_OR_PARAGRAPH_RE.search(text, position)
            if match is None:
                return False
            block = match.group(1)
            if block is not None:
                end = _BLOCK_END_RE[block.lower()].search(text, match.end())
                if end is None:
                    return False  # an unclosed <script> hides the rest of the page
                position = end.end()
                continue
            paragraph = _HIDDEN_BLOCKS_RE.sub(" ", match.group(2))
            chars += len(_TAG_RE.sub("", _LINK_RE.sub("", paragraph)).strip())
            if chars >= 2 * self.article_text_chars:
                return True
            position = match.end()

    def _decode(self, html: str | bytes) -> str:
        if isinstance(html, str):
            return html[: self.max_bytes]
        data = html[: self.max_bytes]
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            # Cut mid-character or another charset: let lxml's own sniffing (meta charset) decide.
            try:
                root = lxml.html.document_fromstring(data)
            except (etree.ParserError, ValueError):
                return data.decode("utf-8", errors="replace")
            return etree.tostring(root, encoding="unicode", method="html")

    def _facts(self, text: str, url: str) -> _PageFacts | None:
        try:
            root = lxml.html.document_fromstring(_XML_DECL_RE.sub("", text, count=1), base_url=url)
        except (etree.ParserError, ValueError):
            return None
        scripts = 0
        inline: list[str] = []
        for script in root.iter("script"):
            if (script.get("type") or "").strip().lower() in _NON_JS_SCRIPT_TYPES:
                continue
            scripts += 1
            if script.text:
                inline.append(script.text)
        visible, non_link = _visible_text(root)
        return _PageFacts(
            visible_text=visible,
            non_link_chars=non_link,
            scripts=scripts,
            inline_scripts="\n".join(inline),
            empty_app_container=_has_empty_app_container(root),
        )


def _visible_text(root: lxml.html.HtmlElement) -> tuple[str, int]:
    """The page's visible text (normalised spaces) and how many of its characters are outside links."""
    parts: list[str] = []
    non_link = 0
    hidden_depth = 0
    link_depth = 0

    def add(fragment: str | None) -> None:
        nonlocal non_link
        if not fragment or hidden_depth:
            return
        cleaned = _SPACE_RE.sub(" ", fragment).strip()
        if not cleaned:
            return
        parts.append(cleaned)
        if not link_depth:
            non_link += len(cleaned)

    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start":
            if tag in _HIDDEN_TAGS or not tag:
                hidden_depth += 1
            elif tag == "a":
                link_depth += 1
            if tag and tag not in _HIDDEN_TAGS:
                add(element.text)
        else:
            if tag in _HIDDEN_TAGS or not tag:
                hidden_depth -= 1
            elif tag == "a":
                link_depth -= 1
            add(element.tail)
    return " ".join(parts), non_link


def _has_empty_app_container(root: lxml.html.HtmlElement) -> bool:
    candidates: Iterable[lxml.html.HtmlElement] = root.iter(*_APP_SHELL_TAGS, "div", "main", "section")
    for element in candidates:
        tag = element.tag if isinstance(element.tag, str) else ""
        is_container = tag in _APP_SHELL_TAGS or (element.get("id") or "").lower() in _APP_SHELL_IDS
        if is_container and len(_SPACE_RE.sub("", element.text_content())) < 50:
            return True
    return False
