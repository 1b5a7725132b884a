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
_CREDIT_BESIDE = 80
_MIN_CHARS = 60
_MIN_WORDS = 8
_MAX_CHARS = 1200
_MAX_LINK_SHARE = 0.2
_SENTENCE_END = (".", "!", "?", "…", "؟", "»", "“", "”", '"', ")")
# The standfirst sits near both ends: at most this many blocks of prose length between the headline and the
# body (bylines, dates and share labels in between are short).
_MAX_BLOCKS_BETWEEN = 6
_KEY_CHARS = 30
_NON_WORD = re.compile(r"\W+")


def _own_text(element: HtmlElement) -> str:
    """The element's text without its block children: its text, inline children and children's tails."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and child.tag in _INLINE_TAGS:
            parts.append(child.text_content())
        parts.append(child.tail or "")
    return norm(" ".join(parts))


def _loose(text: str) -> str:
    """Letters and digits only, case-folded: a headline compared across its dashes and quotes."""
    return _NON_WORD.sub("", text.casefold())


def _is_prose(text: str) -> bool:
    return _MIN_CHARS <= len(text) <= _MAX_CHARS and len(text.split()) >= _MIN_WORDS


def standfirst(root: HtmlElement, paragraphs: list[str], title: str | None) -> tuple[int, list[str]]:
    """Lead paragraphs trafilatura left out, and the index in ``paragraphs`` to put them before."""
    body = root.find(".//body")
    if body is None or not paragraphs:
        return 0, []
    headlines = {_loose(title)} if title else set()
    headlines |= {_loose(h.text_content()) for h in body.iter("h1")}
    # The body's first paragraph: prose trafilatura kept that is not the headline, a caption or furniture.
    at = next(
        (
            i
            for i, p in enumerate(paragraphs)
            if _is_prose(norm(p))
            and _loose(p) not in headlines
            and noise_rule(norm(p), arabic_page=False) is None
            and not _CREDIT.search(p)
        ),
        None,
    )
    if at is None:
        return 0, []
    key = norm(paragraphs[at])[:_KEY_CHARS]
    blocks: list[tuple[HtmlElement, str]] = []
    headline = -1
    start_element = None
    for element in body.iter(etree.Element):
        tag = element.tag
        if not isinstance(tag, str) or (tag not in _BLOCK_TAGS and tag != "h1"):
            continue
        text = _own_text(element)
        if tag == "h1" or (text and _loose(text) in headlines):
            headline = len(blocks)  # the last headline before the body (a hidden site-name h1 comes first)
            blocks.append((element, ""))
            continue
        if not text:
            continue
        if key in text:
            start_element = element
            break
        blocks.append((element, text))
    if headline < 0 or start_element is None:
        return 0, []
    between = [(e, t) for e, t in blocks[headline + 1 :] if t]
    if sum(1 for _, t in between if len(t) >= _MIN_CHARS) > _MAX_BLOCKS_BETWEEN:
        return 0, []
    known = {norm(p) for p in paragraphs}
    # Containers around the headline or the body say nothing about one block between them.
    shared = {id(a) for end in (blocks[headline][0], start_element) for a in end.iterancestors()}
    leads: list[str] = []
    box = None
    for element, text in between:
        if text in known or not _is_lead(element, text, shared):
            continue
        if box is not None and element.getparent() is not box:
            break  # one standfirst box: its paragraphs share a parent
        box = element.getparent()
        leads.append(text)
    return at, leads


def _is_lead(element: HtmlElement, text: str, shared: set[int]) -> bool:
    if not _is_prose(text):
        return False
    if not text.endswith(_SENTENCE_END) and len(text) < 2 * _MIN_CHARS:
        return False
    if _CREDIT.search(text):
        return False  # a caption with its credit
    parent = element.getparent()
    if parent is not None:
        box = norm(parent.text_content())
        if len(box) <= len(text) + _CREDIT_BESIDE and _CREDIT.search(box):
            return False  # a caption line, its credit beside it
    for node in (element, *element.iterancestors()):
        if id(node) in shared:
            break
        if node.tag in _NEVER_UNDER:
            return False
    links = sum(len(norm(a.text_content())) for a in element.iter("a"))
    if links > _MAX_LINK_SHARE * len(text):
        return False
    return noise_rule(text, arabic_page=False) is None
