"""Relevance pipeline: scores each article's own text against the topic file and keeps the relevant ones.

Reads RELEVANCE_TOPIC (empty: the packaged Libya topic) and RELEVANCE_KEEP_ALL. Every fetch stays in the
WARCs whatever the decision; only the text records depend on it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from crawler.config import SettingsReader
from crawler.items import ArticlePage
from relevance import Topic, TopicError, default_topic_path

logger = logging.getLogger(__name__)


def topic_path(settings: Any) -> Path:
    """The topic file RELEVANCE_TOPIC names, or the packaged Libya topic when it is empty."""
    path = settings.get("RELEVANCE_TOPIC") or ""
    return Path(path) if path else default_topic_path()


@dataclass(frozen=True)
class RelevanceConfig:
    topic: Topic
    keep_all: bool

    @classmethod
    def from_settings(cls, settings: Any) -> RelevanceConfig:
        """Loads the topic file; raises ``ConfigError`` naming every bad RELEVANCE_* setting."""
        r = SettingsReader(settings)
        keep_all = r.boolean("RELEVANCE_KEEP_ALL")
        r.text("RELEVANCE_TOPIC")
        topic: Topic | None = None
        try:
            topic = Topic.load(topic_path(settings))
        except (TopicError, OSError) as exc:
            r.fail(f"RELEVANCE_TOPIC: {exc}")
        r.check()
        assert topic is not None
        return cls(topic, keep_all)


class RelevancePipeline:
    def __init__(self, topic: Topic, stats: StatsCollector, keep_all: bool) -> None:
        self.topic = topic
        self.stats = stats
        self.keep_all = keep_all

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RelevancePipeline:
        config = RelevanceConfig.from_settings(crawler.settings)
        assert crawler.stats is not None
        return cls(config.topic, crawler.stats, config.keep_all)

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        if not isinstance(item, ArticlePage) or not item.record:
            return item
        # Usually scored already, next to the extraction in the worker process (same topic file).
        scored = item.record.pop("relevance", None)
        if scored is None:
            scored = self.topic.score(item.record.get("title") or "", item.record.get("text") or "").to_dict()
        item.relevance = scored
        if scored["relevant"]:
            self.stats.inc_value("relevance/relevant")
            self.stats.inc_value(f"relevance/relevant_by_site/{item.site}")
            return item
        self.stats.inc_value("relevance/irrelevant")
        if self.keep_all:
            return item
        raise DropItem(f"not relevant (score {scored['score']:.2f} < {scored['threshold']:.2f}): {item.url}")
