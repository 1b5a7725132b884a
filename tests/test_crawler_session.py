"""crawler.session: one owner builds the crawl's archive objects and closes them in its documented order."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy import Spider
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from archive.capture import Capture
from crawler.incremental import IncrementalExtension
from crawler.pipelines.store import StorePipeline
from crawler.report import CrawlReportExtension
from crawler.session import ArchiveSession
from crawler.storage import ArchiveStorageExtension
from crawler.warc import WarcExtension


class _Spider(Spider):
    name = "probe"


def _settings(tmp_path: Path) -> dict[str, object]:
    return {
        "ARCHIVE_URI": str(tmp_path / "archive"),
        "ARCHIVE_SPOOL_DIR": str(tmp_path / "spool"),
        "CRAWL_ID": "c1",
        "OPERATOR_CONTACT": "ops@example.org",
    }


def _capture(url: str, body: bytes) -> Capture:
    return Capture(
        url=url,
        method="GET",
        request_headers=[("Host", "127.0.0.1")],
        status=200,
        reason="OK",
        response_headers=[("Content-Type", "text/html; charset=utf-8")],
        body=body,
        fetched_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )


def test_session_builds_each_object_once_and_others_get_the_same(tmp_path: Path) -> None:
    crawler = get_crawler(_Spider, _settings(tmp_path))
    session = ArchiveSession.from_crawler(crawler)
    try:
        assert session.config.crawl_id == "c1" and session.config.part_name == "c1"
        assert session.config.warc_dir == tmp_path / "spool" / "warc" / "c1"
        # The components that also run alone hand back the session's objects, not new ones.
        assert ArchiveStorageExtension.from_crawler(crawler) is session.storage
        assert WarcExtension.from_crawler(crawler) is session.warc
        assert IncrementalExtension.from_crawler(crawler) is session.state
        assert crawler.warc_archive is session.warc  # type: ignore[attr-defined]
        assert StorePipeline.from_crawler(crawler).session is session
    finally:
        session.close()


def test_close_runs_warc_cdxj_wacz_digests_manifest_state_report_then_drain(tmp_path: Path) -> None:
    crawler = get_crawler(_Spider, _settings(tmp_path))
    session = ArchiveSession.from_crawler(crawler)
    report = CrawlReportExtension.from_crawler(crawler)
    assert session.report is report
    assert session.warc is not None
    ref = session.warc.write_capture(_capture("http://127.0.0.1:1/news/1", "ليبيا".encode() * 50))
    session.warc.add_page(ref.target_uri, ref.warc_date, "t")
    session.manifest.write({"id": "a" * 16, "url": "http://127.0.0.1:1/news/1", "text_key": "text/x.txt"})
    archive = tmp_path / "archive"
    warc = session.warc
    seen: list[tuple[bool, bool]] = []
    # A component's own step runs after the WACZ is built and handed over, before the report is written.
    session.add_closing_step(
        "probe",
        lambda: seen.append(
            (warc.wacz_path is not None, (archive / "reports" / "c1" / "stats.json").exists())
        ),
    )
    left = session.close("finished")
    assert seen == [(True, False)]
    assert left.count == 0
    warcs = sorted(p.name for p in (archive / "warc" / "c1").iterdir())
    assert [n for n in warcs if n.endswith(".warc.gz")] and [n for n in warcs if n.endswith(".cdxj")]
    # One package per WARC file, under the crawl's own directory of packages.
    assert [p.name for p in (archive / "wacz" / "c1").iterdir()] == [
        n.removesuffix(".warc.gz") + ".wacz" for n in warcs if n.endswith(".warc.gz")
    ]
    digests = (archive / "state" / "digests.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["uri"] for line in digests] == ["http://127.0.0.1:1/news/1"]
    assert (archive / "manifests" / "c1.jsonl").read_text(encoding="utf-8").count("\n") == 1
    # The report comes after the WARC step: its stats hold the closed file and every record.
    stats = json.loads((archive / "reports" / "c1" / "stats.json").read_text(encoding="utf-8"))
    assert stats["warc/files"] == len([n for n in warcs if n.endswith(".warc.gz")])
    assert stats["warc/records"] == session.warc.writer.records
    assert (archive / "reports" / "c1" / "report.html").is_file()
    # The local WARC copies went once the WACZ held them; nothing waits in the spool.
    assert not list((tmp_path / "spool" / "warc" / "c1").glob("*.warc.gz"))
    assert not list((tmp_path / "spool" / "warc" / "c1").glob("pages.jsonl"))
    assert not list((tmp_path / "spool" / "objects").glob("*.data"))


def test_components_that_need_the_session_say_so(tmp_path: Path) -> None:
    crawler = get_crawler(_Spider, _settings(tmp_path))
    with pytest.raises(NotConfigured, match="ArchiveSession"):
        StorePipeline.from_crawler(crawler)
