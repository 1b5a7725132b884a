"""Optional Prometheus endpoint exporting the crawl's stats (prometheus_client), off by default.

Every numeric stat becomes a sample at scrape time (no copying during the crawl): ``libya_crawl_<key>`` with
``/`` and other odd characters turned into ``_``. Families that end in a variable part get it as a label:
``crawl/failed/http_404`` -> ``libya_crawl_crawl_failed_total{reason="http_404"}``, ``store/articles_by_site/
wahaa`` -> ``libya_crawl_store_articles_by_site_total{site="wahaa"}`` (see ``LABELLED``). Stats that can go
down or are levels (``storage/pending``, ``memusage/*``, ``*_per_minute``, ...) are gauges; the rest are
counters (``_total``). ``libya_crawl_info{crawl_id=...}`` is 1 and ``libya_crawl_start_time_seconds`` the
start as a Unix time.

The server runs in prometheus_client's own thread on its own registry (several crawls in one process do not
clash) and is shut down when the engine stops. Settings: METRICS_PORT (0: off, the default), METRICS_HOST
(127.0.0.1: bind elsewhere only on a trusted network, the endpoint has no authentication); and CRAWL_ID.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler import identity
from crawler.config import SettingsReader
from reporting import stats_keys as keys

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

PREFIX = "libya_crawl"
#: Stats families whose last segment becomes a label: key prefix -> label name.
LABELLED: dict[str, str] = {
    "crawl/failed/": "reason",
    "crawl/failed_kind/": "kind",
    "crawl/skipped/": "reason",
    "discovery/requests/": "kind",
    "discovery/skipped/": "reason",
    "discovery/sitemaps/": "kind",
    "extract/no_article/": "reason",
    "extract/failed/": "reason",
    "render/failed/": "reason",
    "render/gate/": "reason",
    "render/captures/": "resource_type",
    "storage/upload_failed/": "reason",
    "scope/dropped/": "reason",
    "downloader/response_status_count/": "status",
    "downloader/exception_type_count/": "exception",
    "log_count/": "level",
    "item_dropped_reasons_count/": "reason",
}
_BY_SITE = re.compile(r"^(?P<family>.+_by_site)/(?P<site>[^/]+)$")
_GAUGE = re.compile(
    rf"^({re.escape(keys.UPLOAD_BACKLOG)}|memusage/.*|elapsed_time_seconds|.*_per_minute|request_depth_max|.*max_concurrent.*)$"
)
_BAD = re.compile(r"[^a-zA-Z0-9_]+")


def metric_name(key: str) -> str:
    """``libya_crawl_`` + the key with anything but letters, digits and ``_`` turned into ``_``."""
    return f"{PREFIX}_{_BAD.sub('_', key).strip('_')}"


def split_key(key: str) -> tuple[str, dict[str, str]]:
    """A stats key as (family key, labels)."""
    match = _BY_SITE.match(key)
    if match:
        return match["family"], {"site": match["site"]}
    for prefix, label in LABELLED.items():
        if key.startswith(prefix) and len(key) > len(prefix):
            return prefix.rstrip("/"), {label: key[len(prefix) :]}
    return key, {}


class StatsCollectorExporter(Collector):
    """A prometheus_client collector that reads a stats mapping at every scrape."""

    def __init__(self, get_stats: Callable[[], Mapping[str, Any]], crawl_id: str = "") -> None:
        self.get_stats = get_stats
        self.crawl_id = crawl_id

    def collect(self) -> Iterator[Metric]:
        stats = dict(self.get_stats())
        families: dict[str, tuple[CounterMetricFamily | GaugeMetricFamily, list[str]]] = {}
        for key in sorted(stats):
            value = stats[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            family_key, labels = split_key(key)
            name = metric_name(family_key)
            if name not in families:
                label_names = sorted(labels)
                doc = f"Scrapy stat {family_key}" + (f"/<{label_names[0]}>" if label_names else "")
                if _GAUGE.match(key):
                    families[name] = (GaugeMetricFamily(name, doc, labels=label_names), label_names)
                else:
                    families[name] = (CounterMetricFamily(name, doc, labels=label_names), label_names)
            family, label_names = families[name]
            if sorted(labels) != label_names:
                continue  # the same name with other labels (a plain key beside a labelled family): skip
            family.add_metric([labels[n] for n in label_names], float(value))
        yield from (family for family, _ in families.values())
        info = GaugeMetricFamily(f"{PREFIX}_info", "The crawl this process runs", labels=["crawl_id"])
        info.add_metric([self.crawl_id], 1.0)
        yield info
        start = stats.get("start_time")
        if isinstance(start, datetime):
            started = GaugeMetricFamily(f"{PREFIX}_start_time_seconds", "Crawl start, Unix time")
            started.add_metric([], start.timestamp())
            yield started


@dataclass(frozen=True)
class MetricsConfig:
    """Metrics settings, parsed and checked once."""

    host: str
    port: int

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> MetricsConfig:
        """Raises ``ConfigError`` naming every bad METRICS_* setting."""
        r = SettingsReader(settings)
        port = r.integer("METRICS_PORT", minimum=0, maximum=65535, hint=" (0: off, else a TCP port)")
        host = r.text("METRICS_HOST")
        r.check()
        return cls(host=host, port=port)


class MetricsExtension:
    """Serves the stats on ``http://<host>:<port>/metrics`` while the crawl runs."""

    def __init__(
        self, config: MetricsConfig, get_stats: Callable[[], Mapping[str, Any]], crawl_id: str = ""
    ) -> None:
        self.config = config
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StatsCollectorExporter(get_stats, crawl_id))
        self._server: WSGIServer | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MetricsExtension:
        config = MetricsConfig.from_settings(crawler.settings)
        if not config.port:
            raise NotConfigured("METRICS_PORT is 0 (metrics endpoint off)")
        stats = crawler.stats
        assert stats is not None
        ext = cls(config, stats.get_stats, identity.crawl_id(crawler.settings))
        crawler.signals.connect(ext.start, signal=signals.engine_started)
        crawler.signals.connect(ext.stop, signal=signals.engine_stopped)
        return ext

    @property
    def port(self) -> int | None:
        """The bound port (the configured one, or the one the OS chose for port 0); None when stopped."""
        return int(self._server.server_port) if self._server is not None else None

    def start(self) -> None:
        """Start serving (port 0 here means any free port, for tests)."""
        if self._server is not None:
            return
        self._server, _thread = start_http_server(self.config.port, self.config.host, self.registry)
        logger.info("Prometheus metrics on http://%s:%s/metrics", self.config.host, self.port)

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
