"""The crawl report and the extraction-health drift check, from synthetic stats, manifests and history."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archive.store import open_store
from reporting.health import (
    DriftThresholds,
    HealthLog,
    SiteHealth,
    append_history,
    detect_drift,
    health_key,
    parse_history,
)
from reporting.model import (
    MAX_TITLES_PER_SITE,
    ManifestSummary,
    build_report,
    jsonable_stats,
    load_manifest,
    report_key,
)

ARABIC_TITLE = "اشتباكات في طرابلس وحكومة الوحدة تدعو إلى التهدئة"


def line(
    site: str, n: int, chars: int, *, published: str | None = "2024-05-01", rendered: bool = False
) -> dict[str, Any]:
    return {
        "id": f"{site}-{n}",
        "site": site,
        "url": f"http://{site}.test/a/{n}",
        "title": f"{ARABIC_TITLE} {n}",
        "published": published,
        "text_chars": chars,
        "rendered": rendered,
        "relevance": {"relevant": True, "score": 3.0},
        "fetched_at": f"2024-05-02T10:0{n}:00+00:00",
        "warc": {"filename": "x.warc.gz", "offset": 0, "length": 1000 + n},
    }


def synthetic_stats() -> dict[str, Any]:
    return {
        "start_time": datetime(2024, 5, 2, 10, 0, tzinfo=UTC),
        "finish_time": datetime(2024, 5, 2, 10, 30, tzinfo=UTC),
        "finish_reason": "finished",
        "discovery/requests/article": 13,
        "discovery/articles_by_site/alpha": 8,
        "discovery/articles_by_site/beta": 5,
        "extract/articles": 9,
        "extract/articles_by_site/alpha": 6,
        "extract/articles_by_site/beta": 3,
        "extract/no_article/too-short": 3,
        "extract/no_article_by_site/alpha": 2,
        "extract/no_article_by_site/beta": 1,
        "extract/missing_date": 2,
        "extract/missing_date_by_site/alpha": 2,
        "relevance/relevant": 7,
        "relevance/relevant_by_site/alpha": 4,
        "relevance/relevant_by_site/beta": 3,
        "store/articles": 7,
        "store/articles_by_site/alpha": 4,
        "store/articles_by_site/beta": 3,
        "crawl/failed/http_404": 1,
        "render/pages": 2,
        "warc/bytes": 123456,
        "warc/files": 1,
    }


def synthetic_manifest() -> list[dict[str, Any]]:
    alpha = [line("alpha", i, c) for i, c in enumerate((900, 1100, 1000, 1200))]
    alpha[3]["published"] = None
    beta = [line("beta", i, c, rendered=True) for i, c in enumerate((400, 500, 600))]
    return alpha + beta


def test_report_numbers_per_site_from_stats_and_manifest() -> None:
    report = build_report(
        "crawl-1",
        synthetic_stats(),
        synthetic_manifest(),
        sites=["alpha", "beta", "gamma"],
        store_uri="file:///srv/a",
    )
    sites = {s.site: s for s in report.sites}
    assert list(sites) == ["alpha", "beta", "gamma"]
    alpha, beta, gamma = sites["alpha"], sites["beta"], sites["gamma"]
    assert (alpha.found, alpha.extracted, alpha.stored, alpha.relevant) == (8, 6, 4, 4)
    assert alpha.empty == 2 and alpha.empty_rate == pytest.approx(2 / 8)
    assert alpha.missing_date == 2 and alpha.missing_date_rate == pytest.approx(2 / 6)
    assert alpha.median_text_chars == 1050
    assert alpha.duration_seconds == 180.0
    assert alpha.bytes == 1000 + 1001 + 1002 + 1003
    # Families counted per site: a site without its key had none.
    assert beta.missing_date == 0 and beta.empty_rate == pytest.approx(1 / 4)
    # No per-site render or failure keys with two sites: the manifest gives rendered, failures stay unknown.
    assert beta.rendered == 3 and beta.sources["rendered"] == "manifest"
    assert beta.failed is None
    assert gamma.stored == 0 and gamma.found == 0
    assert report.totals == {
        "found": 13,
        "extracted": 9,
        "relevant": 7,
        "stored": 7,
        "rendered": 2,
        "failed": 1,
        "empty": 3,
        "missing_date": 2,
        "bytes": 123456,
    }
    assert report.duration_seconds == 1800.0
    assert not report.warnings

    md = report.to_markdown()
    assert "| alpha | 8 | 4 | 4 | 0 | — | 25% | 33% | 1050 | 3m00s |" in md
    assert "`file:///srv/a/wacz/crawl-1/`" in md
    assert ".pywb-venv/bin/wb-manager add crawl-1 /srv/a/warc/crawl-1/*.warc.gz" in md
    assert ".pywb-venv/bin/wayback -p 8080" in md

    page = report.to_html()
    assert 'dir="auto"' in page and ARABIC_TITLE in page
    assert page.count("<svg") == 3
    assert 'href="../../wacz/crawl-1/"' in page
    # Self-contained: no script, stylesheet, image or font fetched from anywhere.
    assert not any(marker in page for marker in ("<script", "<link", "<img", "src=", "url("))

    data = report.to_dict()
    json.dumps(data)  # JSON-ready
    assert data["sites"][0]["median_text_chars"] == 1050


def test_single_site_crawl_uses_global_counters() -> None:
    stats = {
        "crawl/failed/http_500": 2,
        "crawl/failed/TimeoutError": 1,
        "render/pages": 4,
        "store/articles": 2,
    }
    report = build_report("c", stats, [line("solo", 0, 800), line("solo", 1, 900)])
    (solo,) = report.sites
    assert solo.failed == 3 and solo.sources["failed"] == "global"
    assert solo.rendered == 4
    assert solo.stored == 2


def test_a_crawl_adds_lines_to_a_summary_that_keeps_no_line_per_article() -> None:
    # The crawl's report extension adds each stored article's line as it goes: what it keeps must not grow
    # with a line (title, URL, relevance, WARC place) per article, and it must make the same report.
    manifest = [line(site, n, 300 + 37 * n, rendered=n % 4 == 0) for site in ("a", "b") for n in range(80)]
    manifest.append(line("a", 99, 10, published=None))
    summary = ManifestSummary()
    for entry in manifest:
        summary.add(entry)
    summary.add("not a line")
    assert build_report("c", {}, summary).to_dict() == build_report("c", {}, manifest).to_dict()
    kept = {t["url"] for s in summary.sites.values() for t in s.titles}
    assert len(kept) == 2 * MAX_TITLES_PER_SITE
    assert all(
        not isinstance(v, list | dict) or k == "titles"
        for s in summary.sites.values()
        for k, v in vars(s).items()
    )
    (a, _) = build_report("c", {}, summary).sites
    assert (
        a.stored == 81
        and a.missing_date == 1
        and a.rendered == 20
        and a.first_fetch == manifest[0]["fetched_at"]
    )


def test_failures_and_text_histogram() -> None:
    report = build_report("c", synthetic_stats(), synthetic_manifest())
    assert report.failures() == [("no article: too-short", 3), ("fetch: http_404", 1)]
    histogram = dict(report.text_histogram())
    assert histogram["250–500"] == 1 and histogram["500–1000"] == 3 and histogram["1000–2000"] == 3
    assert sum(histogram.values()) == 7


def test_s3_replay_commands_download_first() -> None:
    report = build_report("run/7", {}, [], store_uri="s3://bucket/libya")
    commands = report.replay_commands()
    assert commands[0] == "aws s3 sync s3://bucket/libya/warc/run-7/ ./warc/run-7/"
    assert commands[2].endswith("add run-7 ./warc/run-7/*.warc.gz")
    assert report_key("run/7", "report.html") == "reports/run-7/report.html"


def test_jsonable_stats_and_manifest_loading() -> None:
    stats = jsonable_stats({"b": 1, "a": datetime(2024, 1, 1, tzinfo=UTC), "c": object})
    assert stats["a"] == "2024-01-01T00:00:00+00:00" and list(stats) == ["a", "b", "c"]
    assert isinstance(stats["c"], str)
    body = b'{"site": "x", "text_chars": 5}\nnot json\n\n{"site": "y"}\n'
    assert [item["site"] for item in load_manifest(body)] == ["x", "y"]


# --- drift ------------------------------------------------------------------------------------------------


def run(crawl_id: str, median: int, *, articles: int = 20, empty: int = 0, missing: int = 0) -> SiteHealth:
    return SiteHealth(crawl_id, "wahaa", "2024-05-01T00:00:00+00:00", articles, empty, missing, median)


STABLE = [run("r1", 1000), run("r2", 1100, empty=1), run("r3", 950, missing=1)]


def test_collapsed_median_text_length_is_drift() -> None:
    warnings = detect_drift(run("r4", 300), STABLE)
    assert [w.metric for w in warnings] == ["median_text_chars"]
    assert warnings[0].message.startswith("layout drift on site wahaa: median text length fell to 300")
    assert warnings[0].previous == 1000 and warnings[0].runs == 3


def test_stable_runs_raise_nothing() -> None:
    assert detect_drift(run("r4", 990, empty=1, missing=1), STABLE) == []
    assert detect_drift(run("r4", 501), STABLE) == []  # above half of the previous median
    assert detect_drift(run("r1", 10), [run("r1", 1000)]) == []  # the same crawl is not history
    assert detect_drift(run("r4", 10), []) == []  # nothing to compare with


def test_rate_rises_of_30_points_are_drift() -> None:
    empty = detect_drift(run("r4", 1000, articles=14, empty=6), STABLE)  # 6/20 = 30 %, previous median 0 %
    assert [w.metric for w in empty] == ["empty_rate"]
    assert "empty-text rate rose to 30% from 0%" in empty[0].message
    assert detect_drift(run("r4", 1000, articles=16, empty=4), STABLE) == []  # +20 points
    dates = detect_drift(run("r4", 1000, missing=10), STABLE)
    assert [w.metric for w in dates] == ["missing_date_rate"]


def test_site_that_extracts_nothing_any_more() -> None:
    warnings = detect_drift(SiteHealth("r4", "wahaa", "", 0, 20, 0, None), STABLE)
    assert {w.metric for w in warnings} == {"articles", "empty_rate"}
    # Nothing fetched at all is not a layout change.
    assert detect_drift(SiteHealth("r4", "wahaa", "", 0, 0, 0, None), STABLE) == []


def test_thresholds_are_configurable_and_checked() -> None:
    assert detect_drift(run("r4", 700), STABLE, DriftThresholds(median_ratio=0.8))
    assert detect_drift(run("r4", 1000, articles=18, empty=2), STABLE, DriftThresholds(rate_rise=0.1))
    with pytest.raises(ValueError):
        DriftThresholds(median_ratio=1.5)


def test_report_carries_drift_warnings() -> None:
    history = {"alpha": [run("r1", 3000), run("r2", 3100)]}
    history["alpha"] = [
        SiteHealth(h.crawl_id, "alpha", h.at, 6, 0, 0, h.median_text_chars) for h in history["alpha"]
    ]
    report = build_report("crawl-1", synthetic_stats(), synthetic_manifest(), history=history)
    # alpha's median text fell from ~3050 to 1050, and 2 of its 6 articles lost their date (0 before).
    assert [(w.site, w.metric) for w in report.warnings] == [
        ("alpha", "median_text_chars"),
        ("alpha", "missing_date_rate"),
    ]
    message = report.warnings[0].message
    assert message.startswith("layout drift on site alpha: median text length fell to 1050")
    assert message in report.to_markdown()
    assert "layout drift on site alpha" in report.to_html()
    assert message in report.summary_lines()


def test_health_history_appends_in_the_store(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "archive"))
    log = HealthLog(store)
    assert log.load("wahaa") == []
    for health in STABLE:
        assert log.append(health) == "state/health/wahaa.jsonl"
    loaded = log.load("wahaa")
    assert [h.crawl_id for h in loaded] == ["r1", "r2", "r3"]
    assert loaded[1] == STABLE[1]
    assert health_key("Wahaa News") == "state/health/wahaa-news.jsonl"
    body = (tmp_path / "archive" / "state" / "health" / "wahaa.jsonl").read_bytes()
    assert len(body.splitlines()) == 3
    assert json.loads(body.splitlines()[1])["empty_rate"] == round(1 / 21, 4)


def test_history_parsing_tolerates_bad_lines() -> None:
    body = append_history(b'{"crawl_id": "a", "site": "s", "articles": 3}\ngarbage', run("r9", 10))
    assert [h.crawl_id for h in parse_history(body)] == ["a", "r9"]
