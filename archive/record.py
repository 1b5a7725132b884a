"""The stored record of one article: built once, by the store pipeline, and read by everyone after it.

A ``StoredRecord`` is what ``text/<site>/<yyyy>/<mm>/<id>.json`` holds, what the crawl manifest has as one
line (``to_json()``), and what the report, crash recovery and the incremental state read. Its canonical URL
and text SHA-256 come from the extraction step (computed once per article); its keys and version from the
store pipeline. ``fetched_at`` is the WARC-Date of the record the text came from (the response, or the DOM
``conversion`` record of a rendered page).

``scrapy extract`` prints the same record for one page (``for_page``), with the fields only a crawl knows
(crawl id, keys, version, WARC positions, ...) set to None: absent, not guessed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

# Extraction fields copied into the record as they are.
EXTRACTED_FIELDS = (
    "title",
    "author",
    "published",
    "language",
    "encoding",
    "text_source",
    "published_source",
    "cleanup",
    "cleanup_note",
)
# Fields only a crawl fills (None in ``scrapy extract``'s output).
CRAWL_FIELDS = (
    "crawl_id",
    "response_url",
    "site",
    "fetched_at",
    "discovered_via",
    "rendered",
    "render_reason",
    "text_key",
    "json_key",
    "version",
    "previous_version",
    "warc",
    "warc_metadata",
)


def text_sha256(text: str) -> str:
    """The SHA-256 (hex) of an article text's UTF-8 bytes: what decides a new text version."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredRecord:
    """One article as the archive stores it; the field order is the JSON's."""

    id: str
    crawl_id: str | None
    url: str
    response_url: str | None
    canonical_url: str
    site: str | None
    title: str | None
    author: str | None
    published: str | None
    language: str | None
    encoding: str | None
    text_source: str | None
    published_source: str | None
    # "full", or "fallback" when the DOM clean-up stood down (it would have removed too much of the main
    # block's text); cleanup_note says why.
    cleanup: str | None
    cleanup_note: str | None
    fetched_at: str | None
    discovered_via: str | None
    rendered: bool | None
    render_reason: str | None
    relevance: dict[str, Any] | None
    text_key: str | None
    json_key: str | None
    text_sha256: str
    version: int | None
    previous_version: dict[str, Any] | None
    text_chars: int
    warc: dict[str, Any] | None
    warc_metadata: dict[str, Any] | None = None
    # From the research corpus (crawler.corpus), when it is on: entity tags and near-duplicate cluster.
    entities: dict[str, Any] | None = None
    cluster: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (``warc_metadata`` only once the WARC metadata record is written; ``entities``
        and ``cluster`` only with the corpus on)."""
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        for name in ("warc_metadata", "entities", "cluster"):
            if data[name] is None:
                del data[name]
        return data

    def to_json(self) -> str:
        """One line of the crawl manifest."""
        return json.dumps(self.to_dict(), ensure_ascii=False, default=str)

    def with_warc_metadata(self, ref: dict[str, Any]) -> StoredRecord:
        return dataclasses.replace(self, warc_metadata=ref)

    @classmethod
    def for_page(
        cls,
        article_id: str,
        canonical_url: str,
        extracted: dict[str, Any],
        relevance: dict[str, Any] | None,
    ) -> StoredRecord:
        """The record of one page outside a crawl (``scrapy extract``): crawl-only fields are None."""
        text = extracted.get("text") or ""
        crawl: dict[str, Any] = dict.fromkeys(CRAWL_FIELDS)
        del crawl["warc_metadata"]
        return cls(
            id=article_id,
            url=extracted["url"],
            canonical_url=canonical_url,
            **{name: extracted.get(name) for name in EXTRACTED_FIELDS},
            relevance=relevance,
            text_sha256=text_sha256(text),
            text_chars=len(text),
            **crawl,
        )
