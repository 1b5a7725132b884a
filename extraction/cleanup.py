"""Arabic news boilerplate removal: in the DOM before trafilatura, and on the paragraphs after it.

Each defect class an older pipeline let through (see ``../shared/seeds``) has a rule here:

- notices: "Sorry, you need to enable JavaScript...", "يرجى تفعيل جافا سكريبت", cookie banners, copyright
  footers ("جميع الحقوق محفوظة");
- page tools: "نسخة للطباعة | أرسل الخبر لصديق | عدد القراءات: 137";
- old table-layout pages: layout tables become plain blocks before trafilatura, so its content scoring
  (not its table export, which glues every cell of a row into one line) picks the article; ``<marquee>``
  tickers go;
- breadcrumbs: "الرئيسية » قسم » عنوان" (also "/", ">", "›", "|" separators);
- related/teaser blocks: "شاهد أيضاً", "اقرأ أيضاً", "مواضيع ذات صلة", "أخبار ذات صلة", "المزيد من ...";
- author boxes and bios: "عن الكاتب", "عن <name>" followed by a bio at the end of the text;
- comment forms and notes: "اترك تعليقاً", "لن يتم نشر عنوان بريدك الإلكتروني", "الحقول الإلزامية ...";
- share strings: "شارك على فيسبوك", "تويتر", "واتساب" ...;
- markup leaks: leftover tags ``<p>``, escaped HTML ``&lt;p&gt;``, attribute fragments
  (``" class="main-news-image img``);
- repeated paragraphs (the whole body twice) and the title repeated as the first paragraph.

Words of the article are never rewritten: rules drop whole paragraphs, or cut a leaked tag/attribute out of
one. All patterns are anchored or bounded so that cleaning stays linear in the text length.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable

from lxml import etree
from lxml.html import HtmlElement

logger = logging.getLogger(__name__)

# --- DOM stage ------------------------------------------------------------------------------------------

# class/id fragments of boilerplate containers (matched against lower-cased class and id values).
_BOILERPLATE_HINT = re.compile(
    r"breadcrumb|share|sharing|social|related|author-?box|about-?author|author-?bio|author-?info|"
    r"comment|respond|newsletter|cookie|consent|gdpr|read-?more|more-?news|most-?read|popular|"
    r"post-?nav|navigation|pagination|sidebar|widget|tags-?list|post-?tags|advert|\bads?\b|banner|"
    r"subscribe|jp-relatedposts|yarpp|addtoany|a2a|sharedaddy|print-?button|noscript",
)
# Containers never removed on a hint alone: they may hold the article.
_PROTECTED_TAGS = frozenset({"html", "body", "main", "article"})
_PROTECT_TEXT_SHARE = 0.4
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
# Table parts renamed to <div> when a table only lays out the page.
_TABLE_PARTS = ("table", "thead", "tbody", "tfoot", "tr", "td", "th")
# A table cell holding this much text, or this many paragraphs, is page layout, not tabular data.
_LAYOUT_CELL_CHARS = 400
_LAYOUT_CELL_BLOCKS = 2
_BLOCK_CHILDREN = ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote")

_WS = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _text_len(element: HtmlElement) -> int:
    return len(_norm(element.text_content()))


def _remove(element: HtmlElement) -> None:
    """Remove an element but keep its tail text in the document."""
    parent = element.getparent()
    if parent is None:
        return
    element.drop_tree()


def clean_dom(root: HtmlElement) -> int:
    """Remove boilerplate containers from a parsed page in place; return how many were removed.

    Removes non-content elements (``noscript``, ``nav``, ``footer``, ``aside``, ``form`` ...), containers
    whose class or id says breadcrumb/share/related/author box/comments/cookie, and blocks introduced by a
    boilerplate heading ("شاهد أيضاً", "اترك تعليقاً" ...). A container holding most of the page's text is
    never removed on a hint alone.
    """
    body = root.find(".//body")
    if body is None:
        body = root
    unwrap_layout_tables(body)
    total = max(_text_len(body), 1)
    removed = 0
    for element in list(body.iter(*_DROP_TAGS)):
        if element.getparent() is not None and not _holds_article(element, total):
            _remove(element)
            removed += 1
    for element in list(body.iter(etree.Element)):
        if element.getparent() is None or element.tag in _PROTECTED_TAGS:
            continue
        hint = f"{element.get('class', '')} {element.get('id', '')}".lower()
        if len(hint) < 3 or not _BOILERPLATE_HINT.search(hint):
            continue
        # The element may already be detached with an ancestor; is it still in the tree?
        if not _attached(element, body):
            continue
        if _holds_article(element, total):
            continue
        _remove(element)
        removed += 1
    removed += _remove_headed_blocks(body, total)
    return removed


def unwrap_layout_tables(root: HtmlElement) -> int:
    """Turn tables that lay out the page (not tabular data) into ``<div>`` blocks; return how many.

    Old sites put the header, the menu, the article and the footer into cells of nested tables. Left as
    tables, trafilatura keeps them all and exports each row as one line, so the article's paragraphs are
    glued together and the menu comes along. As blocks, its content scoring picks the article.
    A table is layout when it nests in or holds another table, says ``role="presentation"``, or has a cell
    with several paragraphs or a long text; one with ``<th>``, ``<thead>`` or ``<caption>`` is data.
    """
    layout = [table for table in root.iter("table") if _is_layout_table(table)]
    for table in layout:
        for part in _own_table_parts(table):
            part.tag = "div"
            for attr in ("colspan", "rowspan"):
                part.attrib.pop(attr, None)
        table.tag = "div"
    return len(layout)


def _own_table_parts(table: HtmlElement) -> list[HtmlElement]:
    # Rows and cells of this table only: a nested table is judged on its own.
    parts: list[HtmlElement] = []
    stack = list(table)
    while stack:
        element = stack.pop()
        if not isinstance(element.tag, str) or element.tag not in _TABLE_PARTS or element.tag == "table":
            continue
        parts.append(element)
        if element.tag not in ("td", "th"):
            stack.extend(element)
    return parts


def _is_layout_table(table: HtmlElement) -> bool:
    parts = _own_table_parts(table)
    if table.find("caption") is not None or any(p.tag in ("th", "thead") for p in parts):
        return False
    if (table.get("role") or "").lower() in ("presentation", "none"):
        return True
    if table.find(".//table") is not None:
        return True
    if any(ancestor.tag == "table" for ancestor in table.iterancestors()):
        return True
    for cell in parts:
        if cell.tag != "td":
            continue
        blocks = sum(1 for _ in cell.iter(*_BLOCK_CHILDREN)) + _double_breaks(cell)
        if blocks >= _LAYOUT_CELL_BLOCKS or _text_len(cell) >= _LAYOUT_CELL_CHARS:
            return True
    return False


def _double_breaks(cell: HtmlElement) -> int:
    # "text<br><br>text": the paragraph separator of template-era bodies.
    return sum(
        1
        for br in cell.iter("br")
        if not (br.tail or "").strip() and (nxt := br.getnext()) is not None and nxt.tag == "br"
    )


def _holds_article(element: HtmlElement, total: int) -> bool:
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


def _attached(element: HtmlElement, body: HtmlElement) -> bool:
    node: HtmlElement | None = element
    while node is not None:
        if node is body:
            return True
        node = node.getparent()
    return False


def _remove_headed_blocks(body: HtmlElement, total: int) -> int:
    removed = 0
    # Match on an element's own leading text first, so the scan stays linear on big pages.
    candidates = [
        el
        for el in body.iter(
            "h2", "h3", "h4", "h5", "h6", "div", "p", "span", "strong", "b", "section", "header"
        )
        if el.text
        and len(el.text) < 60
        and _is_block_heading(_norm(el.text))
        and _is_block_heading(_norm(el.text_content()))
    ]
    for heading in candidates:
        if not _attached(heading, body):
            continue
        # The smallest ancestor that holds the whole block (heading + its links), if it is small.
        block = heading
        for _ in range(3):
            parent = block.getparent()
            if parent is None or parent is body or parent.tag in _PROTECTED_TAGS:
                break
            if _text_len(parent) > 1500 or _text_len(parent) >= 0.3 * total:
                break
            block = parent
        if block is heading:
            following = heading.getnext()
            if following is None or not _link_dense(following):
                # No separable block: the text stage decides (it sees the heading's position in the text).
                continue
            _remove(following)
        elif _text_len(block) == _text_len(heading):
            # The heading sits alone in its own row or box; its teaser links are the siblings that follow.
            for sibling in _link_dense_siblings(block):
                _remove(sibling)
        _remove(block)
        removed += 1
    return removed


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
    if text == 0:
        return True
    links = sum(len(_norm(a.text_content())) for a in element.iter("a"))
    return links >= 0.6 * text


# --- text stage -----------------------------------------------------------------------------------------

_SEP_CHARS = "»«>›‹/|\\-–—"
_BREADCRUMB = re.compile(
    rf"^\s*(?:الرئيسية|الصفحة الرئيسية|الرئيسيه|home)\s*[{re.escape(_SEP_CHARS)}]\s*\S", re.IGNORECASE
)
_NOTICE = re.compile(
    r"enable javascript|javascript (?:is )?(?:disabled|required)|turn on javascript|"
    r"تفعيل (?:ال)?جافا ?سكريبت|تمكين (?:ال)?جافا ?سكريبت|تفعيل javascript|"
    r"we use cookies|this (?:web)?site uses cookies|by continuing to (?:use|browse)|accept (?:all )?cookies|"
    r"ملفات تعريف الارتباط|الكوكيز|سياسة ملفات|"
    r"لن يتم نشر عنوان بريدك|الحقول الإلزامية|الحقول المطلوبة|your email address will not be published|"
    r"required fields are marked|يجب أن تكون مسجل الدخول|"
    r"ترحب شبكة \S+ بالنقاش|الآراء الواردة أدناه|التعليقات المنشورة لا تعبر|"
    r"جميع الحقوق محفوظة|all rights reserved|حقوق النشر محفوظة",
    re.IGNORECASE,
)
# Page tools around an article: print view, send to a friend, a read/view counter, font size.
_PAGE_TOOL = re.compile(
    r"(?:نسخة للطباعة|نسخة مطبوعة|طباعة الخبر|طباعة المقال|اطبع الخبر|طباعة|اطبع|"
    r"أرسل|ارسل|إرسال|ارسال)(?:\s+(?:الخبر|المقال|الموضوع|الصفحة))?(?:\s+(?:لصديق|إلى صديق|الى صديق))?|"
    r"(?:عدد\s+)?(?:القراءات|المشاهدات|الزيارات|الزوار)\s*[:：]?\s*[\d٠-٩,٬.]*|"
    r"(?:قرأ|شاهد)\s*[:：]?\s*[\d٠-٩,٬.]+\s*(?:مرة|مرات)?|"
    r"تكبير الخط|تصغير الخط|حجم الخط|تغيير حجم الخط|أضف للمفضلة|اضف للمفضلة|"
    r"print(?:er[- ]friendly)?(?: version)?|send to a friend|e-?mail this|views?\s*[:：]?\s*[\d,]*|"
    r"[\s|•·/\-–]+",
    re.IGNORECASE,
)
_TERMINAL_HEADINGS = (
    r"شاهد أيضاً|شاهد أيضا|شاهد ايضا|شاهد ايضاً|"
    r"مواضيع ذات صلة|أخبار ذات صلة|اخبار ذات صلة|مقالات ذات صلة|موضوعات ذات صلة|ذات صلة|"
    r"أخبار متعلقة|مواضيع متعلقة|قد يهمك أيضا|قد يهمك أيضاً|قد يعجبك أيضا|قد يعجبك أيضاً|"
    r"اترك تعليقاً|اترك تعليقا|اترك رداً|اترك ردا|أضف تعليق|أضف تعليقاً|إضافة تعليق جديد|اضف تعليق|"
    r"التعليقات|تعليقات|الأكثر قراءة|الأكثر مشاهدة|الأكثر تداولا|آخر الأخبار|أحدث الأخبار|"
    r"عن الكاتب|عن الكاتبة|نبذة عن الكاتب|عن المؤلف|حول الكاتب|"
    r"related posts|related articles|leave a reply|leave a comment|about the author"
)
_INLINE_HEADINGS = r"اقرأ أيضاً|اقرأ أيضا|إقرأ أيضاً|إقرأ أيضا|اقرأ ايضا|اقرأ ايضاً|طالع أيضاً|طالع أيضا|اقرأ المزيد|read more|read also"
_HEADING_TRAIL = r"\s*[:：.…،\-–]*\s*"
_TERMINAL = re.compile(rf"^(?:{_TERMINAL_HEADINGS}){_HEADING_TRAIL}$", re.IGNORECASE)
_INLINE = re.compile(rf"^(?:{_INLINE_HEADINGS}){_HEADING_TRAIL}$", re.IGNORECASE)
_INLINE_PREFIX = re.compile(rf"^(?:{_INLINE_HEADINGS})\s*[:：]", re.IGNORECASE)
_MORE_FROM = re.compile(r"^(?:المزيد من|more from)\s+\S+(?:\s+\S+){0,3}$", re.IGNORECASE)
# "عن يوسف رجب": an author box title (only honoured near the end of the text).
_ABOUT_NAME = re.compile(r"^عن\s+[\u0621-\u064a]+(?:\s+[\u0621-\u064a]+){0,3}$")
_SHARE_WORD = re.compile(
    r"شارك(?:ها)?|مشاركة|شارك على|شارك عبر|انشر|فيسبوك|فيس بوك|تويتر|واتساب|واتس اب|تيليجرام|تلغرام|"
    r"تليجرام|لينكدإن|لينكد إن|إنستغرام|انستغرام|يوتيوب|طباعة|البريد الإلكتروني|نسخ الرابط|"
    r"facebook|twitter|whatsapp|telegram|linkedin|instagram|pinterest|reddit|email|print|share|"
    r"messenger|copy link|[x𝕏]|على|عبر|[\s,،|:•·/\-–]+",
    re.IGNORECASE,
)
_LEAKED_TAG = re.compile(
    r"</?(?:p|div|span|br|hr|strong|em|b|i|u|a|img|figure|figcaption|h[1-6]|ul|ol|li|blockquote|section|"
    r"article|iframe|script|style|font|center|small|sup|sub|table|tr|td|th|tbody)\b[^<>]{0,500}?/?>",
    re.IGNORECASE,
)
_ESCAPED_MARKUP = re.compile(r"&(?:lt|gt|amp|quot|#\d{1,6}|#x[0-9a-f]{1,6}|nbsp|apos);", re.IGNORECASE)
_ATTR_NAMES = (
    r"class|id|style|src|srcset|href|alt|title|width|height|data-[\w-]{1,40}|rel|target|loading|sizes"
)
# `" class="main-news-image img` and `class="x" id="y">`: a run of attribute assignments.
_ATTR_LEAK = re.compile(
    rf"(?:^|(?<=\s)|(?<=\"))\"?\s*(?:(?:{_ATTR_NAMES})\s*=\s*\"[^\"\n]{{0,300}}(?:\"|$)\s*)+/?>?",
    re.IGNORECASE,
)
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_WORDISH = re.compile(r"[\w\u0600-\u06ff]")
_LATIN_SHORT = re.compile(r"^[A-Za-z]{1,12}$")
_TERMINAL_MAX_TAIL = 0.5
_TEASER_MAX_CHARS = 160


def _is_block_heading(text: str) -> bool:
    return bool(_TERMINAL.match(text) or _INLINE.match(text) or _MORE_FROM.match(text))


def strip_markup(text: str) -> str:
    """Cut leaked markup out of one paragraph: escaped HTML, leftover tags, attribute fragments."""
    if "&" in text and _ESCAPED_MARKUP.search(text):
        text = html.unescape(text)
    if "<" in text:
        text = _LEAKED_TAG.sub(" ", text)
    if "=" in text:
        text = _ATTR_LEAK.sub(" ", text)
    return text


def _is_share_line(text: str) -> bool:
    if len(text) > 120:
        return False
    return _SHARE_WORD.sub("", text).strip() == "" and _WORDISH.search(text) is not None


def _is_page_tools_line(text: str) -> bool:
    # Only the tools themselves: "أرسل" alone is a verb in a sentence, so a line needs two tools or a count.
    if len(text) > 120 or _PAGE_TOOL.sub("", text).strip():
        return False
    tools = [m for m in _PAGE_TOOL.findall(text) if m.strip(" |•·/-–")]
    return len(tools) >= 2 or any(c.isdigit() for c in text)


def _is_noise(text: str, arabic_page: bool) -> bool:
    if not _WORDISH.search(text):
        return True  # ".", "*", "—" and other punctuation-only lines
    if len(text) < 400 and _NOTICE.search(text):
        return True
    if len(text) < 400 and _BREADCRUMB.match(text):
        return True
    if _is_share_line(text) or _is_page_tools_line(text):
        return True
    if _INLINE_PREFIX.match(text) and len(text) < 250:
        return True
    if _MORE_FROM.match(text):
        return True
    # Language switchers ("enar", "EN") on an Arabic page.
    return bool(arabic_page and _LATIN_SHORT.match(text))


def _dedupe_key(text: str) -> str:
    return _norm(text).strip(" .،,:؛")


def clean_paragraphs(paragraphs: Iterable[str], title: str | None = None) -> list[str]:
    """Return the article's real paragraphs, in order, with every known boilerplate class removed."""
    candidates = [_norm(strip_markup(p.replace("\xa0", " "))) for p in paragraphs]
    candidates = [p for p in candidates if p]
    arabic_page = sum(len(_ARABIC.findall(p)) for p in candidates) > 0.3 * max(
        sum(len(p) for p in candidates), 1
    )
    kept: list[str] = []
    total_chars = sum(len(p) for p in candidates) or 1
    index = 0
    while index < len(candidates):
        text = candidates[index]
        if _TERMINAL.match(text) or _is_about_author(candidates, index):
            tail = sum(len(p) for p in candidates[index:])
            if kept and tail <= _TERMINAL_MAX_TAIL * total_chars:
                logger.debug("truncating at boilerplate heading %r", text)
                break
            index = _skip_teasers(candidates, index + 1)
            continue
        if _INLINE.match(text):
            index = _skip_teasers(candidates, index + 1, limit=1)
            continue
        if not _is_noise(text, arabic_page):
            kept.append(text)
        index += 1
    return _drop_repeats(kept, title)


def _is_about_author(candidates: list[str], index: int) -> bool:
    # "عن <name>" is an author box only after most of the text (a paragraph may legitimately be "عن ...").
    if index == 0 or not _ABOUT_NAME.match(candidates[index]):
        return False
    before = sum(len(p) for p in candidates[:index])
    return before >= 0.5 * sum(len(p) for p in candidates)


def _skip_teasers(candidates: list[str], index: int, limit: int = 6) -> int:
    """Skip the short headline/excerpt lines of a teaser block that starts at ``index``."""
    skipped = 0
    while index < len(candidates) and skipped < limit:
        text = candidates[index]
        # Teasers are headlines (no sentence-final stop) or excerpts cut with an ellipsis.
        headline = len(text) <= _TEASER_MAX_CHARS and not text.endswith((".", "!", "؟", "?", ":", "»", "”"))
        if not (headline or text.endswith(("…", "..."))):
            break
        index += 1
        skipped += 1
    return index


def _drop_repeats(paragraphs: list[str], title: str | None) -> list[str]:
    seen: set[str] = set()
    title_key = _dedupe_key(title) if title else None
    result: list[str] = []
    for text in paragraphs:
        key = _dedupe_key(text)
        if key in seen:
            continue
        if title_key and len(result) < 3 and key == title_key:
            continue  # the headline repeated at the top of the body
        seen.add(key)
        result.append(text)
    return result


def clean_text(text: str, title: str | None = None) -> str:
    """Clean a whole text (one paragraph per line) and return the paragraphs joined by a blank line."""
    return "\n\n".join(clean_paragraphs(text.splitlines(), title=title))
