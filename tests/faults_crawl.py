"""Shared by the fault and crash tests: the settings that switch on the fault-handling components, and the
session-wide fault crawl (``fault_crawl``) that every ``tests/test_faults_*.py`` test reads its results from.

Until ``crawler/settings.py`` lists them, the components are added here on top of the project's own
component dicts (read from the module, so entries other engineers add are kept).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler import settings as project
from newsroom.faults import FaultSite
from tests.crawling import CrawlRun, crawl_settings, run_crawl, scrapy_command

VENV_BIN = Path(sys.executable).parent

#: Fast and strict: no politeness delays, short timeouts, two retries (see the issue).
FAULT_SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_TIMEOUT": "3",
    "RETRY_TIMES": "2",
    "EXTRACT_WORKERS": "1",
}


def component_settings() -> dict[str, str]:
    """DOWNLOADER_MIDDLEWARES, SPIDER_MIDDLEWARES, EXTENSIONS and ADDONS with the fault components added."""
    downloader = {**project.DOWNLOADER_MIDDLEWARES, "crawler.retry_after.RetryAfterMiddleware": 555}
    spider = {**getattr(project, "SPIDER_MIDDLEWARES", {}), "crawler.recovery.SkipDoneSpiderMiddleware": 50}
    extensions = {**project.EXTENSIONS, "crawler.recovery.CrawlRecoveryExtension": 95}
    addons = {**project.ADDONS, "crawler.validation.SettingsValidator": -100}
    return {
        "DOWNLOADER_MIDDLEWARES": json.dumps(downloader),
        "SPIDER_MIDDLEWARES": json.dumps(spider),
        "EXTENSIONS": json.dumps(extensions),
        "ADDONS": json.dumps(addons),
    }


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "warcio"), "check", str(path)], capture_output=True, text=True, check=False
    )


# --- one crawl over every fault, shared by tests/test_faults_*.py --------------------------------------------
MAX_SIZE = 1024 * 1024
WARN_SIZE = 256 * 1024
CRAWL_ID = "faults"


@dataclass
class FaultCrawl:
    """The finished fault crawl: the run, the sites it crawled and what its WARC files hold."""

    run: CrawlRun
    site: FaultSite
    robots_5xx: FaultSite
    robots_timeout: FaultSite
    robots_404: FaultSite
    offsite: FaultSite
    workdir: Path
    warcs: list[Path] = field(default_factory=list)
    warc_checks: dict[Path, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    # target URI -> HTTP statuses of its response/revisit records, in WARC order
    captures: dict[str, list[int]] = field(default_factory=dict)

    def manifest_urls(self) -> list[str]:
        return [line["url"] for line in self.run.manifest()]

    def assert_healthy(self) -> None:
        """What every fault test checks first: clean finish, valid WARCs, nothing left open."""
        assert self.run.returncode == 0, self.run.log[-3000:]
        assert self.run.stats.get("finish_reason") == "finished"
        assert self.warcs, "no WARC file written"
        for path, check in self.warc_checks.items():
            assert check.returncode == 0, (path, check.stdout, check.stderr)
        assert not list(self.workdir.rglob("*.open"))

    def assert_archived_once(self, url: str) -> None:
        urls = self.manifest_urls()
        assert urls.count(url) == 1, (url, urls)

    def assert_not_archived(self, url: str) -> None:
        assert url not in self.manifest_urls()

    def stat(self, key: str) -> int:
        return int(self.run.stats.get(key, 0))


def _read_captures(warcs: list[Path]) -> dict[str, list[int]]:
    captures: dict[str, list[int]] = {}
    for path in warcs:
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type in ("response", "revisit") and record.http_headers is not None:
                    uri = record.rec_headers.get_header("WARC-Target-URI")
                    captures.setdefault(uri, []).append(int(record.http_headers.get_statuscode()))
    return captures


@pytest.fixture(scope="session")
def fault_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultCrawl]:
    workdir = tmp_path_factory.mktemp("fault-crawl")
    with (
        FaultSite("offsite", articles=1, faults=(), first_story=30) as offsite,
        FaultSite(
            max_size=MAX_SIZE,
            warn_size=WARN_SIZE,
            timeout=float(FAULT_SETTINGS["DOWNLOAD_TIMEOUT"]),
            offsite_url=offsite.url("/news/story-1"),
        ) as site,
        FaultSite("robots5xx", robots="5xx", articles=2, faults=(), first_story=20) as robots_5xx,
        FaultSite("robotstimeout", robots="timeout", articles=2, faults=(), first_story=25) as robots_timeout,
        FaultSite("robots404", robots="404", articles=2, faults=(), first_story=28) as robots_404,
    ):
        sources = site.write_sources(workdir / "sources.yaml", robots_5xx, robots_timeout, robots_404)
        settings = {
            **FAULT_SETTINGS,
            **component_settings(),
            "DOWNLOAD_MAXSIZE": str(MAX_SIZE),
            "DOWNLOAD_WARNSIZE": str(WARN_SIZE),
            "REDIRECT_MAX_TIMES": "3",
            "RETRY_AFTER_MAX_DELAY": "60",
            # An unreachable robots.txt is asked once more, a second after it failed.
            "ROBOTSTXT_UNREACHABLE_RETRIES": "1",
            "ROBOTSTXT_UNREACHABLE_RETRY_DELAY": "1",
        }
        run = run_crawl(sources, workdir, crawl_id=CRAWL_ID, settings=settings, timeout=300)
        warcs = sorted(workdir.rglob("*.warc.gz"))
        yield FaultCrawl(
            run=run,
            site=site,
            robots_5xx=robots_5xx,
            robots_timeout=robots_timeout,
            robots_404=robots_404,
            offsite=offsite,
            workdir=workdir,
            warcs=warcs,
            warc_checks={path: warcio_check(path) for path in warcs},
            captures=_read_captures(warcs),
        )


def crawl_command(sources: Path, workdir: Path, crawl_id: str, settings: dict[str, str]) -> list[str]:
    """The ``scrapy crawl libya`` command line ``tests.crawling.run_crawl`` runs, for ``subprocess.Popen``."""
    return scrapy_command(
        "crawl",
        "libya",
        spider_args={"sources": str(sources)},
        settings=crawl_settings(workdir, crawl_id, settings=settings),
    )
