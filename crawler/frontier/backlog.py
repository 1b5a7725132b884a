"""Each site's focus state in the archive store: its backlog (the frontier a crawl left) and harvest rates.

At the end of a crawl (an ``ArchiveSession`` closing step, after the incremental state) every site gets one
new object, written once and never replaced (the store's no-overwrite rule)::

    <INCREMENTAL_STATE_PREFIX>/<site>/focus/<UTC time>-<crawl id>.jsonl.gz

Line 1 is a header ``{"format", "site", "crawl_id", "started_at", "saved_at", "backlog", "harvest"}``,
each further line one waiting candidate ``{"url", "score", "discovered", "lastmod", "request"}``, best first.
The time in the key sorts the objects: the next crawl loads the newest one (``open``), puts its rows in its
own frontier as the backlog tier (``-a since=`` drops the older ones), reads ``started_at`` to tell what a
sitemap lists as new since that crawl, and takes the harvest rates. A site with no object yet falls back on
the rates an older archive kept in ``<CRAWL_STATE_DIR>/focus-harvest.json`` (already loaded by the spider).

A crawl resumed after a kill reopens its frontier file, which has the backlog already (``backlog_loaded``).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import tempfile
from datetime import UTC, date, datetime
from typing import Any

from archive.keys import SITES_STATE_PREFIX, check_key, safe_segment
from archive.state import parse_time, utc_now
from archive.store import StoreError
from crawler import identity
from crawler.frontier import BACKLOG, Frontier

logger = logging.getLogger(__name__)

FORMAT = 1


class Backlogs:
    def __init__(self, crawler: Any, frontier: Frontier, store: Any | None, prefix: str) -> None:
        self.crawler = crawler
        self.frontier = frontier
        self.store = store
        self.prefix = prefix.strip("/")
        self.crawl_id = identity.crawl_id(crawler.settings)
        self.sites: list[str] = []

    @classmethod
    def for_crawler(cls, crawler: Any, frontier: Frontier) -> Backlogs:
        session = getattr(crawler, "archive_session", None)
        store = session.storage.store if session is not None else None
        prefix = str(crawler.settings.get("INCREMENTAL_STATE_PREFIX") or SITES_STATE_PREFIX)
        backlogs = cls(crawler, frontier, store, prefix)
        if session is not None:
            session.add_closing_step("focus state and backlog", backlogs.save)
        return backlogs

    def folder(self, site: str) -> str:
        return f"{self.prefix}/{safe_segment(site)}/focus/"

    def latest(self, site: str) -> str | None:
        if self.store is None:
            return None
        keys = [k for k in self.store.list(self.folder(site)) if k.endswith(".jsonl.gz")]
        return max(keys) if keys else None

    # --- start ------------------------------------------------------------------------------------------
    def open(self, sites: list[str], since: date | datetime | None = None) -> dict[str, str]:
        """Load each site's newest focus state; returns {site: when its last crawl started}."""
        self.sites = list(sites)
        if self.frontier.info("started_at") is None:
            self.frontier.set_info("started_at", utc_now())
        last: dict[str, str] = {}
        if self.store is None:
            return last
        loading = self.frontier.info("backlog_loaded") is None
        stats = self.crawler.stats
        harvest = getattr(getattr(self.crawler.spider, "focus", None), "harvest", None)
        for site in sites:
            try:
                key = self.latest(site)
                data = self.store.get_bytes(key) if key else None
            except StoreError as exc:
                logger.warning(
                    "Focus state of %s not loaded (%s): the crawl starts from the sitemaps", site, exc
                )
                continue
            if not data:
                continue
            loaded = skipped = 0
            lines = gzip.decompress(data).decode("utf-8").splitlines()
            try:
                header = json.loads(lines[0])
            except (ValueError, IndexError):
                logger.warning("Focus state %s is unreadable; ignored", key)
                continue
            if header.get("started_at"):
                last[site] = str(header["started_at"])
            if harvest is not None and isinstance(header.get("harvest"), dict):
                harvest.rates[site] = {str(p): [int(c[0]), int(c[1])] for p, c in header["harvest"].items()}
            if not loading:
                continue
            for line in lines[1:]:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if since is not None and _before(row.get("lastmod"), since):
                    skipped += 1
                    continue
                if self.frontier.put(
                    row["url"],
                    site,
                    row["request"],
                    score=float(row.get("score") or 0.0),
                    tier=BACKLOG,
                    discovered=row.get("discovered"),
                    lastmod=row.get("lastmod"),
                ):
                    loaded += 1
            stats.set_value(f"frontier/backlog_loaded_by_site/{site}", loaded)
            if skipped:
                stats.inc_value("frontier/backlog_before_since", skipped)
            logger.info(
                "Backlog of %s: %d candidate(s) from %s%s",
                site,
                loaded,
                key,
                f" ({skipped} older than since)" if skipped else "",
            )
        self.frontier.set_info("backlog_loaded", utc_now())
        return last

    # --- end --------------------------------------------------------------------------------------------
    def save(self) -> None:
        """Every site's backlog and harvest rates to a new object (closing step; blocking)."""
        harvest = getattr(getattr(self.crawler.spider, "focus", None), "harvest", None)
        started = self.frontier.info("started_at") or utc_now()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        ok = True
        for site in self.sites:
            left = 0
            spool = identity.spool_dir(self.crawler.settings)
            spool.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix="backlog-", suffix=".jsonl.gz", dir=spool)
            os.close(fd)
            try:
                rates = harvest.rates.get(site, {}) if harvest is not None else {}
                body = tmp + ".rows"
                with open(body, "w", encoding="utf-8") as rows:
                    for row in self.frontier.waiting(site):
                        rows.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
                        left += 1
                header = {
                    "format": FORMAT,
                    "site": site,
                    "crawl_id": self.crawl_id,
                    "started_at": started,
                    "saved_at": utc_now(),
                    "backlog": left,
                    "harvest": rates,
                }
                with gzip.open(tmp, "wt", encoding="utf-8") as out, open(body, encoding="utf-8") as rows:
                    out.write(json.dumps(header, ensure_ascii=False) + "\n")
                    for line in rows:
                        out.write(line)
                os.unlink(body)
                if self.store is not None:
                    key = check_key(f"{self.folder(site)}{stamp}-{safe_segment(self.crawl_id)}.jsonl.gz")
                    self.store.put_file(key, tmp, content_type="application/gzip", overwrite=False)
                    logger.info("Backlog of %s: %d candidate(s) left, saved to %s", site, left, key)
            except (OSError, StoreError) as exc:
                ok = False
                logger.warning(
                    "Backlog of %s not saved (%s): the next crawl starts from the sitemaps", site, exc
                )
            finally:
                for path in (tmp, tmp + ".rows"):
                    if os.path.exists(path):
                        os.unlink(path)
        if ok and self.store is not None:
            self.discard()

    def discard(self) -> None:
        """The crawl ended and its backlog is in the store: the local frontier file is not needed."""
        path = self.frontier.path
        self.frontier.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.unlink(path + suffix)


def _before(value: Any, since: date | datetime) -> bool:
    when = parse_time(str(value)) if value else None
    if when is None:
        return False
    if isinstance(since, datetime):
        bound = since if since.tzinfo else since.replace(tzinfo=UTC)
        return when < bound
    return when.date() < since
