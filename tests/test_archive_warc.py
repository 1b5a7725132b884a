"""archive.warc + archive.digests + archive.cdxj: write captures, read every record back with warcio."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from archive.capture import Capture, CaptureRef
from archive.cdxj import read_cdxj, write_cdxj
from archive.digests import JsonlDigestIndex, MemoryDigestIndex
from archive.warc import REVISIT_PROFILE, WarcRotatingWriter, iri_to_uri, payload_digest

WARCIO = Path(sys.executable).with_name("warcio")
WHEN = datetime(2026, 11, 23, 10, 30, 15, 123456, tzinfo=UTC)
ARABIC_URL = "http://news.example.ly/ليبيا/طرابلس?q=مقال"
ARABIC_URI = (
    "http://news.example.ly/%D9%84%D9%8A%D8%A8%D9%8A%D8%A7/%D8%B7%D8%B1%D8%A7%D8%A8%D9%84%D8%B3"
    "?q=%D9%85%D9%82%D8%A7%D9%84"
)


def make_capture(
    url: str = "http://news.example.ly/article/1",
    body: bytes = "<html><body><p>طرابلس</p></body></html>".encode(),
    status: int = 200,
    reason: str = "OK",
    headers: list[tuple[str, str]] | None = None,
    when: datetime = WHEN,
    ip: str | None = "127.0.0.1",
) -> Capture:
    return Capture(
        url=url,
        method="GET",
        request_headers=[("Host", "news.example.ly"), ("Accept-Encoding", "gzip, deflate")],
        status=status,
        reason=reason,
        response_headers=headers
        if headers is not None
        else [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        body=body,
        fetched_at=when,
        ip_address=ip,
    )


def make_writer(directory: Path, **kwargs: object) -> WarcRotatingWriter:
    options: dict[str, object] = {
        "warcinfo": {"operator": "archive@example.org", "robots": "obey", "sources": "sources/libya.yaml"},
        "host": "testhost",
        "crawl_id": "crawl-1",
    }
    options.update(kwargs)
    return WarcRotatingWriter(directory, "LIBYA", **options)  # type: ignore[arg-type]


def read_records(path: Path) -> list[tuple[ArcWarcRecord, bytes]]:
    """Every record of a WARC file with its raw stored payload, digests checked (raises on a mismatch)."""
    out = []
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh, check_digests="raise"):
            out.append((record, record.raw_stream.read()))
    return out


def record_at(ref: CaptureRef, directory: Path) -> ArcWarcRecord:
    with (directory / ref.filename).open("rb") as fh:
        fh.seek(ref.offset)
        chunk = fh.read(ref.length)
    record = next(iter(ArchiveIterator(io.BytesIO(chunk))))
    record.payload = record.raw_stream.read()
    return record


def test_capture_is_written_as_response_and_request(tmp_path: Path) -> None:
    body = gzip.compress("<html><body>خبر عاجل من بنغازي</body></html>".encode())
    capture = make_capture(
        body=body,
        headers=[
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Encoding", "gzip"),
            ("Transfer-Encoding", "chunked"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
        ],
    )
    writer = make_writer(tmp_path)
    ref = writer.write_capture(capture)
    assert writer.current_path is not None and writer.current_path.name.endswith(".warc.gz.open")
    files = writer.close()

    assert len(files) == 1 and files[0].name == ref.filename
    assert not list(tmp_path.glob("*.open"))
    records = read_records(files[0])
    assert [r.rec_type for r, _ in records] == ["warcinfo", "response", "request"]
    info, (response, payload), (request, request_payload) = records[0][0], records[1], records[2]
    assert info.rec_headers.get_header("WARC-Filename") == ref.filename

    assert response.rec_headers.protocol == "WARC/1.1"
    assert response.rec_headers.get_header("WARC-Record-ID") == ref.record_id
    assert response.rec_headers.get_header("WARC-Target-URI") == capture.url == ref.target_uri
    assert response.rec_headers.get_header("WARC-Date") == "2026-11-23T10:30:15.123456Z" == ref.warc_date
    assert response.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
    # Stored still gzip-encoded, exactly the bytes received; chunking was undone so its header is gone.
    assert payload == body
    sha1 = payload_digest(body)
    assert response.rec_headers.get_header("WARC-Payload-Digest") == sha1 == ref.payload_digest
    assert sha1 == "sha1:" + __import__("base64").b32encode(hashlib.sha1(body).digest()).decode()
    assert response.rec_headers.get_header("WARC-Block-Digest").startswith("sha1:")
    assert response.http_headers.get_statuscode() == "200"
    assert response.http_headers.protocol == "HTTP/1.1"
    assert response.http_headers.get_header("Content-Encoding") == "gzip"
    assert response.http_headers.get_header("Transfer-Encoding") is None
    assert [v for k, v in response.http_headers.headers if k == "Set-Cookie"] == ["a=1", "b=2"]

    assert request.rec_headers.get_header("WARC-Concurrent-To") == ref.record_id
    assert request.rec_headers.get_header("WARC-Target-URI") == capture.url
    assert request.http_headers.protocol == "GET"
    assert request.http_headers.statusline == "/article/1 HTTP/1.1"
    assert request.http_headers.get_header("Accept-Encoding") == "gzip, deflate"
    assert request_payload == b""

    again = record_at(ref, tmp_path)
    assert again.rec_type == "response" and again.payload == body
    assert writer.records == 3 and writer.revisits == 0
    assert writer.bytes_written == files[0].stat().st_size


def test_warcio_check_passes(tmp_path: Path) -> None:
    with make_writer(tmp_path) as writer:
        ref = writer.write_capture(make_capture())
        writer.write_capture(
            make_capture(
                url="http://news.example.ly/old",
                status=301,
                reason="Moved Permanently",
                headers=[("Location", "/article/1")],
                body=b"",
            )
        )
        writer.write_metadata(ref, json.dumps({"title": "طرابلس"}).encode())
        writer.write_resource(
            ref.target_uri,
            b"<html>rendered</html>",
            "text/html",
            concurrent_to=ref.record_id,
            record_type="conversion",
        )
    (path,) = writer.finished_files
    result = subprocess.run(
        [str(WARCIO), "check", "-v", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "digest pass" in result.stdout


def test_redirect_is_its_own_response_record(tmp_path: Path) -> None:
    with make_writer(tmp_path) as writer:
        hop = writer.write_capture(
            make_capture(
                url="http://news.example.ly/old",
                status=301,
                reason="Moved Permanently",
                headers=[("Location", "http://news.example.ly/article/1")],
                body=b"",
            )
        )
        final = writer.write_capture(make_capture())
    records = read_records(writer.finished_files[0])
    responses = [r for r, _ in records if r.rec_type == "response"]
    assert [r.http_headers.get_statuscode() for r in responses] == ["301", "200"]
    assert responses[0].http_headers.statusline == "301 Moved Permanently"
    assert responses[0].http_headers.get_header("Location") == "http://news.example.ly/article/1"
    assert hop.record_id != final.record_id and not hop.revisit


def test_revisit_across_two_sessions_with_persisted_index(tmp_path: Path) -> None:
    body = b"<html><body>same article</body></html>"
    index_path = tmp_path / "first" / "digests.jsonl"
    first_index = JsonlDigestIndex(index_path)
    with make_writer(tmp_path / "w1", digest_index=first_index) as writer:
        original = writer.write_capture(make_capture(body=body))
    first_index.close()
    stored = first_index.dump_bytes()  # what the caller keeps in the archive store between crawls
    assert json.loads(stored.decode().splitlines()[0])["digest"] == original.payload_digest

    second_index = JsonlDigestIndex.load_bytes(stored, tmp_path / "second" / "digests.jsonl")
    later = datetime(2026, 11, 24, 8, 0, 0, tzinfo=UTC)
    with make_writer(tmp_path / "w2", crawl_id="crawl-2", digest_index=second_index) as writer:
        revisit = writer.write_capture(
            make_capture(url="http://news.example.ly/article/1?utm=x", body=body, when=later)
        )
        not_found = writer.write_capture(
            make_capture(
                url="http://news.example.ly/missing", body=body, status=404, reason="Not Found", when=later
            )
        )
        fresh = writer.write_capture(make_capture(url="http://news.example.ly/new", body=b"new", when=later))
    second_index.close()

    assert revisit.revisit and not not_found.revisit and not fresh.revisit
    assert writer.revisits == 1
    assert revisit.payload_digest == original.payload_digest
    records = {
        r.rec_headers.get_header("WARC-Record-ID"): (r, p) for r, p in read_records(writer.finished_files[0])
    }
    record, payload = records[revisit.record_id]
    assert record.rec_type == "revisit"
    assert payload == b""
    assert record.rec_headers.get_header("WARC-Profile") == REVISIT_PROFILE
    assert record.rec_headers.get_header("WARC-Refers-To-Target-URI") == original.target_uri
    assert record.rec_headers.get_header("WARC-Refers-To-Date") == original.warc_date
    assert record.rec_headers.get_header("WARC-Payload-Digest") == original.payload_digest
    assert record.http_headers.get_statuscode() == "200"
    assert records[not_found.record_id][0].rec_type == "response"
    # The new payload went into the index file; reopening it sees both.
    reopened = JsonlDigestIndex(tmp_path / "second" / "digests.jsonl")
    assert original.payload_digest in reopened and fresh.payload_digest in reopened and len(reopened) == 2


def test_revisit_within_one_crawl_and_empty_body_not_deduplicated(tmp_path: Path) -> None:
    index = MemoryDigestIndex()
    with make_writer(tmp_path, digest_index=index) as writer:
        first = writer.write_capture(make_capture(url="http://a.example/1"))
        second = writer.write_capture(make_capture(url="http://a.example/2"))
        empty1 = writer.write_capture(make_capture(url="http://a.example/e1", body=b""))
        empty2 = writer.write_capture(make_capture(url="http://a.example/e2", body=b""))
    assert not first.revisit and second.revisit
    assert not empty1.revisit and not empty2.revisit
    assert index.get(first.payload_digest or "") == (first.target_uri, first.warc_date)


def test_rotation_by_size_and_on_close(tmp_path: Path) -> None:
    closed: list[Path] = []
    body = random.Random(7).randbytes(10_000)  # incompressible, so gzip keeps it ~10 KB
    writer = make_writer(tmp_path, max_size=15_000, on_close=closed.append, worker_id="w7-")
    refs = [
        writer.write_capture(make_capture(url=f"http://a.example/{i}", body=body + bytes([i])))
        for i in range(5)
    ]
    assert len(closed) >= 2  # rotated while writing
    open_files = list(tmp_path.glob("*.warc.gz.open"))
    assert len(open_files) == 1
    writer.close()
    assert not list(tmp_path.glob("*.open"))
    assert closed == writer.finished_files and len(closed) == len({r.filename for r in refs})
    names = [p.name for p in closed]
    assert [n.split("-")[2] for n in names] == [f"{i:05d}" for i in range(len(names))]
    for name in names:
        prefix, stamp, _serial, tail = name.split("-", 3)
        assert prefix == "LIBYA" and len(stamp) == 17 and stamp.isdigit()
        assert tail == "w7-testhost.warc.gz"
    for path in closed:
        records = read_records(path)
        assert records[0][0].rec_type == "warcinfo"
        assert [r.rec_type for r, _ in records[1:]].count("warcinfo") == 0
    for ref in refs:
        record = record_at(ref, tmp_path)
        assert record.rec_headers.get_header("WARC-Record-ID") == ref.record_id
    with pytest.raises(RuntimeError):
        writer.write_capture(make_capture())


def test_rotation_by_age_before_a_record_and_from_a_timer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("archive.warc.time.monotonic", lambda: clock[0])
    closed: list[Path] = []
    writer = make_writer(tmp_path, max_age=300, on_close=closed.append)
    assert writer.rotate_if_due() is None  # no file yet
    first = writer.write_capture(make_capture(url="http://a.example/1"))
    clock[0] += 299
    assert writer.rotate_if_due() is None and not closed  # not old enough
    clock[0] += 1
    finished = writer.rotate_if_due()  # an idle file is finished by the timer's call
    assert finished is not None and closed == [finished] and finished.name == first.filename
    assert writer.rotate_if_due() is None  # nothing open: nothing to rotate
    second = writer.write_capture(make_capture(url="http://a.example/2"))
    clock[0] += 300
    third = writer.write_capture(make_capture(url="http://a.example/3"))  # rotated before this record
    assert len({first.filename, second.filename, third.filename}) == 3
    writer.close()
    assert [p.name for p in closed] == [first.filename, second.filename, third.filename]
    with pytest.raises(ValueError, match="max_age"):
        make_writer(tmp_path / "bad", max_age=-1)


def test_arabic_url_is_percent_encoded(tmp_path: Path) -> None:
    assert iri_to_uri(ARABIC_URL) == ARABIC_URI
    assert iri_to_uri(ARABIC_URI) == ARABIC_URI  # already encoded parts are kept
    assert iri_to_uri("http://a.example/%D9%84x/ل#frag") == "http://a.example/%D9%84x/%D9%84"
    assert iri_to_uri("http://مثال.ليبيا/") == "http://xn--mgbh0fb.xn--mgbb7fyab/"
    with make_writer(tmp_path) as writer:
        ref = writer.write_capture(make_capture(url=ARABIC_URL))
    assert ref.target_uri == ARABIC_URI
    records = read_records(writer.finished_files[0])
    for record, _ in records[1:]:
        assert record.rec_headers.get_header("WARC-Target-URI") == ARABIC_URI
    request = next(r for r, _ in records if r.rec_type == "request")
    assert request.http_headers.statusline.startswith("/%D9%84%D9%8A")


def test_header_bytes_round_trip(tmp_path: Path) -> None:
    # Raw UTF-8 in a Location header, decoded by the crawler as latin-1, must be written back unchanged.
    raw_location = "http://a.example/ليبيا".encode()
    with make_writer(tmp_path) as writer:
        writer.write_capture(
            make_capture(
                status=302, reason="Found", body=b"", headers=[("Location", raw_location.decode("latin-1"))]
            )
        )
    data = gzip.decompress(writer.finished_files[0].read_bytes())
    assert b"Location: " + raw_location + b"\r\n" in data


def test_warcinfo_has_crawl_facts_and_no_secrets(tmp_path: Path) -> None:
    info_fields = {
        "operator": "archive@example.org",
        "robots": "obey",
        "sources": "s3://user:hunter2@bucket/sources.yaml",
        "AWS_SECRET_ACCESS_KEY": "hunter2",
        "aws_access_key_id": "AKIAEXAMPLE",
        "http-header-cookie": "session=hunter2",
        "api_token": "hunter2",
    }
    with make_writer(tmp_path, warcinfo=info_fields) as writer:
        writer.write_capture(make_capture())
    info, payload = read_records(writer.finished_files[0])[0]
    assert info.rec_type == "warcinfo"
    text = payload.decode()
    fields = dict(line.split(": ", 1) for line in text.strip().splitlines())
    assert fields["operator"] == "archive@example.org"
    assert fields["robots"] == "obey"
    assert fields["isPartOf"] == "crawl-1"
    assert fields["software"].startswith("libya-news-archiver")
    assert "warcio/" in fields["software"]
    assert fields["sources"] == "s3://bucket/sources.yaml"
    assert "hunter2" not in text and "AKIA" not in text


def test_metadata_and_resource_records(tmp_path: Path) -> None:
    with make_writer(tmp_path) as writer:
        ref = writer.write_capture(make_capture(url=ARABIC_URL))
        meta = writer.write_metadata(ref, b'{"relevant": true}')
        dom = writer.write_resource(
            ARABIC_URL,
            "<html>مقال</html>".encode(),
            "text/html; charset=utf-8",
            concurrent_to=ref.record_id,
            record_type="conversion",
        )
    records = {
        r.rec_headers.get_header("WARC-Record-ID"): (r, p) for r, p in read_records(writer.finished_files[0])
    }
    record, payload = records[meta.record_id]
    assert record.rec_type == "metadata" and payload == b'{"relevant": true}'
    assert record.rec_headers.get_header("WARC-Refers-To") == ref.record_id
    assert record.rec_headers.get_header("WARC-Target-URI") == "urn:text:" + ARABIC_URI == meta.target_uri
    assert record.rec_headers.get_header("WARC-Refers-To-Target-URI") == ARABIC_URI
    assert record.rec_headers.get_header("Content-Type") == "application/json"
    record, payload = records[dom.record_id]
    assert record.rec_type == "conversion" and payload == "<html>مقال</html>".encode()
    assert record.rec_headers.get_header("WARC-Concurrent-To") == ref.record_id
    assert (
        record.rec_headers.get_header("WARC-Payload-Digest") == payload_digest(payload) == dom.payload_digest
    )
    assert record_at(meta, tmp_path).rec_type == "metadata"
    with pytest.raises(ValueError):
        writer.write_resource(ARABIC_URL, b"", "text/plain", record_type="response")


def test_concurrent_writers_share_one_file_safely(tmp_path: Path) -> None:
    writer = make_writer(tmp_path, max_size=50_000)
    refs: list[CaptureRef] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(25):
            ref = writer.write_capture(
                make_capture(url=f"http://a.example/{n}/{i}", body=f"{n}-{i}".encode() * 200)
            )
            with lock:
                refs.append(ref)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    ids = set()
    for path in writer.finished_files:
        for record, _ in read_records(path):
            ids.add(record.rec_headers.get_header("WARC-Record-ID"))
    assert len(refs) == 100 and {r.record_id for r in refs} <= ids
    for ref in refs[::7]:
        assert record_at(ref, tmp_path).rec_headers.get_header("WARC-Record-ID") == ref.record_id


def test_cdxj_index_is_sorted_and_points_at_records(tmp_path: Path) -> None:
    with make_writer(tmp_path) as writer:
        refs = [
            writer.write_capture(make_capture(url="http://b.example/z")),
            writer.write_capture(make_capture(url=ARABIC_URL, body=b"other")),
            writer.write_capture(make_capture(url="http://a.example/x", body=b"third")),
        ]
        writer.write_metadata(refs[0], b"{}")
    (warc,) = writer.finished_files
    cdxj = write_cdxj(warc)
    assert cdxj.name == warc.name.removesuffix(".warc.gz") + ".cdxj"
    lines = read_cdxj(cdxj)
    assert [line[:2] for line in lines] == sorted(line[:2] for line in lines)
    entries = {json.loads(data)["url"]: (key, ts, json.loads(data)) for key, ts, data in lines}
    assert set(entries) == {ref.target_uri for ref in refs}  # no request or metadata lines
    key, ts, data = entries[ARABIC_URI]
    assert key.startswith("ly,example,news)/%d9%84") and ts == "20261123103015"
    ref = refs[1]
    assert (data["filename"], int(data["offset"]), int(data["length"])) == (
        ref.filename,
        ref.offset,
        ref.length,
    )
    assert data["digest"] == ref.payload_digest and data["status"] == "200"
