"""Politeness with politeness on: what each site sees of a crawl, per download slot (host and port).

Every site here is a ``newsroom.faults.FaultSite`` on 127.0.0.1, each on its own port, as the newsroom's
sites are: politeness is per host and port, so each site is one slot. The server logs when each request
arrived and when its answer was written; the tests check bounds on that log, never how fast a crawl was:

- with the project's defaults (AutoThrottle on, DOWNLOAD_DELAY, CONCURRENT_REQUESTS_PER_DOMAIN), two
  requests of one site, robots.txt included, are at least 0.5 x DOWNLOAD_DELAY apart (Scrapy draws each
  delay between 0.5 and 1.5 times the slot's delay, which AutoThrottle never takes below DOWNLOAD_DELAY),
  and no more than CONCURRENT_REQUESTS_PER_DOMAIN are in flight at once;
- a robots.txt ``Crawl-delay`` spaces the site's requests by at least that much;
- a 429 or 503, with or without Retry-After, holds the whole site back, not only the refused URL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy.settings import Settings

from crawler import settings as project
from crawler.config import ConfigError
from crawler.politeness.config import PolitenessConfig
from crawler.politeness.gate import LocalHostGate
from crawler.validation import validate_settings
from newsroom.faults import FaultSite
from tests.crawling import CrawlRun, run_crawl
from tests.slot_log import DEFAULT_POLITENESS, MIN_SPACING, NOISE, assert_slot_bounds, paced_sites

#: No politeness of Scrapy's own, so what a site sees comes from the rule under test alone.
NO_DELAY = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "EXTRACT_WORKERS": "1"}


@pytest.fixture
def paced() -> Iterator[list[FaultSite]]:
    with paced_sites() as sites:
        yield sites


def crawl(sites: list[FaultSite], tmp_path: Path, settings: dict[str, str]) -> CrawlRun:
    sources = sites[0].write_sources(tmp_path / "sources.yaml", *sites[1:])
    run = run_crawl(sources, tmp_path, crawl_id="polite", settings=settings, timeout=600)
    assert run.returncode == 0, run.log[-3000:]
    return run


def test_default_politeness_holds_per_slot(paced: list[FaultSite], tmp_path: Path) -> None:
    run = crawl(paced, tmp_path, DEFAULT_POLITENESS)
    urls = [line["url"] for line in run.manifest()]
    for site in paced:
        assert sorted(u for u in urls if u.startswith(site.base_url)) == sorted(site.expected_archived)
        assert site.count("/robots.txt") == 1
        # robots.txt is one of the site's requests: it is spaced from the home page like any other.
        assert_slot_bounds(site, spacing=MIN_SPACING, concurrency=project.CONCURRENT_REQUESTS_PER_DOMAIN)


def test_crawl_delay_is_the_hosts_smallest_delay(tmp_path: Path) -> None:
    with (
        FaultSite("slow", articles=3, faults=(), crawl_delay=1.0) as slow,
        FaultSite("quick", articles=3, faults=(), first_story=5) as quick,
    ):
        run = crawl([slow, quick], tmp_path, NO_DELAY)
    assert run.stat(f"robotstxt/crawl_delay/{slow.netloc}") == 1.0
    assert sorted(line["url"] for line in run.manifest()) == sorted(
        slow.expected_archived + quick.expected_archived
    )
    # Every request of the site, robots.txt to the last article, at least Crawl-delay after the one before.
    assert min(slow.spacings()) >= 1.0 - NOISE, sorted(r.at for r in slow.requests)
    # The other site on the same address has no Crawl-delay: it is not held to one.
    assert min(quick.spacings()) < 1.0


def test_the_local_gate_counts_crawl_delay_from_the_end_of_the_last_transfer() -> None:
    # A request let go on time can reach the server late at load (this test's crawl once saw 0.896 s
    # between two requests of a 1 s Crawl-delay host); its answer cannot come back before it arrived, so
    # spacing the next start from that answer holds the delay as the site sees it.
    gate = LocalHostGate(PolitenessConfig.from_settings(Settings()))

    async def body() -> float:
        await gate.set_floor("slot", 0.5)
        lease = await gate.acquire("slot", 0.0, 4)
        await asyncio.sleep(0.4)  # a slow answer
        ended = time.monotonic()
        await gate.release("slot", lease, 200, None)
        lease = await gate.acquire("slot", 0.0, 4)
        await gate.release("slot", lease, 200, None)
        return time.monotonic() - ended

    assert asyncio.run(body()) >= 0.5 - 0.02


def test_429_and_503_hold_the_whole_host(tmp_path: Path) -> None:
    # One request at a time and no delay, so what the site sees after a refusal is only the back-off.
    settings = {**NO_DELAY, "CONCURRENT_REQUESTS_PER_DOMAIN": "1"}
    with FaultSite("busy", articles=8, faults=("rate-limited", "unavailable-bare")) as site:
        run = crawl([site], tmp_path, settings)
    assert sorted(line["url"] for line in run.manifest()) == sorted(site.expected_archived)
    assert run.stat("politeness/backoff/429") == 1 and run.stat("politeness/backoff/503") == 1
    requests = sorted(site.requests, key=lambda r: r.at)
    for path in ("/news/rate-limited", "/news/unavailable-bare"):
        refused = next(r for r in requests if r.path == path)
        later = [r for r in requests if r.at > refused.at]
        assert any(r.path != path for r in later), "no other request of the host came after the refusal"
        assert refused.done is not None
        # Retry-After: 1 (429), and the first back-off of 1 s (503 without Retry-After): nothing of the
        # host, the refused URL or any other, starts sooner.
        first = min(r.at for r in later)
        assert first - refused.done >= 1.0 - NOISE, (path, [(r.path, r.at - refused.done) for r in later[:3]])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ROBOTSTXT_UNREACHABLE_RETRIES", "-1"),
        ("ROBOTSTXT_UNREACHABLE_RETRIES", "two"),
        ("ROBOTSTXT_UNREACHABLE_RETRY_DELAY", "soon"),
    ],
)
def test_a_bad_robots_setting_stops_the_crawl_before_it_starts(name: str, value: str) -> None:
    settings = Settings()
    settings.setmodule(project)
    settings.set(name, value, priority="cmdline")
    with pytest.raises(ConfigError, match=name):
        validate_settings(settings)


def test_a_robots_txt_that_answers_later_releases_the_held_requests(tmp_path: Path) -> None:
    settings = {
        **NO_DELAY,
        "RETRY_TIMES": "2",
        "ROBOTSTXT_UNREACHABLE_RETRIES": "1",
        "ROBOTSTXT_UNREACHABLE_RETRY_DELAY": "1",
    }
    with FaultSite("late", robots="5xx-then-ok", articles=3, faults=()) as site:
        run = crawl([site], tmp_path, settings)
    # Three 503s (RETRY_TIMES=2), then, asked again a second later, the real robots.txt.
    assert site.count("/robots.txt") == 4
    answered = site.times("/robots.txt")[-1]
    pages = [r for r in site.requests if r.path != "/robots.txt"]
    assert pages and all(r.at > answered for r in pages)  # nothing of the host before robots.txt answered
    assert sorted(line["url"] for line in run.manifest()) == sorted(site.expected_archived)
    assert run.stat("robotstxt/recovered") == 1
    assert run.stat(f"robotstxt/unreachable/{site.netloc}") == 0
