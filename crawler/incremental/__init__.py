"""Incremental crawls: fetch only what changed since the last crawl, store a changed text as a new version.

The per-site state (``archive.state``) lives in the archive store, so a crawl on any machine continues where
the last one stopped. One component per module, all switched off by ``INCREMENTAL_ENABLED = False``:

* ``state.IncrementalExtension``: the per-site state, built, loaded and saved by the ``ArchiveSession``;
* ``downloader.IncrementalDownloaderMiddleware`` (580): conditional requests, a 304 ends the request;
* ``spider.IncrementalSpiderMiddleware`` (600): skips articles a sitemap lists as unchanged;
* ``pipeline.IncrementalPipeline`` (250): drops an unchanged text;
* ``versions.versioned_keys``: the store pipeline's keys of a new text version.

Settings (``config.IncrementalConfig``): INCREMENTAL_ENABLED, INCREMENTAL_STATE_PREFIX,
INCREMENTAL_SKIP_BY_DATE, INCREMENTAL_SKIP_BY_PUBLISHED, INCREMENTAL_REFETCH, CRAWL_ID.
"""

from __future__ import annotations

from crawler.incremental.config import IncrementalConfig, NotModified
from crawler.incremental.downloader import IncrementalDownloaderMiddleware
from crawler.incremental.pipeline import IncrementalPipeline
from crawler.incremental.spider import IncrementalSpiderMiddleware
from crawler.incremental.state import IncrementalExtension, incremental_state, site_state
from crawler.incremental.versions import VersionKeys, versioned_keys

__all__ = [
    "IncrementalConfig",
    "IncrementalDownloaderMiddleware",
    "IncrementalExtension",
    "IncrementalPipeline",
    "IncrementalSpiderMiddleware",
    "NotModified",
    "VersionKeys",
    "incremental_state",
    "site_state",
    "versioned_keys",
]
