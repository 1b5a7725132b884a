"""The standfirst: the lead paragraph between a news page's headline and its body, which trafilatura skips.

News sites and magazines print a summary paragraph (standfirst, lead, dek, "Vorspann", "chapô", "bajada")
under the headline, often in its own header box (``div.lead``, ``p.article-excerpt``, ``h2`` in an
``hgroup``, ``div.field--name-field-abstract``). trafilatura picks the body container and leaves that box out,
although readers, and the gold of trafilatura's own evaluation, count it as the article's first paragraph.

The rule is positional, not a class name: a block of prose (a sentence, few links, not a caption or page
chrome) that lies after the page's ``h1`` and before the first paragraph trafilatura kept, close to both.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml.html import HtmlElement

from extraction.text_cleanup import noise_rule, norm

_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "blockquote",
        "section",
        "header",
        "hgroup",
        "span",
        "td",
    }
)
_INLINE_TAGS = frozenset(
    {"a", "b", "strong", "em", "i", "span", "abbr", "q", "small", "sup", "sub", "time", "br"}
)
# Captions, page chrome and metadata boxes are never a standfirst.
_NEVER_UNDER = frozenset(
    {"figure", "figcaption", "nav", "aside", "footer", "form", "button", "label", "ul", "ol"}
)
# Picture captions under the headline's photo carry a credit line ("© AFP", "(Foto: dpa)").
_CREDIT = re.compile(
    r"©|\((?:foto|photo|bild|image|credit|quelle|source)s?\b|\b(?:foto|photo|bild|credit)s?\s*:", re.I
)
_MIN_CHARS = 60
_MIN_WORDS = 8
_MAX_CHARS = 1200
_MAX_LINK_SHARE = 0.2
_SENTENCE_END = (".", "!", "?", "…", "؟", "»", "“", "”", '"', ")")
# The standfirst sits near both ends: at most this many blocks with text between the headline and the body.
_MAX_BLOCKS_BETWEEN = 12
_KEY_CHARS = 30


def _own_text(element: HtmlElement) -> str:
    """The element's text without its block children: its text, inline children and children's tails."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and child.tag in _INLINE_TAGS:
            parts.append(child.text_content())
        parts.append(child.tail or "")
    return norm(" ".join(parts))


def standfirst(root: HtmlElement, paragraphs: list[str], title: str | None) -> list[str]:
    """Lead paragraphs to put before ``paragraphs`` (trafilatura's), in document order; often none."""
    body = root.find(".//body")
    if body is None or not paragraphs:
        return []
    title_key = norm(title or "")
    first = next((norm(p) for p in paragraphs if len(norm(p)) >= _KEY_CHARS and norm(p) != title_key), None)
    if first is None:
        return []
    key = first[:_KEY_CHARS]
    blocks: list[tuple[HtmlElement, str]] = []
    headline = -1
    start = -1
    start_element = body
    for element in body.iter(etree.Element):
        tag = element.tag
        if tag == "h1":
            headline = len(blocks)
            blocks.append((element, ""))
            continue
        if not isinstance(tag, str) or tag not in _BLOCK_TAGS:
            continue
        text = _own_text(element)
        if not text:
            continue
        if key in text:
            start, start_element = len(blocks), element
            break
        blocks.append((element, text))
    if headline < 0 or start < 0:
        return []
    between = [(e, t) for e, t in blocks[headline + 1 :] if t]
    if len(between) > _MAX_BLOCKS_BETWEEN:
        return []
    known = {norm(p) for p in paragraphs}
    # Containers around the headline or the body say nothing about one block between them.
    shared = {id(a) for end in (blocks[headline][0], start_element) for a in end.iterancestors()}
    leads: list[str] = []
    for element, text in between:
        if _is_lead(element, text, shared) and text not in known and text != title_key:
            leads.append(text)
    return leads


def _is_lead(element: HtmlElement, text: str, shared: set[int]) -> bool:
    if not _MIN_CHARS <= len(text) <= _MAX_CHARS or len(text.split()) < _MIN_WORDS:
        return False
    if not text.endswith(_SENTENCE_END) and len(text) < 2 * _MIN_CHARS:
        return False
    if _CREDIT.search(text):
        return False
    for node in (element, *element.iterancestors()):
        if id(node) in shared:
            break
        if node.tag in _NEVER_UNDER:
            return False
    links = sum(len(norm(a.text_content())) for a in element.iter("a"))
    if links > _MAX_LINK_SHARE * len(text):
        return False
    return noise_rule(text, arabic_page=False) is None
