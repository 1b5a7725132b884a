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

from crawler.config import SettingsReader
from crawler.retry_after import RetryAfterConfig

# The first hold of a host that answered 429/503 without Retry-After; it doubles while the answers go on.
BACKOFF_START = 1.0


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
        """Raises ``ConfigError`` naming every bad ROBOTSTXT_UNREACHABLE_* (or RETRY_AFTER_*) setting."""
        retry_after = RetryAfterConfig.from_settings(settings)  # the RETRY_AFTER_* rules live there
        r = SettingsReader(settings)
        retries = r.integer("ROBOTSTXT_UNREACHABLE_RETRIES", minimum=0)
        delay = r.number("ROBOTSTXT_UNREACHABLE_RETRY_DELAY", minimum=0, hint=" (seconds)")
        r.check()
        # AUTOTHROTTLE_MAX_DELAY and DOWNLOAD_TIMEOUT are Scrapy's: crawler.config.ScrapyConfig checks them.
        timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        return cls(
            robots_retries=retries,
            robots_retry_delay=delay,
            backoff_codes=frozenset(retry_after.codes),
            retry_after_max=retry_after.max_delay,
            backoff_max=max(BACKOFF_START, settings.getfloat("AUTOTHROTTLE_MAX_DELAY")),
            # A lease outlives the longest transfer (a rendered page takes a few timeouts) by a margin.
            lease_ttl=3 * timeout + 30,
        )
