"""Pytest plugin: one full crawl of the offline newsroom per session, shared by the tests that read it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.crawling import CrawlRun, run_crawl


@pytest.fixture(scope="session")
def newsroom_crawl(newsroom: Any, tmp_path_factory: pytest.TempPathFactory) -> CrawlRun:
    """``scrapy crawl libya`` over all five newsroom sites; ``.requests`` holds what the newsroom served."""
    workdir = tmp_path_factory.mktemp("newsroom-crawl")
    sources = workdir / "sources.yaml"
    newsroom.write_sources(sources)
    newsroom.reset_requests()
    result = run_crawl(sources, workdir, crawl_id="newsroom-full")
    result.requests = list(newsroom.requests)
    return result
