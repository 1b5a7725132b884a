"""Operator-facing crawl output: progress lines, the Prometheus endpoint, and the report of a real crawl."""

from __future__ import annotations

import hashlib
import io
import json
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler import settings as project_settings
from crawler.config import ConfigError
from crawler.metrics import MetricsConfig, MetricsExtension, split_key
from crawler.progress import ProgressConfig, ProgressExtension, Snapshot, progress_bar, progress_line
from newsroom import Newsroom
from tests.crawling import CrawlRun, run_crawl

pytest_plugins = ["tests.fixtures_newsroom"]

# The report, progress and metrics extensions on top of the project's own (until settings.py lists them).
EXTENSIONS = {
    **project_settings.EXTENSIONS,
    "crawler.report.CrawlReportExtension": 150,
    "crawler.progress.ProgressExtension": 160,
    "crawler.metrics.MetricsExtension": 170,
}
REPORT_SETTINGS = {"EXTENSIONS": json.dumps(EXTENSIONS), "PROGRESS_INTERVAL": "1"}


# --- progress ---------------------------------------------------------------------------------------------


def test_progress_line_and_bar() -> None:
    before = Snapshot.of({"response_received_count": 10, "store/articles": 2})
    stats = {
        "response_received_count": 70,
        "store/articles": 32,
        "render/pages": 4,
        "warc/bytes": 3 * 1024 * 1024,
        "crawl/failed/http_404": 2,
        "crawl/failed/TimeoutError": 1,
        "log_count/ERROR": 1,
        "scheduler/enqueued": 146,
        "relevance/irrelevant": 9,
    }
    now = Snapshot.of(stats, backlog=5, backlog_bytes=12 * 1024 * 1024)
    line = progress_line(now, before, 30)
    assert line == (
        "Progress: 70 pages (120/min), 32 articles (60/min), 9 not relevant, 4 rendered, WARC 3.0 MB, "
        "upload backlog 5 (12.0 MB), "
        "3 failed, 1 errors"
    )
    # Without a spool to ask, the count from the stats alone.
    assert "upload backlog 5, " in progress_line(Snapshot.of(stats, backlog=5), before, 30)
    bar = progress_bar(now, width=10)
    assert bar.startswith("[#####.....]  50% 73/146 requests | 32 articles")


def test_progress_extension_logs_and_draws(caplog: pytest.LogCaptureFixture) -> None:
    crawler = get_crawler(settings_dict={"PROGRESS_INTERVAL": 30, "PROGRESS_BAR": "on"})
    assert crawler.stats is not None
    stream = io.StringIO()
    ext = ProgressExtension(
        ProgressConfig.from_settings(crawler.settings, stream), crawler.stats, crawler, stream
    )
    crawler.stats.set_value("response_received_count", 12)
    crawler.stats.set_value("storage/pending", 7)
    ext.draw_bar()
    with caplog.at_level("INFO", logger="crawler.progress"):
        line = ext.log_progress()
    assert "12 pages" in line and "upload backlog 7" in line
    assert line in caplog.text
    # The bar was drawn in place, then cleared before the log line.
    assert stream.getvalue().startswith("\r[") and stream.getvalue().endswith("\r\x1b[K")


def test_progress_settings() -> None:
    tty = io.StringIO()  # not a terminal
    assert ProgressConfig.from_settings(Settings({"PROGRESS_BAR": "auto"}), tty).bar is False
    assert ProgressConfig.from_settings(Settings({"PROGRESS_BAR": "on"}), tty).bar is True
    assert ProgressConfig.from_settings(Settings({}), tty).interval == 30
    with pytest.raises(ConfigError, match="PROGRESS_BAR must be one of auto, on, off, got 'maybe'"):
        ProgressConfig.from_settings(Settings({"PROGRESS_BAR": "maybe"}), tty)
    with pytest.raises(NotConfigured):
        ProgressExtension.from_crawler(
            get_crawler(settings_dict={"PROGRESS_INTERVAL": 0, "PROGRESS_BAR": "off"})
        )


# --- Prometheus -------------------------------------------------------------------------------------------


def test_metrics_endpoint_exports_stats() -> None:
    crawler = get_crawler()
    stats = crawler.stats
    assert stats is not None
    stats.set_value("start_time", datetime(2024, 5, 1, tzinfo=UTC))
    stats.inc_value("store/articles", 7)
    stats.inc_value("store/articles_by_site/wahaa", 4)
    stats.inc_value("crawl/failed/http_404", 2)
    stats.set_value("storage/pending", 3)
    stats.set_value("warc/bytes", 12345)
    ext = MetricsExtension(MetricsConfig("127.0.0.1", 0), stats.get_stats, "crawl-9")
    ext.start()
    try:
        assert ext.port
        url = f"http://127.0.0.1:{ext.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            first = response.read().decode("utf-8")
        stats.inc_value("store/articles", 1)  # read live at every scrape
        with urllib.request.urlopen(url, timeout=10) as response:
            second = response.read().decode("utf-8")
    finally:
        ext.stop()
    assert "libya_crawl_store_articles_total 7.0" in first
    assert 'libya_crawl_store_articles_by_site_total{site="wahaa"} 4.0' in first
    assert 'libya_crawl_crawl_failed_total{reason="http_404"} 2.0' in first
    assert "# TYPE libya_crawl_storage_pending gauge" in first and "libya_crawl_storage_pending 3.0" in first
    assert "libya_crawl_warc_bytes_total 12345.0" in first
    assert 'libya_crawl_info{crawl_id="crawl-9"} 1.0' in first
    assert "libya_crawl_start_time_seconds 1.7145216e+09" in first
    assert "libya_crawl_store_articles_total 8.0" in second
    assert ext.port is None


def test_metrics_off_by_default() -> None:
    with pytest.raises(NotConfigured):
        MetricsExtension.from_crawler(get_crawler())
    assert split_key("extract/no_article/too-short") == ("extract/no_article", {"reason": "too-short"})


# --- real crawls of the newsroom ---------------------------------------------------------------------------


def store_json(run: CrawlRun, key: str) -> Any:
    return json.loads((run.archive / key).read_text(encoding="utf-8"))


@pytest.mark.slow
def test_report_numbers_equal_the_crawl_stats(newsroom_sources: Path, tmp_path: Path) -> None:
    run = run_crawl(newsroom_sources, tmp_path, crawl_id="report-1", settings=REPORT_SETTINGS)
    assert run.returncode == 0, run.log[-3000:]
    report = store_json(run, "reports/report-1/report.json")
    dumped = store_json(run, "reports/report-1/stats.json")
    manifest = run.manifest()
    assert manifest, "the crawl stored nothing"

    # The stats dump in the store is the crawl's stats (taken at spider close, so the article counters match).
    for key in ("store/articles", "extract/articles", "relevance/relevant", "discovery/requests/article"):
        assert dumped[key] == run.stat(key), key
    assert dumped["finish_reason"] == "finished" and isinstance(dumped["start_time"], str)

    totals = report["totals"]
    assert totals["stored"] == run.stat("store/articles") == len(manifest)
    assert totals["found"] == run.stat("discovery/requests/article")
    assert totals["extracted"] == run.stat("extract/articles")
    assert totals["relevant"] == run.stat("relevance/relevant")
    assert totals["rendered"] == run.stat("render/pages")
    assert totals["failed"] == sum(v for k, v in run.stats.items() if k.startswith("crawl/failed/"))

    per_site_manifest = Counter(line["site"] for line in manifest)
    sites = {row["site"]: row for row in report["sites"]}
    assert set(per_site_manifest) <= set(sites)
    for site, row in sites.items():
        assert row["stored"] == run.stat(f"store/articles_by_site/{site}") == per_site_manifest[site], site
        assert row["relevant"] == run.stat(f"relevance/relevant_by_site/{site}"), site
        lengths = sorted(line["text_chars"] for line in manifest if line["site"] == site)
        if lengths:
            assert row["median_text_chars"] == round(
                (lengths[(len(lengths) - 1) // 2] + lengths[len(lengths) // 2]) / 2
            )
        assert row["drift"] == []
    assert sum(row["stored"] for row in sites.values()) == run.stat("store/articles")
    # Page requisites per site, from the crawl's stats.
    for site, row in sites.items():
        assert row["requisites_fetched"] == run.stat(f"requisites/fetched_by_site/{site}"), site
        assert row["requisites_uncaptured"] == run.stat(f"requisites/uncaptured_by_site/{site}"), site
    assert sum(row["requisites_fetched"] for row in sites.values()) == run.stat("requisites/fetched") > 0

    # Every archive file the crawl stored, with its SHA-256: the WARC files, their CDXJ, the WACZ, the
    # manifest; each hash is that of the object now in the store.
    files = {f["key"]: f for f in report["files"]}
    assert any(k.startswith("wacz/report-1/") for k in files) and "manifests/report-1.jsonl" in files
    assert any(k.startswith("warc/report-1/") and k.endswith(".warc.gz") for k in files)
    assert any(k.startswith("warc/report-1/") and k.endswith(".cdxj") for k in files)
    assert not any(k.startswith(("text/", "reports/")) for k in files)
    for key, entry in files.items():
        data = (run.archive / key).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data), key

    # Markdown and HTML beside it, a local copy in the spool, the paths in the log.
    md = (run.archive / "reports/report-1/report.md").read_text(encoding="utf-8")
    assert f"stored {run.stat('store/articles')}" in md and "wacz/report-1/" in md
    packages = [key for key in files if key.startswith("wacz/report-1/") and key.endswith(".wacz")]
    assert packages
    for key in packages:
        assert f"| `{key}` | {files[key]['size']} | `{files[key]['sha256']}` |" in md
    assert "requisites uncaptured" in md
    assert "<svg" in (run.archive / "reports/report-1/report.html").read_text(encoding="utf-8")
    local = tmp_path / "spool" / "reports" / "report-1" / "report.html"
    assert local.exists()
    assert f"Crawl report: {local}" in run.log
    # One health line per site with pages, for the next run to compare with.
    for site in per_site_manifest:
        lines = (run.archive / "state" / "health" / f"{site}.jsonl").read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["crawl_id"] for line in lines] == ["report-1"]


def shorten_bodies(newsroom: Newsroom, site: str) -> int:
    """Cut every article of ``site`` to a short (still relevant) body, as a broken extractor would see it."""
    short = [
        "أعلنت حكومة الوحدة الوطنية في طرابلس عن اجتماع أمني في ليبيا.",
        "وقال المتحدث إن الوضع في العاصمة الليبية طرابلس مستقر.",
    ]
    articles = [a for a in newsroom.articles if a.site == site]
    for article in articles:
        newsroom.edit(article.id, short)
    return len(articles)


@pytest.mark.slow
def test_layout_drift_is_reported(tmp_path: Path) -> None:
    site = "wahaa"
    # Its own newsroom: the redesign must not leak into other tests' session newsroom.
    with Newsroom() as newsroom:
        sources = newsroom.write_sources(tmp_path / "sources.yaml")
        first = run_crawl(sources, tmp_path, crawl_id="drift-1", settings=REPORT_SETTINGS)
        assert first.returncode == 0, first.log[-3000:]
        assert "layout drift" not in first.log
        # The redesign: the v2 template, and (since the extractor copes with v2 on its own) the body the
        # extractor now finds is a two-sentence stub.
        newsroom.set_template(site, "v2")
        assert shorten_bodies(newsroom, site) > 0
        # The extractor keeps ~400 characters of the v2 page's boilerplate around the stub (median 764 -> ~530
        # characters): a 0.75 ratio (DRIFT_MEDIAN_RATIO, default 0.5) catches that fall.
        drift_settings = {**REPORT_SETTINGS, "DRIFT_MEDIAN_RATIO": "0.75"}
        second = run_crawl(sources, tmp_path, crawl_id="drift-2", settings=drift_settings)
    assert second.returncode == 0, second.log[-3000:]
    drift_lines = [line for line in second.log.splitlines() if "layout drift on site" in line]
    assert drift_lines and all(f"layout drift on site {site}:" in line for line in drift_lines)
    assert any("WARNING" in line and "median text length fell" in line for line in drift_lines)
    report = store_json(second, "reports/drift-2/report.json")
    assert {w["site"] for w in report["warnings"]} == {site}
    md = (second.archive / "reports/drift-2/report.md").read_text(encoding="utf-8")
    assert f"layout drift on site {site}: median text length fell" in md
    history = (second.archive / "state" / "health" / f"{site}.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["crawl_id"] for line in history] == ["drift-1", "drift-2"]
