"""HTML -> clean Arabic article text and metadata (trafilatura plus an Arabic clean-up stage). No Scrapy.

Public API::

    from extraction import extract, Article, NoArticle
    extract(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> Article | NoArticle
    extract_feed_entry(html_fragment, url, title, published) -> Article | NoArticle
    decode_html(body, headers) -> (text, encoding)
    parse_arabic_date(text) -> date | datetime | None
"""

from __future__ import annotations

from extraction.dates import parse_arabic_date
from extraction.encoding import decode_html
from extraction.models import Article, NoArticle
from extraction.pipeline import extract, extract_feed_entry

__all__ = ["Article", "NoArticle", "decode_html", "extract", "extract_feed_entry", "parse_arabic_date"]
