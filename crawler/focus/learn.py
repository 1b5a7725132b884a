"""The crawl learns which sections and URL shapes of a site carry the topic (harvest rates).

Each fetched article is counted under its site and its *pattern*: the topic section it was listed in
(``section:/category/libya/``), else how it was found and the shape of its path (``sitemap:/N/N/N/*``).
``adjust`` turns a pattern's harvest rate (relevant articles per fetch, smoothed) against the site's into a
score change: patterns whose pages turn out relevant are boosted, those that never do are lowered. The
rates are kept in each site's focus state in the archive store, with its backlog
(``crawler.frontier.backlog``), for the next crawl. An archive from before that kept them in
``<CRAWL_STATE_DIR>/focus-harvest.json`` (default ``<ARCHIVE_SPOOL_DIR>/state``): that file is still read
(a site's rates in the store win), and written only by a crawl without an archive session.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals

logger = logging.getLogger(__name__)

MIN_FETCHES = 8
WEIGHT = 4.0
MAX_ADJUST = 8.0
_DIGITS = re.compile(r"\d+")
_PAGE_SUFFIX = re.compile(r"/page/\d+/?$")


def pattern_of(url: str, via: str, section: str | None = None) -> str:
    """The pattern an article candidate is counted under."""
    if section:
        return "section:" + _PAGE_SUFFIX.sub("/", urlsplit(section).path)
    parts = [p for p in urlsplit(url).path.split("/") if p]
    shape = ["N" if _DIGITS.fullmatch(p) else "*" for p in parts[:-1]] + (["*"] if parts else [])
    return f"{via}:/" + "/".join(shape)


def harvest_path(settings: Any) -> Path:
    """``<CRAWL_STATE_DIR>/focus-harvest.json``; CRAWL_STATE_DIR defaults to ``<ARCHIVE_SPOOL_DIR>/state``."""
    from crawler import identity
    from crawler.config import SettingsReader

    r = SettingsReader(settings)
    return Path(r.text("CRAWL_STATE_DIR") or identity.spool_dir(settings) / "state") / "focus-harvest.json"


class HarvestRates:
    """{site: {pattern: [fetched, relevant]}}, loaded from and saved to one JSON file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.rates: dict[str, dict[str, list[int]]] = {}
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.rates = {
                    str(site): {str(p): [int(c[0]), int(c[1])] for p, c in patterns.items()}
                    for site, patterns in data.get("sites", {}).items()
                }
            except (OSError, ValueError, TypeError, AttributeError, IndexError) as exc:
                logger.warning("Ignoring unreadable harvest rates %s: %s", path, exc)
                self.rates = {}

    def record(self, site: str, pattern: str, relevant: bool) -> None:
        counts = self.rates.setdefault(site, {}).setdefault(pattern, [0, 0])
        counts[0] += 1
        counts[1] += int(relevant)

    def rate(self, site: str, pattern: str | None = None) -> tuple[int, float]:
        """(fetches, smoothed harvest rate) of a pattern, or of the whole site."""
        patterns = self.rates.get(site, {})
        if pattern is None:
            fetched = sum(c[0] for c in patterns.values())
            relevant = sum(c[1] for c in patterns.values())
        else:
            fetched, relevant = patterns.get(pattern, [0, 0])
        return fetched, (relevant + 1) / (fetched + 2)

    def adjust(self, site: str, pattern: str) -> float:
        fetched, rate = self.rate(site, pattern)
        if fetched < MIN_FETCHES:
            return 0.0
        _, baseline = self.rate(site)
        return round(max(-MAX_ADJUST, min(MAX_ADJUST, WEIGHT * math.log2(rate / baseline))), 2)

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(
            json.dumps({"sites": self.rates}, ensure_ascii=False, sort_keys=True), encoding="utf-8"
        )
        os.replace(tmp, self.path)


class HarvestExtension:
    """Counts each article's relevance verdict under its pattern; saves the rates when the spider closes."""

    def __init__(self, rates: HarvestRates, crawler: Any = None) -> None:
        self.rates = rates
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> HarvestExtension:
        from scrapy.exceptions import NotConfigured

        if crawler.settings.get("CRAWL_FOCUS") == "off":
            raise NotConfigured("CRAWL_FOCUS is off")
        ext = cls(HarvestRates(None), crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        rates = getattr(getattr(spider, "focus", None), "harvest", None)
        if rates is not None:
            self.rates = rates

    def _count(self, item: Any, response: Any) -> None:
        relevance = getattr(item, "relevance", None)
        meta = getattr(response, "meta", None) or {}
        pattern = meta.get("focus_pattern")
        if isinstance(relevance, dict) and pattern and meta.get("site"):
            self.rates.record(str(meta["site"]), str(pattern), bool(relevance.get("relevant")))

    def item_scraped(self, item: Any, response: Any, spider: Any = None) -> None:
        self._count(item, response)

    def item_dropped(self, item: Any, response: Any, exception: BaseException, spider: Any = None) -> None:
        self._count(item, response)

    def spider_closed(self, spider: Any, reason: str = "") -> None:
        if getattr(self.crawler, "archive_session", None) is not None:
            return  # kept in each site's focus state in the store (crawler.frontier.backlog)
        try:
            self.rates.save()
        except OSError as exc:
            logger.warning("Could not save harvest rates to %s: %s", self.rates.path, exc)
