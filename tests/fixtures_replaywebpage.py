"""pytest plugin: ReplayWeb.page (npm ``replaywebpage``) served with an archive directory, on 127.0.0.1.

ReplayWeb.page is three static files (``index.html``, ``ui.js``, ``sw.js``: wabac.js, the replay engine, runs
in the service worker); ``scripts/replaywebpage.sh`` fetches them into ``.replaywebpage/`` (``make deps``
runs it; the session fixture ``replaywebpage_dir`` runs the idempotent script too). ``replaywebpage_in(dir)``
serves them at ``/`` and ``dir`` at ``/data/`` from one origin (a service worker needs a secure context:
``127.0.0.1`` is one), answering HTTP Range requests, which wabac.js uses to read a WACZ's ZIP directory
and single records rather than the whole package.

Enable with ``pytest_plugins = ["tests.fixtures_replaywebpage"]`` (tests/conftest.py does).
Env: ``REPLAYWEBPAGE_DIR`` overrides the location of the static files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


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


def _handler(app: Path, data: Path) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def translate_path(self, path: str) -> str:
            path = path.split("?", 1)[0].split("#", 1)[0]
            if path.startswith("/data/"):
                base, rest = data, path[len("/data/") :]
            else:
                base, rest = app, path.lstrip("/")
            target = (base / rest).resolve()
            return str(target if target.is_relative_to(base.resolve()) else base / "-not-found-")

        def end_headers(self) -> None:
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def do_GET(self) -> None:
            match = _RANGE.match(self.headers.get("Range", "").strip())
            path = Path(self.translate_path(self.path))
            if match is None or not path.is_file():
                super().do_GET()
                return
            size = path.stat().st_size
            first, last = match.groups()
            if first:
                start, end = int(first), min(int(last) if last else size - 1, size - 1)
            else:
                start, end = max(0, size - int(last or 0)), size - 1
            if start > end:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
            self.send_response(HTTPStatus.PARTIAL_CONTENT)
            self.send_header("Content-Type", self.guess_type(str(path)))
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Length", str(end - start + 1))
            self.end_headers()
            with path.open("rb") as fh:
                fh.seek(start)
                remaining = end - start + 1
                while remaining > 0:
                    block = fh.read(min(remaining, 1 << 16))
                    if not block:
                        break
                    self.wfile.write(block)
                    remaining -= len(block)

    return Handler


@pytest.fixture
def replaywebpage_in(
    replaywebpage_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[Path], ReplayWebPage]]:
    """Factory: ``replaywebpage_in(directory)`` -> ReplayWeb.page at ``/``, ``directory`` at ``/data/``."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(directory: Path) -> ReplayWebPage:
        app = tmp_path_factory.mktemp("replaywebpage")
        for name in ("index.html", "ui.js", "sw.js"):
            shutil.copy(replaywebpage_dir / name, app / name)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(app, Path(directory)))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return ReplayWebPage(f"http://127.0.0.1:{server.server_address[1]}/", Path(directory))

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()
