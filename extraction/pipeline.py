"""HTML bytes -> ``Article`` | ``NoArticle``: decode, parse once, read metadata, clean the DOM, run
trafilatura (default mode, comments excluded), split into paragraphs, add the standfirst trafilatura left
out (``extraction.standfirst``), clean the text.

Also ``extract_feed_entry`` for a feed description that carries a whole body (often escaped HTML): the
crawler prefers the page's own body and falls back to this.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime

import trafilatura
from lxml import etree
from lxml.html import HtmlElement, HTMLParser, document_fromstring
from trafilatura.utils import repair_faulty_html
from trafilatura.xml import xmltotxt

from extraction.cleanup import Removal, clean_dom, clean_paragraphs
from extraction.dates import parse_arabic_date, to_iso
from extraction.encoding import decode_html
from extraction.metadata import (
    canonical_url,
    detect_language,
    is_article_page,
    json_ld,
    meta_values,
    norm_space,
)
from extraction.models import (
    REASON_BINARY,
    REASON_EMPTY_BODY,
    REASON_INTERNAL_ERROR,
    REASON_NO_MAIN_TEXT,
    REASON_NOT_HTML,
    REASON_SECTION_PAGE,
    REASON_TOO_SHORT,
    REASON_UNPARSEABLE,
    Article,
    NoArticle,
)
from extraction.published import extract_published
from extraction.standfirst import standfirst
from extraction.titles import extract_author, extract_title

logger = logging.getLogger(__name__)

# An article needs at least this much clean text (characters, paragraphs joined); a page that declares itself
# an article (og:type, JSON-LD) this much: a blog's one-line post or short dialogue is still its article.
MIN_TEXT_CHARS = 120
MIN_DECLARED_TEXT_CHARS = 60
# A page whose extracted text is mostly the text of links to other pages is a listing.
SECTION_LINK_SHARE = 0.5
# Link texts at least this long count as headlines of other articles.
HEADLINE_LINK_CHARS = 20
SECTION_MIN_TEASER_ARTICLES = 4
# A listing without <article> teasers: this many bare dateline paragraphs (one under each headline link).
SECTION_MIN_DATELINES = 3
DATELINE_MAX_CHARS = 40
# Paragraphs this long that are not link text are prose; this much prose, half the text, is an article.
PROSE_PARAGRAPH_CHARS = 150
PROSE_MIN_CHARS = 400

_BINARY_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"ID3",
    b"OggS",
    b"RIFF",
    b"\x00\x00\x01\x00",
    b"wOFF",
    b"wOF2",
    b"\x7fELF",
    b"fLaC",
    b"BZh",
    b"\xfd7zXZ",
)
_HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")
_HTML_SNIFF = re.compile(r"<(?:!doctype\s+html|html|head|body|p|div|article|meta|title)\b", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")

# trafilatura's own block elements: inside a table cell each is a paragraph of its own.
_TRAFILATURA_BLOCKS = frozenset({"p", "head", "list", "quote", "code", "table"})
_BLOCK_TAGS = (
    "p",
    "div",
    "br",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "blockquote",
    "section",
    "article",
    "tr",
    "figcaption",
    "pre",
)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _is_binary(body: bytes) -> bool:
    if body.startswith(_BINARY_MAGIC):
        return True
    head = body[:1024]
    # UTF-16/32 text has NULs too; a BOM says it is text.
    return b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff"))


def _parse(text: str) -> HtmlElement | None:
    text = _XML_DECLARATION.sub("", text, count=1)
    # trafilatura's own loader repairs the same way: characters XML cannot hold, and a DOCTYPE line that makes
    # libxml2 drop the page's structure (lxml bug 1955915).
    text = repair_faulty_html(text, text[:50].lower())
    parser = HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
    try:
        return document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError) as error:
        logger.debug("unparseable HTML: %s", error)
        return None


def _trafilatura_paragraphs(root: HtmlElement, url: str, favor_precision: bool) -> list[str]:
    document = trafilatura.bare_extraction(
        root,
        url=url or None,
        favor_precision=favor_precision,
        include_comments=False,
        include_tables=True,
        include_images=False,
        with_metadata=False,
    )
    body = getattr(document, "body", None)
    if body is None:
        return []
    paragraphs: list[str] = []
    for child in body:
        paragraphs.extend(_block_paragraphs(child))
    return paragraphs


def _block_paragraphs(element: etree._Element) -> list[str]:
    tail = [element.tail] if element.tail and element.tail.strip() else []
    if element.tag == "list":
        return [line for item in element.iter("item") for line in _split_lines(item)] + tail
    if element.tag == "table":
        return _table_paragraphs(element) + tail
    # trafilatura's own text conversion (with tails and line breaks), one line a paragraph.
    return xmltotxt(element, include_formatting=False).split("\n")


def _table_paragraphs(table: etree._Element) -> list[str]:
    # A row of short cells is one line ("name | value"); a cell holding paragraphs keeps them apart.
    paragraphs: list[str] = []
    for row in _children(table, "row"):
        cells: list[str] = []
        for cell in _children(row, "cell"):
            if not any(child.tag in _TRAFILATURA_BLOCKS for child in cell):
                if text := norm_space("".join(cell.itertext())):
                    cells.append(text)
                continue
            if cells:
                paragraphs.append(" ".join(cells))
                cells = []
            if cell.text and cell.text.strip():
                paragraphs.append(cell.text)
            for child in cell:
                paragraphs.extend(_block_paragraphs(child))
                if child.tail and child.tail.strip():
                    paragraphs.append(child.tail)
        if cells:
            paragraphs.append(" ".join(cells))
    return paragraphs


def _children(element: etree._Element, tag: str) -> list[etree._Element]:
    # Direct children only (also under a stray tbody-like wrapper): nested tables are walked on their own.
    found: list[etree._Element] = []
    for child in element:
        if child.tag == tag:
            found.append(child)
        elif child.tag not in ("row", "cell", "table"):
            found.extend(c for c in child if c.tag == tag)
    return found


def _split_lines(element: etree._Element) -> list[str]:
    # trafilatura keeps <br> inside a paragraph as <lb/>: each is a paragraph break in the source.
    for lb in element.iter("lb"):
        lb.tail = "\n" + (lb.tail or "")
    return "".join(element.itertext()).split("\n")


def _headline_links(root: HtmlElement) -> set[str]:
    texts: set[str] = set()
    for anchor in root.iter("a"):
        text = norm_space(anchor.text_content())
        if len(text) >= HEADLINE_LINK_CHARS:
            texts.add(text)
    return texts


def _looks_like_section(
    paragraphs: list[str], headline_links: set[str], teaser_articles: int, declared_article: bool
) -> bool:
    total = sum(len(p) for p in paragraphs) or 1
    linked = sum(len(p) for p in paragraphs if p in headline_links)
    if linked >= SECTION_LINK_SHARE * total:
        return True
    # Prose that is not link text: an article, whatever teasers its sidebars hold.
    prose = sum(len(p) for p in paragraphs if len(p) >= PROSE_PARAGRAPH_CHARS and p not in headline_links)
    if prose >= PROSE_MIN_CHARS and prose >= 0.5 * total:
        return False
    if declared_article:
        return False
    if teaser_articles >= SECTION_MIN_TEASER_ARTICLES:
        return True
    # Old listings print each teaser as a headline link over a bare dateline.
    datelines = sum(1 for p in paragraphs if len(p) <= DATELINE_MAX_CHARS and parse_arabic_date(p))
    if datelines >= SECTION_MIN_DATELINES and linked >= 0.2 * total:
        return True
    return linked >= 0.3 * total and len(headline_links) >= 10


@dataclass(frozen=True)
class Options:
    """Stages of ``extract`` that can be switched off, for the ablation in ``bench/ablation.py``."""

    favor_precision: bool = False
    dom_cleanup: bool = True
    paragraph_cleanup: bool = True
    safety_net: bool = True
    standfirst: bool = True


DEFAULT_OPTIONS = Options()


def extract(
    body: bytes,
    url: str,
    headers: Mapping[str, str] | None = None,
    options: Options = DEFAULT_OPTIONS,
    trace: list[Removal] | None = None,
) -> Article | NoArticle:
    """Extract the article from one fetched page; never raises.

    ``headers`` are the HTTP response headers (only Content-Type is read). Returns ``NoArticle`` with an
    explicit reason, never an Article with empty text; a bug on some page is logged and gives
    ``NoArticle(reason="extraction-error")``. ``trace`` (if given) receives what each clean-up stage removed.
    """
    try:
        return _extract(body, url, headers, options, trace if trace is not None else [])
    except Exception:  # a bad page is logged, counted and skipped, never a crash
        logger.exception("extraction failed on %s", url)
        return NoArticle(url, REASON_INTERNAL_ERROR)


def _text_stage(raw: list[str], title: str | None, options: Options, trace: list[Removal]) -> list[str]:
    if not options.paragraph_cleanup:
        return [text for p in raw if (text := norm_space(p))]
    dropped: list[tuple[str, str]] = []
    paragraphs = clean_paragraphs(raw, title=title, trace=dropped)
    trace.extend(Removal("text", rule, text[:80], len(text)) for rule, text in dropped)
    return paragraphs


def _with_standfirst(root: HtmlElement, raw: list[str], title: str | None) -> list[str]:
    at, leads = standfirst(root, raw, title)
    return raw[:at] + leads + raw[at:] if leads else raw


def _extract(
    body: bytes, url: str, headers: Mapping[str, str] | None, options: Options, trace: list[Removal]
) -> Article | NoArticle:
    if not body or not body.strip():
        return NoArticle(url, REASON_EMPTY_BODY)
    if _is_binary(body):
        return NoArticle(url, REASON_BINARY)
    content_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
    if content_type and not content_type.startswith(_HTML_TYPES):
        return NoArticle(url, REASON_NOT_HTML)
    text, encoding = decode_html(body, headers)
    if not _HTML_SNIFF.search(text):
        return NoArticle(url, REASON_NOT_HTML)
    root = _parse(text)
    if root is None:
        return NoArticle(url, REASON_UNPARSEABLE)

    metas = meta_values(root)
    ld = json_ld(root)
    title = extract_title(root, metas, ld, url)
    author = extract_author(root, metas, ld, url)
    published = extract_published(root, metas, ld, url, title)
    canonical = canonical_url(root, metas, url)
    lang_hint = root.get("lang") or metas.get("og:locale") or metas.get("content-language")
    declared_article = is_article_page(metas, ld)
    headline_links = _headline_links(root)
    teaser_articles = sum(1 for _ in root.iter("article"))
    teaser_articles = teaser_articles if teaser_articles > 1 else 0

    cleanup, note = "full", None
    if options.dom_cleanup:
        dom = clean_dom(root, safety_net=options.safety_net, title=title)
        trace.extend(dom.removals)
        if dom.fallback_reason:
            cleanup, note = "fallback", dom.fallback_reason
            trace.append(Removal("dom", "safety-net", dom.fallback_reason, 0))
    raw = _trafilatura_paragraphs(root, url, favor_precision=options.favor_precision)
    if options.standfirst:
        raw = _with_standfirst(root, raw, title)
    paragraphs = _text_stage(raw, title, options, trace)
    if sum(len(p) for p in paragraphs) < MIN_TEXT_CHARS and options.favor_precision:
        # Precision mode can drop a short article whole; recall mode gets a second chance.
        raw = _trafilatura_paragraphs(root, url, favor_precision=False)
        paragraphs = _text_stage(raw, title, options, trace)
    if not paragraphs:
        return NoArticle(url, REASON_SECTION_PAGE if len(headline_links) >= 10 else REASON_NO_MAIN_TEXT)
    if _looks_like_section(paragraphs, headline_links, teaser_articles, declared_article):
        return NoArticle(url, REASON_SECTION_PAGE)
    joined = "\n\n".join(paragraphs)
    if len(joined) < (MIN_DECLARED_TEXT_CHARS if declared_article else MIN_TEXT_CHARS):
        return NoArticle(url, REASON_TOO_SHORT)
    return Article(
        url=url,
        canonical_url=canonical,
        title=title,
        author=author,
        published=published,
        language=detect_language(joined, lang_hint),
        text=joined,
        paragraphs=paragraphs,
        encoding=encoding,
        cleanup=cleanup,
        cleanup_note=note,
    )


def normalise_published(value: str | None) -> str | None:
    """A feed date (RFC 822 ``pubDate``, ISO 8601 or an Arabic date) as ISO 8601, or None."""
    if not value or not value.strip():
        return None
    parsed: date | datetime | None = None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        parsed = parse_arabic_date(value)
    return to_iso(parsed) if parsed is not None else None


def _fragment_paragraphs(root: HtmlElement) -> list[str]:
    # Mark every block boundary with a newline, then split: works for <p> bodies and <br> bodies alike.
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
        if element.tag != "br":
            element.text = "\n" + (element.text or "")
    body = root.find(".//body")
    return (body if body is not None else root).text_content().split("\n")


def extract_feed_entry(
    html_fragment: str, url: str, title: str | None = None, published: str | None = None
) -> Article | NoArticle:
    """Build an Article from a feed description holding a whole body (escaped HTML is unescaped first)."""
    fragment = (html_fragment or "").strip()
    if not fragment:
        return NoArticle(url, REASON_EMPTY_BODY)
    if "&lt;" in fragment and "<" not in fragment.replace("&lt;", ""):
        fragment = html.unescape(fragment)
    root = _parse(f"<html><body><article>{fragment}</article></body></html>")
    if root is None:
        return NoArticle(url, REASON_UNPARSEABLE)
    clean_dom(root)
    clean_title = norm_space(title) if title else None
    paragraphs = clean_paragraphs(_fragment_paragraphs(root), title=clean_title)
    joined = "\n\n".join(paragraphs)
    if not paragraphs:
        return NoArticle(url, REASON_NO_MAIN_TEXT)
    if len(joined) < MIN_TEXT_CHARS:
        return NoArticle(url, REASON_TOO_SHORT)
    return Article(
        url=url,
        canonical_url=url,
        title=clean_title,
        author=None,
        published=normalise_published(published),
        language=detect_language(joined, None),
        text=joined,
        paragraphs=paragraphs,
        encoding="utf-8",
    )
