"""ReplayWeb.page served with an archive directory: its static files at ``/``, the directory at ``/data/``.

ReplayWeb.page (npm ``replaywebpage``; ``scripts/replaywebpage.sh`` fetches it into ``.replaywebpage/``) is
three static files: ``index.html``, ``ui.js`` and ``sw.js`` (wabac.js, the replay engine, runs in its
service worker). A service worker needs a secure context: ``localhost``/``127.0.0.1`` is one, so the server
binds there. wabac.js reads a WACZ by HTTP Range requests (the ZIP directory, then single records), which
this server answers (``SimpleHTTPRequestHandler`` does not). ``serve(app_dir, data_dir)`` starts it in a
thread; open ``<url>?source=<url of a .wacz or collection.json under /data/>``.
"""

from __future__ import annotations

import re
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

APP_FILES = ("index.html", "ui.js", "sw.js")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _handler(app: Path, data: Path) -> type[SimpleHTTPRequestHandler]:
    app, data = app.resolve(), data.resolve()

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def translate_path(self, path: str) -> str:
            path = path.split("?", 1)[0].split("#", 1)[0]
            if path.startswith("/data/"):
                base, rest = data, path[len("/data/") :]
            else:
                base, rest = app, path.lstrip("/")
                if rest not in ("", *APP_FILES):
                    return str(app / "-not-found-")
            target = (base / rest).resolve()
            return str(target if target.is_relative_to(base) else base / "-not-found-")

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


def serve(
    app_dir: Path, data_dir: Path, host: str = "127.0.0.1", port: int = 0
) -> tuple[ThreadingHTTPServer, threading.Thread, str]:
    """Start serving in a daemon thread; returns the server, its thread and its base URL (ends with ``/``)."""
    missing = [name for name in APP_FILES if not (app_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{app_dir} lacks {', '.join(missing)}: run `make replaywebpage`")
    server = ThreadingHTTPServer((host, port), _handler(app_dir, data_dir))
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="replaywebpage")
    thread.start()
    bound = server.server_address[1]
    return server, thread, f"http://{'localhost' if host in ('127.0.0.1', 'localhost') else host}:{bound}/"
