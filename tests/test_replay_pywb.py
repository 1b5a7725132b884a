"""Replay in pywb, as an archivist would: WARCs from WarcRotatingWriter, pages asked for by URL and time.

The captures are real fetches from a tiny local server (gzip page, Arabic-path page, redirect), turned into
``Capture``s with the bytes as received, written, and then replayed in raw (``id_``) and rewritten (``mp_``)
modes; a second crawl session's revisit record must replay the first session's payload.
"""

from __future__ import annotations

import gzip
import http.client
import json
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from archive.capture import Capture, CaptureRef
from archive.cdxj import write_cdxj
from archive.digests import JsonlDigestIndex
from archive.warc import WarcRotatingWriter
from tests.localserver import serve

GZIP_HTML = "<html><head><title>أخبار طرابلس</title></head><body><p>اجتماع في طرابلس اليوم</p></body></html>"
ARABIC_HTML = "<html><head><title>مقال</title></head><body><p>بنغازي تستضيف مؤتمرا</p></body></html>"
ARABIC_PATH = "/ليبيا/مقال-1"
ARABIC_PATH_ENCODED = urllib.parse.quote(ARABIC_PATH)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = urllib.parse.unquote(self.path)
        if path == "/news/gzip":
            self._send(200, gzip.compress(GZIP_HTML.encode(), mtime=0), [("Content-Encoding", "gzip")])
        elif path == ARABIC_PATH:
            self._send(200, ARABIC_HTML.encode(), [])
        elif path == "/old":
            self._send(301, b"", [("Location", "/news/gzip")])
        else:
            self._send(404, b"not here", [])

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def origin() -> Iterator[str]:
    with serve(_Handler) as url:
        yield url


def fetch(url: str) -> Capture:
    """One GET with http.client (no decoding, no redirects), as a Capture of the bytes received."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    request_headers = [("Host", parts.netloc), ("Accept-Encoding", "gzip"), ("User-Agent", "test-archiver")]
    try:
        conn.putrequest("GET", parts.path or "/", skip_host=True, skip_accept_encoding=True)
        for name, value in request_headers:
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        return Capture(
            url=url,
            method="GET",
            request_headers=request_headers,
            status=resp.status,
            reason=resp.reason,
            response_headers=list(resp.getheaders()),
            body=body,
            fetched_at=datetime.now(UTC),
            protocol="HTTP/1.1",
            ip_address="127.0.0.1",
        )
    finally:
        conn.close()


def ts14(ref: CaptureRef) -> str:
    return ref.warc_date[:19].replace("-", "").replace("T", "").replace(":", "")


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET without decoding or following redirects: status, headers, raw body."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        conn.request("GET", url[len(f"{parts.scheme}://{parts.netloc}") :])
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def get_iri(url: str) -> tuple[int, dict[str, str], bytes]:
    """GET a replay URL written with a raw IRI in it, encoded the way a browser or requests sends it.

    Raw UTF-8 bytes are not allowed in an HTTP request line (pywb's gevent server answers 400), so the
    "raw form" reaches pywb percent-encoded by the client, not by us.
    """
    return get(urllib.parse.quote(url, safe="/:?&=%@!$'()*+,;~#"))


def cdx_lookup(server: Any, url: str) -> list[dict[str, str]]:
    """pywb's CDX API for ``url`` (a raw IRI or a URI): the archived captures it resolves to."""
    query = urllib.parse.urlencode({"url": url, "output": "json"})
    status, _, body = get(f"{server.base_url}/{server.coll}/cdx?{query}")
    assert status == 200
    return [json.loads(line) for line in body.decode("utf-8").splitlines() if line.strip()]


def decoded(headers: dict[str, str], body: bytes) -> bytes:
    return gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body


def test_pages_replay_raw_and_rewritten(origin: str, tmp_path: Path, pywb_replay) -> None:
    gzip_url = f"{origin}/news/gzip"
    arabic_iri = origin + ARABIC_PATH
    with WarcRotatingWriter(tmp_path / "warc", "TEST", "crawl-1", warcinfo={"operator": "t"}) as writer:
        captures = {
            "gzip": fetch(gzip_url),
            "arabic": fetch(origin + ARABIC_PATH_ENCODED),
            "redirect": fetch(f"{origin}/old"),
        }
        # The browser path hands IRIs over as they appear in the page; store it under its IRI form.
        captures["arabic"] = Capture(**{**captures["arabic"].__dict__, "url": arabic_iri})
        refs = {name: writer.write_capture(capture) for name, capture in captures.items()}
    assert captures["gzip"].body == gzip.compress(GZIP_HTML.encode(), mtime=0)
    assert refs["arabic"].target_uri == origin + ARABIC_PATH_ENCODED

    server = pywb_replay(writer.finished_files)

    # id_: the original body. pywb undoes the archived gzip Content-Encoding itself and says so.
    status, headers, body = get(server.url(ts14(refs["gzip"]), "id_", gzip_url))
    assert status == 200
    assert headers.get("x-archive-orig-content-encoding") == "gzip"
    assert decoded(headers, body) == GZIP_HTML.encode()

    for target in (origin + ARABIC_PATH_ENCODED, origin + ARABIC_PATH_ENCODED.lower()):
        status, headers, body = get(server.url(ts14(refs["arabic"]), "id_", target))
        assert status == 200, target
        assert decoded(headers, body) == ARABIC_HTML.encode()
    # The raw IRI form: in a replay URL (client-encoded), and in pywb's index lookup (canonicalised by pywb).
    status, headers, body = get_iri(server.url(ts14(refs["arabic"]), "id_", arabic_iri))
    assert status == 200 and decoded(headers, body) == ARABIC_HTML.encode()
    for form in (arabic_iri, origin + ARABIC_PATH_ENCODED):
        (line,) = cdx_lookup(server, form)
        assert line["url"] == refs["arabic"].target_uri and line["timestamp"] == ts14(refs["arabic"])

    # mp_: rewritten for the browser, the page text is there.
    status, headers, body = get(server.url(ts14(refs["gzip"]), "mp_", gzip_url))
    assert status == 200
    assert "اجتماع في طرابلس اليوم" in decoded(headers, body).decode("utf-8")
    status, headers, body = get(server.url(ts14(refs["arabic"]), "mp_", origin + ARABIC_PATH_ENCODED))
    assert status == 200 and "بنغازي تستضيف مؤتمرا" in decoded(headers, body).decode("utf-8")
    status, headers, body = get_iri(server.url(ts14(refs["arabic"]), "mp_", arabic_iri))
    assert status == 200 and "بنغازي تستضيف مؤتمرا" in decoded(headers, body).decode("utf-8")

    # The redirect was archived as its own record and replays as a redirect to the archived target.
    status, headers, _ = get(server.url(ts14(refs["redirect"]), "id_", f"{origin}/old"))
    assert status in (301, 302, 307)
    assert headers["location"].endswith("/news/gzip")


def test_revisit_replays_earlier_payload_and_own_cdxj_works(origin: str, tmp_path: Path, pywb_replay) -> None:
    gzip_url = f"{origin}/news/gzip"
    index_file = tmp_path / "digests.jsonl"
    index = JsonlDigestIndex(index_file)
    with WarcRotatingWriter(tmp_path / "w1", "TEST", "crawl-1", warcinfo={}, digest_index=index) as first:
        original = first.write_capture(fetch(gzip_url))
    index.close()
    index = JsonlDigestIndex.load_bytes(index.dump_bytes(), tmp_path / "again" / "digests.jsonl")
    later = fetch(gzip_url)
    later = Capture(**{**later.__dict__, "fetched_at": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)})
    with WarcRotatingWriter(tmp_path / "w2", "TEST", "crawl-2", warcinfo={}, digest_index=index) as second:
        revisit = second.write_capture(later)
    index.close()
    assert revisit.revisit and ts14(revisit) == "20300102030405"

    warcs = first.finished_files + second.finished_files
    # Replay from our own CDXJ indexes rather than pywb's, to prove they are pywb-compatible.
    server = pywb_replay(warcs, cdxj_files=[write_cdxj(p) for p in warcs])
    for ref in (original, revisit):
        status, headers, body = get(server.url(ts14(ref), "id_", gzip_url))
        assert status == 200, ref
        assert decoded(headers, body) == GZIP_HTML.encode()
    status, headers, body = get(server.url(ts14(revisit), "mp_", gzip_url))
    assert status == 200 and "اجتماع في طرابلس اليوم" in decoded(headers, body).decode("utf-8")
