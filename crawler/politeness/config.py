"""``PolitenessConfig``: the settings of robots.txt handling and host back-off, parsed once.

Reads ROBOTSTXT_UNREACHABLE_RETRIES (later attempts at an unreachable robots.txt, default 2),
ROBOTSTXT_UNREACHABLE_RETRY_DELAY (seconds after a failed attempt, default 60), RETRY_AFTER_HTTP_CODES
(answers that back a host off, default 429 and 503), RETRY_AFTER_MAX_DELAY (the longest Retry-After a host is
held for, default 300), AUTOTHROTTLE_MAX_DELAY (the ceiling of a back-off without Retry-After, default 30)
and DOWNLOAD_TIMEOUT (how long a cluster lease lives when its worker dies mid-transfer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crawler.config import ConfigError

DEFAULT_CODES = (429, 503)
# The first hold of a host that answered 429/503 without Retry-After; it doubles while the answers go on.
BACKOFF_START = 1.0


def _number(settings: Any, name: str, default: float, *, minimum: float = 0.0) -> float:
    value = settings.get(name, default)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if number < minimum or isinstance(value, bool):
        raise ConfigError(f"{name} must be a number of seconds of at least {minimum:g}, got {value!r}")
    return number


@dataclass(frozen=True)
class PolitenessConfig:
    robots_retries: int
    robots_retry_delay: float
    backoff_codes: frozenset[int]
    retry_after_max: float
    backoff_max: float
    lease_ttl: float

    @classmethod
    def from_settings(cls, settings: Any) -> PolitenessConfig:
        retries = settings.get("ROBOTSTXT_UNREACHABLE_RETRIES", 2)
        try:
            robots_retries = int(retries)
        except (TypeError, ValueError):
            robots_retries = -1
        if robots_retries < 0 or isinstance(retries, bool) or str(retries).strip() != str(robots_retries):
            raise ConfigError(
                f"ROBOTSTXT_UNREACHABLE_RETRIES must be a whole number of 0 or more, got {retries!r}"
            )
        raw_codes = settings.getlist("RETRY_AFTER_HTTP_CODES", list(DEFAULT_CODES))
        try:
            codes = frozenset(int(c) for c in raw_codes)
        except (TypeError, ValueError):
            raise ConfigError(
                f"RETRY_AFTER_HTTP_CODES must be HTTP status codes, got {raw_codes!r}"
            ) from None
        timeout = _number(settings, "DOWNLOAD_TIMEOUT", 180.0)
        return cls(
            robots_retries=robots_retries,
            robots_retry_delay=_number(settings, "ROBOTSTXT_UNREACHABLE_RETRY_DELAY", 60.0),
            backoff_codes=codes,
            retry_after_max=_number(settings, "RETRY_AFTER_MAX_DELAY", 300.0),
            backoff_max=max(BACKOFF_START, _number(settings, "AUTOTHROTTLE_MAX_DELAY", 30.0)),
            # A lease outlives the longest transfer (a rendered page takes a few timeouts) by a margin.
            lease_ttl=3 * timeout + 30,
        )
