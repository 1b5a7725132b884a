"""Items that flow from the spider through the pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archive.record import StoredRecord


@dataclass
class ArticlePage:
    """A fetched article page on its way to extraction, relevance and storage.

    The spider fills the fetch fields; the extraction pipeline fills ``record`` (the extracted article),
    ``canonical_url`` and ``text_sha256`` (each computed once per article), the relevance pipeline
    ``relevance``, and the store pipeline ``stored`` (the frozen ``StoredRecord`` everyone after it reads).
    """

    url: str  # the URL as requested (canonicalised)
    response_url: str  # the final URL after redirects
    site: str
    status: int
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    fetched_at: str  # the WARC-Date of the capture the text comes from (else the parse time)
    warc: dict[str, Any] | None = None
    rendered: bool = False
    render_reason: str | None = None
    discovered_via: str = ""
    hint_published: str | None = None  # a date from the sitemap or feed that listed it
    feed_content: str | None = field(default=None, repr=False)  # the feed's copy of the body, a fallback
    record: dict[str, Any] = field(default_factory=dict, repr=False)
    relevance: dict[str, Any] | None = None
    canonical_url: str = ""
    text_sha256: str = ""
    stored: StoredRecord | None = field(default=None, repr=False)
