"""One HTTP exchange as fetched, and a pointer to where it landed in a WARC file.

The crawler (plain HTTP or the browser) fills a ``Capture``; ``archive.warc`` writes it and answers with a
``CaptureRef``. Plain data, no Scrapy: headers are ordered (name, value) pairs as sent or received.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Capture:
    """A request and its response, with the body exactly as received (still content-encoded)."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    body: bytes
    fetched_at: datetime
    request_body: bytes = b""
    protocol: str = "HTTP/1.1"
    ip_address: str | None = None
    # "http" for Scrapy's downloader, "browser" for traffic seen by Chromium.
    source: str = "http"
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CaptureRef:
    """Where a record sits: enough to read it back with one ranged read."""

    filename: str
    offset: int
    length: int
    record_id: str
    target_uri: str
    warc_date: str
    payload_digest: str | None = None
    revisit: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaptureRef:
        return cls(**data)
