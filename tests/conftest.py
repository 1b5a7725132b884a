"""Shared pytest fixtures: each real local service lives in its own fixture module."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures_newsroom",
    "tests.fixtures_crawl",
    "tests.fixtures_s3",
    "tests.fixtures_redis",
    "tests.fixtures_pywb",
]
