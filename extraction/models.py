"""The two results of extraction: an ``Article`` with clean text and metadata, or a ``NoArticle`` with a reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Reasons a page yields no article (NoArticle.reason).
REASON_EMPTY_BODY = "empty-body"
REASON_BINARY = "binary-content"
REASON_NOT_HTML = "not-html"
REASON_UNPARSEABLE = "unparseable-html"
REASON_NO_MAIN_TEXT = "no-main-text"
REASON_TOO_SHORT = "too-short"
REASON_SECTION_PAGE = "section-page"
# A bug met on some page: logged with its traceback; the page is counted and skipped, never a crash.
REASON_INTERNAL_ERROR = "extraction-error"


@dataclass(frozen=True)
class Article:
    """Clean article text and metadata for one page.

    ``published`` is ISO 8601 ("2020-01-12" or "2020-01-12T10:30:00+02:00") or None; ``text`` is
    ``"\\n\\n".join(paragraphs)``.
    """

    url: str
    canonical_url: str
    title: str | None
    author: str | None
    published: str | None
    language: str
    text: str
    paragraphs: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    # "full": both clean-up stages applied; "fallback": the clean-up would have removed too much of the main
    # text, so the cautious result (trafilatura's text, paragraph clean-up only) was kept; cleanup_note says why.
    cleanup: str = "full"
    cleanup_note: str | None = None

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record (the crawler adds site, fetched_at, relevance, warc ...)."""
        return {
            "url": self.url,
            "canonical_url": self.canonical_url,
            "title": self.title,
            "author": self.author,
            "published": self.published,
            "language": self.language,
            "text": self.text,
            "paragraphs": list(self.paragraphs),
            "encoding": self.encoding,
            "cleanup": self.cleanup,
            "cleanup_note": self.cleanup_note,
        }


@dataclass(frozen=True)
class NoArticle:
    """A page that holds no article: an empty or binary body, a section/listing page, too little text."""

    url: str
    reason: str

    def to_record(self) -> dict[str, Any]:
        """``{"url", "status": "no_article", "reason"}``."""
        return {"url": self.url, "status": "no_article", "reason": self.reason}
