"""Layout tables of old (2000s) Arabic news templates become ``<div>`` blocks before trafilatura.

Sites built on table layouts (ASP/PHP portals of that era) put the header, the menu, the article and the
footer into cells of nested tables; left as tables, trafilatura exports each row as one line.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

# Table parts renamed to <div> when a table only lays out the page.
_TABLE_PARTS = ("table", "thead", "tbody", "tfoot", "tr", "td", "th")
# A table cell holding this much text, or this many paragraphs, is page layout, not tabular data.
_LAYOUT_CELL_CHARS = 400
_LAYOUT_CELL_BLOCKS = 2
_BLOCK_CHILDREN = ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote")
_WS = re.compile(r"\s+")


def _text_len(element: HtmlElement) -> int:
    return len(_WS.sub(" ", element.text_content()).strip())


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
