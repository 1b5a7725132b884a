"""Reading dates from feeds, sitemaps, HTTP headers, stats and state: one parser for ISO 8601 and RFC 822."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime


def parse_datetime(value: str | datetime | None) -> datetime | None:
    """An ISO 8601 (``Z`` allowed) or RFC 822 date/datetime as an aware datetime, in the offset it was
    given in (a value without one is UTC); None when absent or unreadable. A ``datetime`` passes through."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not value or not value.strip():
        return None
    text = value.strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
