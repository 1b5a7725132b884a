"""pytest plugin: the offline newsroom (five local Arabic news sites) as fixtures.

Add ``"tests.fixtures_newsroom"`` to ``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsroom import Newsroom

logger = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def newsroom() -> Iterator[Newsroom]:
    """A started newsroom shared by the whole session (tests that publish/edit must tolerate it)."""
    with Newsroom() as started:
        yield started


@pytest.fixture
def newsroom_sources(tmp_path: Path, newsroom: Newsroom) -> Path:
    """A sources YAML for the running newsroom, written into the test's tmp_path."""
    return newsroom.write_sources(tmp_path / "sources.yaml")
