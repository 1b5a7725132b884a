"""The peer row of ``make bench``: what a user would assemble from PyPI instead of this project.

A Scrapy ``SitemapSpider`` over the sites' ``robots.txt`` sitemaps, trafilatura in the callback, a keyword
filter on the extracted text, and scrapy-webarchive's ``WaczExporter`` writing every response to a WARC and
a WACZ at the end. It runs in its own venv (``bench/peer/requirements.txt``: scrapy-webarchive 0.5.3 pins
Scrapy 2.11), started by ``bench/pipeline.py``::

    .peer-venv/bin/python -m scrapy runspider bench/peer/spider.py -a robots=URL,URL -a out=DIR \
        -s SW_EXPORT_URI=DIR/wacz/

It writes the extracted articles as JSON lines to ``DIR/articles.jsonl``, the WACZ under ``DIR/wacz/``,
and Scrapy's final stats to ``DIR/stats.json``. Nothing from the project is imported.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, ClassVar

import trafilatura
from scrapy import signals
from scrapy.spiders import SitemapSpider

# The keyword filter a user would write for Libya coverage: the country, its people and its main cities.
KEYWORDS = ("ليبيا", "ليبي", "طرابلس", "بنغازي", "مصراتة", "سبها", "Libya")


class PeerSpider(SitemapSpider):
    name = "peer"
    custom_settings: ClassVar[dict[str, Any]] = {
        "EXTENSIONS": {"scrapy_webarchive.extensions.WaczExporter": 543},
        "SW_WACZ_TITLE": "peer crawl",
        "SW_WACZ_DESCRIPTION": "bench/peer/spider.py",
        "ROBOTSTXT_OBEY": True,
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": False,
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    }

    def __init__(self, robots: str = "", out: str = ".", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sitemap_urls = [u for u in robots.split(",") if u]
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self._articles = (self.out / "articles.jsonl").open("w", encoding="utf-8")

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> PeerSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.closed_with_stats, signal=signals.spider_closed)
        return spider

    def parse(self, response: Any) -> Any:
        self.crawler.stats.inc_value("peer/pages")
        text = trafilatura.extract(response.text, url=response.url, with_metadata=False)
        if not text or not any(word in text for word in KEYWORDS):
            return
        self._articles.write(json.dumps({"url": response.url, "text": text}, ensure_ascii=False) + "\n")
        yield {"url": response.url}

    def closed_with_stats(self, spider: Any, reason: str) -> None:
        self._articles.close()
        stats = {
            k: v if isinstance(v, (int, float)) else str(v) for k, v in self.crawler.stats.get_stats().items()
        }
        stats["closed_at"] = time.time()  # the spider's close, before the WACZ is built
        (self.out / "stats.json").write_text(json.dumps(stats, indent=1), encoding="utf-8")
