"""Start-up validation of every project setting, the sources file and the topic file, before any request.

``validate_settings`` builds every component's config from the settings (each config's ``from_settings`` holds
its settings' rules; their defaults are in ``crawler/settings.py``): the crawl, Scrapy's own settings, storage,
WARC, extraction and relevance (which loads the topic file, RELEVANCE_TOPIC), the corpus (its entities file),
rendering, incremental, distributed, Retry-After, robots.txt and host politeness, page requisites, recovery,
the stats file, report, progress and metrics; and it loads the sources
file (``-a sources=`` or CRAWL_SOURCES). It raises one ``crawler.config.ConfigError`` that lists every
problem, each naming the setting and what to fix. ``scrapy crawl`` prints it as one line and exits with
status 2. A config that raises ``NotConfigured`` (a part switched off or missing, not a bad value) is fine.

``SettingsValidator`` is both a Scrapy add-on and an extension: ``from_crawler`` does the work. Listed in ADDONS
with a priority below ``crawler.render.RenderAddon`` it runs before any other component reads a setting (the
spider has been built, the engine has not); listed in EXTENSIONS with the lowest order it runs before the
other extensions. Either way no request has been scheduled yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings

from crawler.config import ConfigError, CrawlConfig, ScrapyConfig, SettingsReader, default_sources_path

logger = logging.getLogger(__name__)


def _config_builders() -> list[Callable[[BaseSettings], Any]]:
    """Every config's ``from_settings``, imported here so that this module stays cheap to import."""
    from crawler.collection import CollectionConfig
    from crawler.corpus import CorpusConfig
    from crawler.distributed.config import RedisConfig
    from crawler.focus import FocusConfig
    from crawler.incremental import IncrementalConfig
    from crawler.metrics import MetricsConfig
    from crawler.pipelines.extract import ExtractConfig
    from crawler.pipelines.relevance import RelevanceConfig
    from crawler.politeness.config import PolitenessConfig
    from crawler.progress import ProgressConfig
    from crawler.recovery import recovery_state_dir
    from crawler.render import RenderConfig
    from crawler.report import ReportConfig
    from crawler.requisites import RequisitesConfig
    from crawler.retry_after import RetryAfterConfig
    from crawler.signing import WaczSigningConfig
    from crawler.statsfile import stats_file_path
    from crawler.storage import ArchiveStorageConfig
    from crawler.warc import WarcConfig

    return [
        ScrapyConfig.from_settings,
        ArchiveStorageConfig.from_settings,
        WarcConfig.from_settings,
        ExtractConfig.from_settings,
        RelevanceConfig.from_settings,
        CorpusConfig.from_settings,
        RenderConfig.from_settings,
        IncrementalConfig.from_settings,
        FocusConfig.from_settings,
        RedisConfig.from_settings,
        RetryAfterConfig.from_settings,
        PolitenessConfig.from_settings,
        recovery_state_dir,
        stats_file_path,
        ReportConfig.from_settings,
        RequisitesConfig.from_settings,
        WaczSigningConfig.from_settings,
        CollectionConfig.from_settings,
        ProgressConfig.from_settings,
        MetricsConfig.from_settings,
    ]


def validate_settings(settings: BaseSettings, *, sources: str | None = None) -> None:
    """Raise ``ConfigError`` listing every unusable setting; ``sources`` is the ``-a sources=`` argument."""
    problems: list[str] = []
    try:
        CrawlConfig.from_settings(settings, sources=sources)
    except ConfigError as exc:
        problems += exc.problems
    problems += _sources_problems(settings, sources)
    for build in _config_builders():
        try:
            build(settings)
        except ConfigError as exc:
            problems += exc.problems
        except NotConfigured:  # switched off or a missing optional part: not a bad value
            pass
    if problems:
        # Configs that read the same setting report its problem once.
        raise ConfigError(*dict.fromkeys(problems))


def _sources_problems(settings: BaseSettings, sources: str | None) -> list[str]:
    from crawler.sources import SourcesError, load_sources

    path = sources or SettingsReader(settings).text("CRAWL_SOURCES") or str(default_sources_path())
    try:
        load_sources(path)
    except SourcesError as exc:
        return [f"CRAWL_SOURCES / -a sources: {exc}"]
    return []


class SettingsValidator:
    """Add-on and extension: validates everything in ``from_crawler``; see the module docstring."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SettingsValidator:
        try:
            spider = crawler.spider
        except (AttributeError, RuntimeError):  # built before the spider (not how we list it)
            spider = None
        config = getattr(spider, "config", None)
        sources = str(config.sources_path) if config is not None else None
        validate_settings(crawler.settings, sources=sources)
        logger.debug("settings, sources and topic file are valid")
        return cls()

    def update_settings(self, settings: BaseSettings) -> None:
        """Add-on hook: nothing to change, the checking happened in ``from_crawler``."""
