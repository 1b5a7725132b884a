"""A 304 to a conditional request is archived as a server-not-modified revisit of the earlier capture."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archive.capture import Capture
from archive.warc import NOT_MODIFIED_PROFILE, WarcRotatingWriter


def _capture(status: int, body: bytes, extra: dict[str, str] | None = None) -> Capture:
    return Capture(
        url="http://127.0.0.1:8000/news.php?id=7",
        method="GET",
        request_headers=[("Host", "127.0.0.1:8000")],
        status=status,
        reason="OK" if status == 200 else "Not Modified",
        response_headers=[("ETag", '"v1"')] + ([("Content-Type", "text/html")] if body else []),
        body=body,
        fetched_at=datetime.now(UTC),
        extra=extra or {},
    )


def test_304_becomes_server_not_modified_revisit(tmp_path: Path) -> None:
    writer = WarcRotatingWriter(tmp_path, "T", "c1", warcinfo={"operator": "test"})
    first = writer.write_capture(_capture(200, b"<html>article</html>"))
    extra = {
        "refers_to_uri": first.target_uri,
        "refers_to_date": first.warc_date,
        "refers_to_record_id": first.record_id,
        "refers_to_payload_digest": first.payload_digest or "",
    }
    second = writer.write_capture(_capture(304, b"", extra))
    files = writer.close()
    assert second.revisit
    records = []
    for path in files:
        with path.open("rb") as fh:
            records += [(r.rec_type, r.rec_headers, r.content_stream().read()) for r in ArchiveIterator(fh)]
    revisits = [(headers, block) for rec_type, headers, block in records if rec_type == "revisit"]
    assert len(revisits) == 1
    headers, block = revisits[0]
    # No HTTP headers in the revisit: replay takes the original's "200 OK", headers and payload (a block
    # with the 304's headers replayed as "304 Not Modified" in pywb). The 304 answer is kept beside it.
    assert headers.get_header("Content-Length") == "0" and block == b""
    answers = [(h, b) for rec_type, h, b in records if rec_type == "metadata"]
    assert len(answers) == 1
    answer_headers, answer = answers[0]
    assert answer_headers.get_header("WARC-Refers-To") == headers.get_header("WARC-Record-ID")
    assert answer_headers.get_header("WARC-Target-URI") == "urn:not-modified:" + first.target_uri
    assert answer.startswith(b"HTTP/1.1 304 Not Modified\r\n") and b'ETag: "v1"' in answer
    assert headers.get_header("WARC-Profile") == NOT_MODIFIED_PROFILE
    assert headers.get_header("WARC-Refers-To") == first.record_id
    assert headers.get_header("WARC-Refers-To-Target-URI") == first.target_uri
    assert headers.get_header("WARC-Refers-To-Date") == first.warc_date
    assert headers.get_header("WARC-Payload-Digest") == first.payload_digest
    warcio = Path(sys.executable).with_name("warcio")
    check = subprocess.run([str(warcio), "check", *map(str, files)], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
