"""Shared pytest fixtures: each real local service lives in its own fixture module."""

from __future__ import annotations

import os

from hypothesis import settings

pytest_plugins = [
    "tests.fixtures_newsroom",
    "tests.fixtures_crawl",
    "tests.fixtures_s3",
    "tests.fixtures_redis",
    "tests.fixtures_pywb",
    "tests.fixtures_replaywebpage",
]

# Property tests explore the same examples on every run (and in CI), so a red build always means a change
# broke something; HYPOTHESIS_PROFILE=explore searches new random examples.
settings.register_profile("deterministic", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "deterministic")
