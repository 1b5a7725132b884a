"""Pytest plugin: a real S3 server (``devtools.seaweed.SeaweedS3``) for the whole session.

The session-scoped ``seaweed`` fixture starts it; ``s3_bucket`` gives each test its own fresh bucket and
makes sure the server is up first (fault tests may have stopped it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.seaweed import SeaweedS3


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A running SeaweedFS for the whole session (fault tests may stop it; ``s3_bucket`` restarts it)."""
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(seaweed: SeaweedS3, request: pytest.FixtureRequest) -> str:
    """A fresh, empty bucket for this test, on a server that is up."""
    seaweed.start()
    return seaweed.create_bucket(request.node.name)


__all__ = ["SeaweedS3", "s3_bucket", "seaweed"]
