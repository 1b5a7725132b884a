"""Scheduled, incremental crawls on a real scrapyd: deploy the egg, `scrapy schedule`, read the job's outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.state_store import StateStore
from archive.store import open_store
from newsroom import Newsroom
from tests.crawling import FAST, REPO
from tests.test_crawler_incremental import RELEVANT_PARAGRAPHS, incremental_settings

if TYPE_CHECKING:
    from tests.fixtures_scrapyd import Scrapyd

pytest_plugins = ["tests.fixtures_scrapyd"]


def test_deployed_project_lists_the_spider(deployed: Scrapyd) -> None:
    assert "libya" in deployed.get("listprojects.json")["projects"]
    assert deployed.get("listspiders.json", project="libya")["spiders"] == ["libya"]
    assert deployed.get("listversions.json", project="libya")["versions"] == ["1"]
    jobs = deployed.get("listjobs.json", project="libya")
    assert jobs["status"] == "ok" and set(jobs) >= {"pending", "running", "finished"}


def test_schedule_reports_a_refusal(scrapyd: Scrapyd) -> None:
    result = scrapyd.schedule("--project", "no-such-project")
    assert result.returncode == 1
    assert "project 'no-such-project' not found" in result.stderr
    assert result.stdout == ""


def _schedule(server: Scrapyd, jobid: str, sources: Path, work: Path) -> dict[str, Any]:
    settings = {
        **FAST,
        **incremental_settings(),
        "ARCHIVE_URI": str(work / "archive"),
        "ARCHIVE_SPOOL_DIR": str(work / "spool"),
        "CRAWL_STATS_FILE": str(work / f"stats-{jobid}.json"),
        # The egg is a zip: relevance.default_topic_path() (a Path beside the module) cannot be opened from
        # it, so the topic file is named explicitly until that reads package data with importlib.resources.
        "RELEVANCE_TOPIC": str(REPO / "relevance" / "topics" / "libya.yaml"),
    }
    args = ["--sources", str(sources), "--jobid", jobid]
    for name, value in settings.items():
        args += ["-s", f"{name}={value}"]
    result = server.schedule(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == jobid
    job = server.wait(jobid)
    log = server.log(jobid)
    assert "Spider closed (finished)" in log, log[-4000:]
    stats: dict[str, Any] = json.loads((work / f"stats-{jobid}.json").read_text(encoding="utf-8"))
    return {"job": job, "log": log, "stats": stats}


def _warcinfo_names(warc: Path, crawl_id: str) -> bool:
    with warc.open("rb") as stream:
        first = next(iter(ArchiveIterator(stream)))
        return first.rec_type == "warcinfo" and crawl_id in first.content_stream().read().decode("utf-8")


def _manifest(archive: Path, crawl_id: str) -> list[dict[str, Any]]:
    path = archive / "manifests" / f"{crawl_id}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.slow
def test_two_scheduled_crawls_store_only_what_changed(deployed: Scrapyd, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    with Newsroom() as newsroom:
        sources = newsroom.write_sources(tmp_path / "sources.yaml")
        first = _schedule(deployed, "20250101-000000-first", sources, tmp_path)
        # The job id is the crawl id: in the log, the manifest, the WARC names and warcinfo.
        assert "Crawl 20250101-000000-first:" in first["log"]
        stored = _manifest(archive, "20250101-000000-first")
        assert stored and {line["crawl_id"] for line in stored} == {"20250101-000000-first"}
        warcs = sorted((archive / "warc" / "20250101-000000-first").glob("*.warc.gz"))
        assert warcs and all(_warcinfo_names(w, "20250101-000000-first") for w in warcs)

        edited = next(line for line in stored if line["site"] == "wahaa")
        gold = next(a for a in newsroom.articles if edited["url"] in (a.url, a.canonical_url))
        newsroom.edit(gold.id, [*gold.paragraphs, RELEVANT_PARAGRAPHS[1]])
        added = [
            newsroom.publish("wahaa", "اجتماع جديد للمجلس الرئاسي الليبي في طرابلس", RELEVANT_PARAGRAPHS),
            newsroom.publish(
                "wahaa", "مجلس النواب الليبي يناقش الميزانية في بنغازي", RELEVANT_PARAGRAPHS[::-1]
            ),
        ]
        newsroom.reset_requests()
        second = _schedule(deployed, "20250101-060000-second", sources, tmp_path)
        article_paths = {a.url.split("/", 3)[3] for a in newsroom.articles if a.site == "wahaa"}
        wahaa_hits = [r for r in newsroom.requests_for("wahaa") if r.path.lstrip("/") in article_paths]

    assert {line["url"] for line in _manifest(archive, "20250101-060000-second")} == {
        edited["url"],
        *(a.url for a in added),
    }
    stats = second["stats"]
    assert stats.get("incremental/unchanged", 0) > 0
    assert stats.get("incremental/new_versions") == 1
    assert stats.get("incremental/new") == 2
    # Known articles were asked for conditionally; the two new ones were not known, so not conditional.
    conditional = [r for r in wahaa_hits if any(k.lower() == "if-none-match" for k in r.headers)]
    assert len(conditional) >= len(wahaa_hits) - len(added) - 1 > 0
    state = StateStore(open_store(str(archive))).load("wahaa", "check")
    known = state.by_canonical(edited["canonical_url"])
    assert known is not None and known.version == 2 and known.text_crawl == "20250101-060000-second"
    assert first["job"]["id"] == "20250101-000000-first" and second["job"]["id"] == "20250101-060000-second"
