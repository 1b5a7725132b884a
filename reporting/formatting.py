"""How the operator views write numbers, times and stats: one formatter each."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from archive.dates import parse_datetime

TEXT_BINS: tuple[int, ...] = (0, 250, 500, 1000, 2000, 4000, 8000)


def number(value: Any) -> float | None:
    """A stats value as a number (None for booleans and anything else)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    return None


def parse_time(value: Any) -> datetime | None:
    """A stats time (a ``datetime`` or an ISO string) as an aware datetime; None if neither."""
    return parse_datetime(value) if isinstance(value, (str, datetime)) else None


def jsonable_value(value: Any) -> Any:
    """A stats value for JSON: datetimes as ISO strings, anything odd as its ``str``."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def jsonable_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The stats with datetimes as ISO strings and anything else odd as its ``str``; keys sorted."""
    return {key: jsonable_value(stats[key]) for key in sorted(stats)}


def format_count(value: int | None) -> str:
    return "—" if value is None else str(value)


def format_percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def format_bytes(value: float | None) -> str:
    """``512 B``, ``3.0 MB``, ``1.2 GB`` (binary units); ``—`` for unknown."""
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # pragma: no cover


def format_duration(seconds: float | None) -> str:
    """``7s``, ``3m05s``, ``2h01m``; ``—`` for unknown."""
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def bin_labels() -> list[str]:
    """The text length bins of the report's histogram."""
    labels = [f"{lo}–{hi}" for lo, hi in itertools.pairwise(TEXT_BINS)]
    return [*labels, f"{TEXT_BINS[-1]}+"]


def text_bin(chars: int) -> str:
    labels = bin_labels()
    for index, upper in enumerate(TEXT_BINS[1:]):
        if chars < upper:
            return labels[index]
    return labels[-1]
