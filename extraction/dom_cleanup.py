"""The DOM stage of the clean-up: boilerplate containers go before trafilatura sees the page.

A container is removed only with evidence beyond its name: it is a non-content element (``nav``, ``footer``,
``form`` ...), or its class/id names a boilerplate family (token match, ``extraction.hints``) and it lies
outside the main content block, or, inside that block, it is link-dense or a short label. Paragraphs of the
main block are never removed on a hint alone, and a container holding the article is never removed.

The stage first plans its removals, then applies them, unless they would take more than
``SAFETY_NET_SHARE`` of the main block's text: then nothing is removed and the result says why (the record's
``cleanup: "fallback"``). Every removal is reported as a ``Removal`` (rule, element, characters) for
``scrapy extract --explain``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from lxml.html import HtmlElement

from extraction.hints import STRUCTURAL_FAMILIES, boilerplate_family
from extraction.tables import unwrap_layout_tables
from extraction.text_cleanup import is_block_heading, norm

# Containers never removed on a hint alone: they may hold the article.
_PROTECTED_TAGS = frozenset({"html", "body", "main", "article"})
_PROTECT_TEXT_SHARE = 0.4
# Non-content elements of every template (HTML5 page chrome, forms, scripts' fallbacks, old tickers).
_UNCOUNTED_RULES = frozenset({"hint:embed", "tag:button", "tag:select", "tag:template"})
_CONTROL_TAGS = frozenset({"button", "select", "noscript", "template", "dialog"})
_DROP_TAGS = (
    "noscript",
    "nav",
    "footer",
    "aside",
    "form",
    "button",
    "select",
    "template",
    "dialog",
    "marquee",
)
# Inside the main block a hinted container goes only when this link-dense, or a label this short.
_LINK_DENSE = 0.6
_LABEL_CHARS = 40
# The clean-up may take at most this share of the main block's text; more, and it stands down.
SAFETY_NET_SHARE = 0.25
_PARAGRAPH_TAGS = ("p", "div", "li", "blockquote", "h2", "h3", "h4", "td")
_INLINE_TAGS = ("a", "b", "strong", "em", "i", "span")
_PROSE_PARAGRAPH = 100
# An embedded post (a tweet, an Instagram caption) inside the article is a quoted statement when its own text
# is this long; shorter ones ("🔥", "Big news!") are furniture.
_QUOTED_PROSE_CHARS = 60
# A paragraph this long (characters, words) under a boilerplate heading is a sentence, not a teaser headline.
_SENTENCE_CHARS = 60
_SENTENCE_WORDS = 8
# Families whose containers hold prose (comment threads, author bios, teaser excerpts): they are boilerplate
# only after the article starts, in document order. A live ticker's "comment" items before it are content.
_AFTER_BODY_FAMILIES = frozenset({"comments", "related", "author-box"})
# Elements that may carry the headline's text (an h1 is protected anyway), and the shortest title matched.
_HEADLINE_TAGS = ("h1", "h2", "h3", "p", "div", "span", "header", "strong")
_HEADLINE_MIN_CHARS = 12


@dataclass(frozen=True)
class Removal:
    """What a clean-up stage removed: the rule, the element (``div.class#id``) or text, and its size."""

    stage: str
    rule: str
    element: str
    chars: int

    def as_dict(self) -> dict[str, object]:
        return {"stage": self.stage, "rule": self.rule, "element": self.element, "chars": self.chars}


@dataclass
class DomResult:
    removals: list[Removal]
    fallback_reason: str | None = None


def _text_len(element: HtmlElement) -> int:
    # Characters without whitespace: as good a size for the shares below, and C-speed on big pages.
    return len("".join(element.text_content().split()))


def describe(element: HtmlElement) -> str:
    """``div.post-share#top``: the tag with its class and id, for the explain output."""
    label = str(element.tag)
    if cls := " ".join((element.get("class") or "").split()):
        label += "." + cls.replace(" ", ".")[:60]
    if ident := (element.get("id") or "").strip():
        label += "#" + ident[:40]
    return label


def main_block(body: HtmlElement) -> HtmlElement | None:
    """The element whose paragraphs hold the most text (its children's count, half its grandchildren's)."""
    scores: dict[HtmlElement, float] = {}
    for element in body.iter(*_PARAGRAPH_TAGS):
        text = element.text or ""
        own = len(text.strip()) + sum(len((c.tail or "").strip()) for c in element)
        own += sum(len(c.text_content()) for c in element if c.tag in _INLINE_TAGS)
        if own < 60:
            continue
        parent = element.getparent()
        if parent is not None:
            scores[parent] = scores.get(parent, 0) + own
            grandparent = parent.getparent()
            if grandparent is not None:
                scores[grandparent] = scores.get(grandparent, 0) + own / 2
    if not scores:
        return None
    return max(scores, key=scores.__getitem__)


def _has_prose(element: HtmlElement, text: int) -> bool:
    """Two or more long paragraphs and few links: an article's text, whatever the container is called."""
    if text < 2 * _PROSE_PARAGRAPH or _link_share(element, text) >= 0.3:
        return False
    long_blocks = 0
    for block in element.iter(*_PARAGRAPH_TAGS):
        if len((block.text or "").strip()) >= _PROSE_PARAGRAPH:
            long_blocks += 1
            if long_blocks >= 2:
                return True
    return False


def _link_share(element: HtmlElement, text: int) -> float:
    if text == 0:
        return 1.0
    links = sum(_text_len(a) for a in element.iter("a"))
    return links / text


def _holds_article(element: HtmlElement, total: int, main: HtmlElement | None) -> bool:
    if main is not None and (element is main or any(a is element for a in main.iterancestors())):
        return True
    if total > 400 and _text_len(element) >= _PROTECT_TEXT_SHARE * total:
        return True
    if element.find(".//article") is not None or element.find(".//h1") is not None:
        return True
    long_paragraphs = 0
    for paragraph in element.iter("p"):
        if len(paragraph.text_content()) > 80:
            long_paragraphs += 1
            if long_paragraphs >= 3:
                return True
    return False


def _inside(element: HtmlElement, main: HtmlElement | None) -> bool:
    return main is not None and any(a is main for a in element.iterancestors())


def _headline_holders(body: HtmlElement, title: str | None) -> set[HtmlElement]:
    """The elements holding the page's headline: an element (not a link, list item or menu) whose text
    is the title. Themes put the headline block (headline, standfirst, date) in a "sidebar" or "widget"
    column beside the body (magazine layouts, Drupal regions); a container holding it is the article's header.
    """
    key = _headline_key(title or "")
    if len(key) < _HEADLINE_MIN_CHARS:
        return set()
    # The elements themselves, not their ids: lxml keeps one proxy per node only while it is referenced.
    holders: set[HtmlElement] = set()
    for element in body.iter(*_HEADLINE_TAGS):
        text = element.text or ""
        if not text.strip() or _headline_key(text)[:12] != key[:12]:  # a cheap prefilter on the own text
            continue
        if _headline_key(element.text_content()) != key:
            continue
        if any(a.tag in ("a", "li", "nav") for a in element.iterancestors()):
            continue  # a teaser link or the last crumb of a breadcrumb trail
        holders.update(element.iterancestors())
    return holders


def _headline_key(text: str) -> str:
    return norm(text).strip(" .,:;،؛").casefold()


class _Planner:
    def __init__(self, body: HtmlElement, title: str | None = None) -> None:
        self.body = body
        self.total = max(_text_len(body), 1)
        self.main = main_block(body)
        self.main_chars = _text_len(self.main) if self.main is not None else 0
        self.headline = _headline_holders(body, title)
        self.planned: list[tuple[HtmlElement, str]] = []
        self._ids: set[int] = set()

    def covered(self, element: HtmlElement) -> bool:
        if id(element) in self._ids:
            return True
        return any(id(a) in self._ids for a in element.iterancestors())

    def add(self, element: HtmlElement, rule: str) -> None:
        if element.getparent() is None or self.covered(element):
            return
        self.planned.append((element, rule))
        self._ids.add(id(element))

    def removed_from_main(self) -> int:
        """Prose the plan takes from the main block: its text minus link text, embeds and controls aside."""
        removed = 0
        for element, rule in self.planned:
            if rule in _UNCOUNTED_RULES or not _inside(element, self.main):
                continue
            removed += max(0, _text_len(element) - sum(_text_len(a) for a in element.iter("a")))
        return removed


def clean_dom(root: HtmlElement, *, safety_net: bool = True, title: str | None = None) -> DomResult:
    """Remove boilerplate containers from a parsed page in place; return what was removed (or why not).

    ``title`` (the page's title, if known) marks the headline: a hinted container holding it stays.
    """
    body = root.find(".//body")
    if body is None:
        body = root
    unwrap_layout_tables(body)
    plan = _Planner(body, title)
    for element in body.iter(*_DROP_TAGS):
        if _holds_article(element, plan.total, plan.main):
            continue
        if _inside(element, plan.main):
            if element.tag in _CONTROL_TAGS or _is_furniture(element):
                plan.add(element, f"tag:{element.tag}")
        elif element.tag != "form" or not _has_prose(element, _text_len(element)):
            plan.add(element, f"tag:{element.tag}")  # a shop's product form may hold the description
    order: dict[HtmlElement, int] = {}
    for element in body.iter(etree.Element):
        if element.tag in _PROTECTED_TAGS or not isinstance(element.tag, str):
            continue
        value = f"{element.get('class', '')} {element.get('id', '')}"
        if len(value) < 3:
            continue
        family = boilerplate_family(value)
        if family is None or plan.covered(element) or _holds_article(element, plan.total, plan.main):
            continue
        if element in plan.headline:
            continue  # the article's header column, whatever the theme calls it
        if _inside(element, plan.main):
            if _is_furniture(element) or (family in STRUCTURAL_FAMILIES and not _quoted_prose(element)):
                plan.add(element, f"hint:{family}")
            continue  # inside the article a name alone is no evidence
        text = _text_len(element)
        if _has_prose(element, text):
            continue  # page-builder "widgets" and shop descriptions hold articles too
        if (
            family in _AFTER_BODY_FAMILIES
            and not _is_furniture(element)
            and _before(element, plan.main, order)
        ):
            continue
        plan.add(element, f"hint:{family}")
    _plan_headed_blocks(plan)
    removed_main = plan.removed_from_main()
    if safety_net and plan.main_chars and removed_main > SAFETY_NET_SHARE * plan.main_chars:
        rules = sorted({rule for e, rule in plan.planned if _inside(e, plan.main)})
        reason = (
            f"DOM clean-up would remove {removed_main} of the main block's {plan.main_chars} characters "
            f"({', '.join(rules)}); kept trafilatura's text"
        )
        return DomResult([], reason)
    removals = []
    for element, rule in plan.planned:
        removals.append(Removal("dom", rule, describe(element), len(norm(element.text_content()))))
        element.drop_tree()
    return DomResult(removals)


def _before(element: HtmlElement, main: HtmlElement | None, order: dict[HtmlElement, int]) -> bool:
    """Whether ``element`` starts before the main block in document order (the order is built once)."""
    if main is None:
        return False
    if not order:
        order.update((e, i) for i, e in enumerate(main.getroottree().iter()))
    return order.get(element, 0) < order.get(main, 0)


def _quoted_prose(element: HtmlElement) -> bool:
    """An embedded post whose own words are a statement: the article quotes it (its chrome goes later)."""
    words = " ".join(p.text_content() for p in element.iter("p")) or element.text_content()
    return len(norm(words)) >= _QUOTED_PROSE_CHARS


def _is_furniture(element: HtmlElement) -> bool:
    """Inside the article: a link list or a short label (a share bar, an ad slot's "إعلان"), not prose."""
    text = _text_len(element)
    if text <= _LABEL_CHARS and element.tag != "p":
        return True
    return _link_share(element, text) >= _LINK_DENSE and element.tag not in ("p", "blockquote")


_HEADING_TAGS = ("h2", "h3", "h4", "h5", "h6", "div", "p", "span", "strong", "b", "section", "header")


def _plan_headed_blocks(plan: _Planner) -> None:
    """Blocks introduced by a boilerplate heading ("شاهد أيضاً", "اترك تعليقاً") with their teaser links."""
    body, total = plan.body, plan.total
    # Match on an element's own leading text first, so the scan stays linear on big pages.
    candidates = [
        el
        for el in body.iter(*_HEADING_TAGS)
        if el.text
        and len(el.text) < 60
        and is_block_heading(norm(el.text))
        and is_block_heading(norm(el.text_content()))
    ]
    for heading in candidates:
        if plan.covered(heading):
            continue
        # The smallest ancestor that holds the whole block (heading + its links), if it is small; never the
        # main block (a short article would go with its "اقرأ أيضا" box).
        block = heading
        for _ in range(3):
            parent = block.getparent()
            if parent is None or parent is body or parent.tag in _PROTECTED_TAGS or parent is plan.main:
                break
            if _holds_article(parent, total, plan.main):
                break
            if _text_len(parent) > 1500 or _text_len(parent) >= 0.3 * total:
                break
            block = parent
        if block is heading:
            following = heading.getnext()
            if following is None or not _link_dense(following):
                # No separable block: the text stage decides (it sees the heading's position in the text).
                continue
            plan.add(following, "heading-block")
        elif _text_len(block) == _text_len(heading):
            # The heading sits alone in its own row or box; its teaser links are the siblings that follow.
            for sibling in _link_dense_siblings(block):
                plan.add(sibling, "heading-block")
        elif not _link_dense_below(block, heading):
            continue  # the heading's box holds prose, not teaser links
        elif _holds_sentence(block, heading):
            # "Mehr zum Thema / Further information: <a sentence of the article> <a list of links>": the
            # sentence is the author's; only the box's link lists go.
            for child in block:
                if not _holds_sentence(child, heading) and _text_len(child) and _link_dense(child):
                    plan.add(child, "heading-block")
            continue
        plan.add(block, "heading-block")


def _holds_sentence(element: HtmlElement, heading: HtmlElement) -> bool:
    """A paragraph of prose without links in ``element``, outside the heading (or the heading's own row)."""
    if element is heading or any(a is element for a in heading.iterancestors()):
        return any(_holds_sentence(child, heading) for child in element if child is not heading)
    for block in element.iter("p", "div", "li"):
        if block.find(".//a") is not None or any(a is heading for a in block.iterancestors()):
            continue
        text = norm(block.text_content())
        if len(text) >= _SENTENCE_CHARS and len(text.split()) >= _SENTENCE_WORDS:
            return True
    return False


def _link_dense_below(block: HtmlElement, heading: HtmlElement) -> bool:
    rest = _text_len(block) - _text_len(heading)
    if rest <= 0:
        return True
    links = sum(_text_len(a) for a in block.iter("a")) - sum(_text_len(a) for a in heading.iter("a"))
    return links >= 0.5 * rest


def _link_dense_siblings(block: HtmlElement) -> list[HtmlElement]:
    siblings: list[HtmlElement] = []
    following = block.getnext()
    while following is not None and _text_len(following) and _link_dense(following):
        if (block.tail or "").strip() or (siblings and (siblings[-1].tail or "").strip()):
            break  # loose text between the rows is not part of a link list
        siblings.append(following)
        following = following.getnext()
    return siblings


def _link_dense(element: HtmlElement) -> bool:
    text = _text_len(element)
    return text == 0 or _link_share(element, text) >= _LINK_DENSE
