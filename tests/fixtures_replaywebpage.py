"""pytest plugin: ReplayWeb.page (npm ``replaywebpage``) served with an archive directory, on 127.0.0.1.

ReplayWeb.page is three static files (``index.html``, ``ui.js``, ``sw.js``: wabac.js, the replay engine, runs
in the service worker); ``scripts/replaywebpage.sh`` fetches them into ``.replaywebpage/`` (``make deps``
runs it; the session fixture ``replaywebpage_dir`` runs the idempotent script too). ``replaywebpage_in(dir)``
serves them at ``/`` and ``dir`` at ``/data/`` from one origin (``archive.replayweb``: a service worker needs a secure context,
``127.0.0.1`` is one; HTTP Range requests answered, which wabac.js reads a WACZ with).

Enable with ``pytest_plugins = ["tests.fixtures_replaywebpage"]`` (tests/conftest.py does).
Env: ``REPLAYWEBPAGE_DIR`` overrides the location of the static files.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from archive.replayweb import serve

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ReplayWebPage:
    """A running ReplayWeb.page: ``app_url`` is its page, ``data_url(rel)`` a file of the served directory."""

    app_url: str
    directory: Path

    def data_url(self, relative: str | Path) -> str:
        return f"{self.app_url}data/{Path(relative).as_posix()}"


@pytest.fixture(scope="session")
def replaywebpage_dir() -> Path:
    """The directory with ReplayWeb.page's static files, fetched by scripts/replaywebpage.sh when missing."""
    directory = Path(os.environ.get("REPLAYWEBPAGE_DIR", ROOT / ".replaywebpage"))
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "replaywebpage.sh"), str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"scripts/replaywebpage.sh failed:\n{result.stdout}\n{result.stderr}"
    return directory


@pytest.fixture
def replaywebpage_in(
    replaywebpage_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[Path], ReplayWebPage]]:
    """Factory: ``replaywebpage_in(directory)`` -> ReplayWeb.page at ``/``, ``directory`` at ``/data/``."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(directory: Path) -> ReplayWebPage:
        server, thread, _ = serve(replaywebpage_dir, Path(directory))
        servers.append((server, thread))
        return ReplayWebPage(f"http://127.0.0.1:{server.server_address[1]}/", Path(directory))

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()
