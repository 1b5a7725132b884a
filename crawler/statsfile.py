"""Writes the crawl's final stats as JSON to a local file (setting CRAWL_STATS_FILE; empty: off).

For scripts and tests that read a crawl's numbers without parsing logs; the operator report keeps its own
copy in the archive store. Credentials are masked (``crawler.secrets``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector

from crawler.config import SettingsReader
from crawler.secrets import SecretMasker
from reporting.formatting import jsonable_value


def stats_file_path(settings: Any) -> str:
    """CRAWL_STATS_FILE (empty: off); raises ``ConfigError`` when it names a directory."""
    r = SettingsReader(settings)
    path = r.text("CRAWL_STATS_FILE")
    if path and Path(path).is_dir():
        r.fail(f"CRAWL_STATS_FILE {path!r} is a directory; give a file name")
    r.check()
    return path


class StatsFileExtension:
    def __init__(self, path: Path, stats: StatsCollector, masker: SecretMasker | None = None) -> None:
        self.path = path
        self.stats = stats
        self.masker = masker or SecretMasker(())

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsFileExtension:
        path = stats_file_path(crawler.settings)
        if not path:
            raise NotConfigured("CRAWL_STATS_FILE is empty")
        assert crawler.stats is not None
        ext = cls(Path(path), crawler.stats, SecretMasker.from_settings(crawler.settings))
        # After every other spider_closed handler has added its numbers (low priority = late).
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider: Spider, reason: str) -> None:
        data = {key: jsonable_value(value) for key, value in self.stats.get_stats().items()}
        data["finish_reason"] = reason
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True)
        tmp.write_text(self.masker.mask(text), encoding="utf-8")
        os.replace(tmp, self.path)
