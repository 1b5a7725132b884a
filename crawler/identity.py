"""Who this crawl is and where its local files live: the one place that reads CRAWL_ID, CRAWL_WORKER_ID and
ARCHIVE_SPOOL_DIR.

Every component gets these values from the ``ArchiveSession``'s frozen config (``crawler.session``); the
functions here are what that config, and the few tools that run without a session (``scrapy repair``), call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.config import default_crawl_id

DEFAULT_SPOOL_DIR = "./archive-spool"


def crawl_id(settings: Any) -> str:
    """CRAWL_ID; empty: scrapyd's job id when run under scrapyd, else a UTC timestamp."""
    return str(settings.get("CRAWL_ID") or "").strip() or default_crawl_id()


def worker_id(settings: Any) -> str:
    """CRAWL_WORKER_ID, or "" for a crawl run by one process."""
    return str(settings.get("CRAWL_WORKER_ID") or "").strip()


def part_name(crawl: str, worker: str) -> str:
    """The name of this process's share of a crawl: the crawl id, plus the worker id when several workers
    share one crawl (their manifests and WACZ packages must not clash)."""
    return f"{crawl}.{worker}" if worker else crawl


def spool_dir(settings: Any) -> Path:
    """ARCHIVE_SPOOL_DIR as given (empty: ./archive-spool)."""
    return Path(settings.get("ARCHIVE_SPOOL_DIR") or DEFAULT_SPOOL_DIR)
