"""Crawl-wide configuration parsed once from Scrapy settings (and spider arguments) at start-up.

Reads: CRAWL_SOURCES, CRAWL_ID, CRAWL_SINCE, OPERATOR_CONTACT, USER_AGENT. A bad value raises
``ConfigError`` whose message names the setting and what to fix, before the crawl sends a request.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

PROJECT_NAME = "libya-news-archiver"
PROJECT_VERSION = "0.1.0"
_CRAWL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")


class ConfigError(ValueError):
    """A setting that cannot be used; the message names it and says what to fix."""


def default_sources_path() -> Path:
    """The packaged default sources file (works from a zipped scrapyd egg too)."""
    from relevance.topic import packaged_file

    return packaged_file("sources", "libya.yaml")


def default_crawl_id(now: datetime | None = None) -> str:
    """scrapyd's job id when running under scrapyd, else a UTC timestamp."""
    job = os.environ.get("SCRAPY_JOB", "").strip()
    if job and _CRAWL_ID_RE.match(job):
        return job
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")


def crawl_part_name(settings: Any) -> str:
    """The name of this process's share of a crawl: the crawl id, plus the worker id when several workers
    share one crawl (their manifests and WACZ packages must not clash)."""
    crawl_id = settings.get("CRAWL_ID") or ""
    worker = (settings.get("CRAWL_WORKER_ID") or "").strip()
    return f"{crawl_id}.{worker}" if worker else crawl_id


def user_agent_for(contact: str) -> str:
    return f"Mozilla/5.0 (compatible; {PROJECT_NAME}/{PROJECT_VERSION}; +{contact})"


@dataclass(frozen=True)
class CrawlConfig:
    sources_path: Path
    crawl_id: str
    since: date | None
    operator_contact: str

    @classmethod
    def from_settings(cls, settings: Any, **overrides: str | None) -> CrawlConfig:
        """Build from a Scrapy ``Settings`` object; spider arguments (``sources``, ``since``) win."""
        sources = overrides.get("sources") or settings.get("CRAWL_SOURCES") or ""
        sources_path = Path(sources) if sources else default_sources_path()
        crawl_id = (overrides.get("crawl_id") or settings.get("CRAWL_ID") or "").strip() or default_crawl_id()
        if not _CRAWL_ID_RE.match(crawl_id):
            raise ConfigError(
                f"CRAWL_ID {crawl_id!r} is not usable in file names: use letters, digits, '_', '-' or '.'"
            )
        since_raw = (overrides.get("since") or settings.get("CRAWL_SINCE") or "").strip()
        since: date | None = None
        if since_raw:
            try:
                since = date.fromisoformat(since_raw)
            except ValueError:
                raise ConfigError(
                    f"since / CRAWL_SINCE {since_raw!r} is not a date in the form YYYY-MM-DD"
                ) from None
        contact = (settings.get("OPERATOR_CONTACT") or "").strip()
        if not contact:
            raise ConfigError(
                "OPERATOR_CONTACT is empty: give a URL or e-mail where site owners can reach you"
            )
        return cls(sources_path=sources_path, crawl_id=crawl_id, since=since, operator_contact=contact)
