"""crawler.warc: a real Scrapy crawl (in a subprocess) against a local server, then the WARCs read back."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from archive.capture import Capture
from archive.wacz import validate_wacz
from crawler.config import ConfigError
from crawler.warc import WarcCaptureMiddleware, WarcConfig, WarcExtension
from tests.localserver import serve

ROOT = Path(__file__).resolve().parents[1]
GZ_HTML = "<html><head><title>طرابلس</title></head><body><p>خبر مضغوط عن طرابلس</p></body></html>".encode()
FINAL_HTML = "<html><head><title>بنغازي</title></head><body><p>الصفحة بعد التحويل</p></body></html>".encode()
CHUNKED_HTML = "<html><head><title>مصراتة</title></head><body><p>مقطع</p></body></html>".encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/start":
            body = b'<html><body><a href="/gz">gz</a> <a href="/old">old</a> <a href="/chunked">c</a></body></html>'
            self._send(200, body, [("Content-Type", "text/html")])
        elif self.path == "/gz":
            self._send(
                200,
                gzip.compress(GZ_HTML, mtime=0),
                [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")],
            )
        elif self.path == "/old":
            self._send(301, b"", [("Location", "/final")])
        elif self.path == "/final":
            self._send(200, FINAL_HTML, [("Content-Type", "text/html; charset=utf-8")])
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (CHUNKED_HTML[:20], CHUNKED_HTML[20:]):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._send(404, b"no", [("Content-Type", "text/plain")])

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    with serve(_Handler) as url:
        yield url


CRAWL_SCRIPT = r"""
import json, sys
import scrapy
from scrapy.crawler import CrawlerProcess

start_url, out_dir, warc_dir = sys.argv[1], sys.argv[2], sys.argv[3]


class TestSpider(scrapy.Spider):
    name = "warc-test"
    start_urls = [start_url]

    def parse(self, response):
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, self.parse_article)

    def parse_article(self, response):
        warc = response.meta["warc"]
        title = response.css("title::text").get()
        self.crawler.warc_archive.add_page(warc["target_uri"], warc["warc_date"], title)
        yield {"url": response.url, "title": title, "text": response.text, "warc": warc}


settings = {
    "ROBOTSTXT_OBEY": False,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "INFO",
    "CRAWL_ID": "test-crawl",
    "WARC_ENABLED": True,
    "WACZ_ENABLED": True,
    "WARC_PREFIX": "TEST",
    "WARC_DIR": warc_dir,
    "OPERATOR_CONTACT": "archive@example.org",
    "AWS_SECRET_ACCESS_KEY": "hunter2",
    "EXTENSIONS": {"crawler.warc.WarcExtension": 500},
    "DOWNLOADER_MIDDLEWARES": {"crawler.warc.WarcCaptureMiddleware": 950},
    "FEEDS": {out_dir + "/items.jsonl": {"format": "jsonlines", "encoding": "utf-8"}},
}
process = CrawlerProcess(settings)
crawler = process.create_crawler(TestSpider)
process.crawl(crawler)
process.start()
with open(out_dir + "/stats.json", "w") as fh:
    json.dump({k: v for k, v in crawler.stats.get_stats().items() if k.startswith("warc/")}, fh)
with open(out_dir + "/ready.json", "w") as fh:
    json.dump([str(p) for p in crawler.warc_archive.ready_files], fh)
"""


def test_scrapy_crawl_writes_replayable_warcs(site: str, tmp_path: Path) -> None:
    warc_dir = tmp_path / "warc"
    script = tmp_path / "crawl.py"
    script.write_text(CRAWL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, str(script), f"{site}/start", str(tmp_path), str(warc_dir)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    assert "Traceback" not in result.stderr, result.stderr[-5000:]

    items = {
        json.loads(line)["url"]: json.loads(line)
        for line in (tmp_path / "items.jsonl").read_text().splitlines()
    }
    assert set(items) == {f"{site}/gz", f"{site}/final", f"{site}/chunked"}
    assert "خبر مضغوط" in items[f"{site}/gz"]["text"]  # the spider still sees the decoded page

    warcs = sorted(warc_dir.glob("*.warc.gz"))
    assert len(warcs) == 1 and not list(warc_dir.glob("*.open"))
    assert warcs[0].name.startswith("TEST-")
    records = []
    with warcs[0].open("rb") as fh:
        for record in ArchiveIterator(fh, check_digests="raise"):
            records.append((record, record.raw_stream.read()))
    by_id = {r.rec_headers.get_header("WARC-Record-ID"): (r, p) for r, p in records}
    responses = {
        r.rec_headers.get_header("WARC-Target-URI"): (r, p) for r, p in records if r.rec_type == "response"
    }
    requests = [r for r, _ in records if r.rec_type == "request"]

    info = records[0][1].decode()
    assert records[0][0].rec_type == "warcinfo"
    assert (
        "operator: archive@example.org" in info
        and "isPartOf: test-crawl" in info
        and "robots: ignore" in info
    )
    assert "hunter2" not in info

    # The gzip page: stored compressed, with its Content-Encoding header.
    record, payload = responses[f"{site}/gz"]
    assert record.http_headers.get_header("Content-Encoding") == "gzip"
    assert payload == gzip.compress(GZ_HTML, mtime=0) and gzip.decompress(payload) == GZ_HTML
    assert record.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"

    # The redirect hop is its own record; the final page is another.
    record, payload = responses[f"{site}/old"]
    assert record.http_headers.get_statuscode() == "301"
    assert record.http_headers.statusline == "301 Moved Permanently"
    assert record.http_headers.get_header("Location") == "/final"
    assert responses[f"{site}/final"][1] == FINAL_HTML

    # De-chunked body, so the chunked header is gone.
    record, payload = responses[f"{site}/chunked"]
    assert payload == CHUNKED_HTML and record.http_headers.get_header("Transfer-Encoding") is None

    # A request record per response, linked to it, with the headers Scrapy sent.
    assert len(requests) == len(responses) == 5
    for request in requests:
        response, _ = by_id[request.rec_headers.get_header("WARC-Concurrent-To")]
        assert response.rec_headers.get_header("WARC-Target-URI") == request.rec_headers.get_header(
            "WARC-Target-URI"
        )
        assert request.http_headers.get_header("Host") == site.removeprefix("http://")
        assert "gzip" in request.http_headers.get_header("Accept-Encoding")
        assert request.http_headers.get_header("User-Agent")

    # Callbacks got the final response's record.
    for url, item in items.items():
        assert item["warc"]["filename"] == warcs[0].name
        assert by_id[item["warc"]["record_id"]][0].rec_headers.get_header("WARC-Target-URI") == url
    ref = items[f"{site}/final"]["warc"]
    with warcs[0].open("rb") as fh:
        fh.seek(ref["offset"])
        record = next(iter(ArchiveIterator(io.BytesIO(fh.read(ref["length"])))))
    assert record.rec_headers.get_header("WARC-Record-ID") == ref["record_id"]

    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["warc/records"] == len(records) and stats["warc/files"] == 1
    assert stats["warc/bytes"] == warcs[0].stat().st_size and stats["warc/revisits"] == 0

    cdxj = warcs[0].with_name(warcs[0].name.removesuffix(".warc.gz") + ".cdxj")
    assert cdxj.exists() and len(cdxj.read_text().splitlines()) == 5
    # One package per WARC file, named after it.
    wacz = warc_dir / (warcs[0].name.removesuffix(".warc.gz") + ".wacz")
    validate_wacz(wacz)
    with zipfile.ZipFile(wacz) as zf:
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").decode().splitlines()]
    assert {p["url"] for p in pages[1:]} == set(items)
    assert {p["title"] for p in pages[1:]} == {"طرابلس", "بنغازي", "مصراتة"}
    ready = json.loads((tmp_path / "ready.json").read_text())
    assert ready == [str(warcs[0]), str(cdxj), str(wacz)]


def test_extension_rotates_indexes_and_hands_files_over_in_order(tmp_path: Path) -> None:
    crawler = get_crawler(
        settings_dict={
            "WARC_DIR": str(tmp_path / "w"),
            "CRAWL_ID": "c1",
            "WARC_PREFIX": "T",
            # The smallest size the settings accept; each capture's body (random, so gzip cannot shrink it)
            # is larger, so every capture fills a file.
            "WARC_MAX_SIZE": 1_000_001,
        }
    )
    ext = WarcExtension.from_crawler(crawler)
    assert crawler.warc_archive is ext  # type: ignore[attr-defined]
    handed: list[str] = []

    def broken_hook(path: Path) -> None:
        raise OSError("upload failed")

    ext.on_file_ready += [broken_hook, lambda path: handed.append(path.name)]
    when = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    refs = []
    for i in range(3):
        refs.append(
            ext.write_capture(
                Capture(
                    url=f"http://a.example/{i}",
                    method="GET",
                    request_headers=[],
                    status=200,
                    reason="OK",
                    response_headers=[("Content-Type", "text/html")],
                    body=f"<html><title>{i}</title><!-- {os.urandom(1_200_000).hex()} --></html>".encode(),
                    fetched_at=when,
                )
            )
        )
    ext.add_page(refs[1].target_uri, refs[1].warc_date, "one")
    ext.close()

    warcs = ext.writer.finished_files
    assert len(warcs) == 3  # one capture per file
    # Each file is indexed and handed over as it is finished; its package once the next one is finished
    # (its pages are in by then), the last one's at close.
    stems = [warc.name.removesuffix(".warc.gz") for warc in warcs]
    assert handed == [
        warcs[0].name,
        stems[0] + ".cdxj",
        warcs[1].name,
        stems[1] + ".cdxj",
        stems[0] + ".wacz",
        warcs[2].name,
        stems[2] + ".cdxj",
        stems[1] + ".wacz",
        stems[2] + ".wacz",
    ]
    for stem in stems:
        validate_wacz(tmp_path / "w" / f"{stem}.wacz")
    # The page went into the package of the file that holds its capture, and only there.
    listed = {}
    for stem in stems:
        with zipfile.ZipFile(tmp_path / "w" / f"{stem}.wacz") as zf:
            names = zf.namelist()
            text = zf.read("pages/pages.jsonl").decode() if "pages/pages.jsonl" in names else ""
            listed[stem] = [json.loads(line) for line in text.splitlines()][1:]
    assert [p["url"] for p in listed[stems[1]]] == [refs[1].target_uri]
    assert listed[stems[0]] == [] and listed[stems[2]] == []
    assert crawler.stats is not None
    assert crawler.stats.get_value("warc/files") == 3 and crawler.stats.get_value("warc/records") == 9


def test_warc_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRAPY_JOB", "job-42")
    monkeypatch.chdir(tmp_path)
    config = WarcConfig.from_settings(
        Settings({"ROBOTSTXT_OBEY": True, "OPERATOR_CONTACT": "ops@example.org"})
    )
    assert config.crawl_id == "job-42"
    assert config.directory == Path("archive-spool/warc/job-42")
    assert config.warcinfo["robots"] == "obey" and config.warcinfo["operator"] == "ops@example.org"
    config = WarcConfig.from_settings(Settings({"ARCHIVE_SPOOL_DIR": "/spool", "CRAWL_ID": "c2"}))
    assert config.directory == Path("/spool/warc/c2") and config.digest_index == Path(
        "/spool/warc/c2/digests.jsonl"
    )
    monkeypatch.delenv("SCRAPY_JOB")
    crawl_id = WarcConfig.from_settings(Settings({})).crawl_id
    assert len(crawl_id) == 15 and crawl_id[8] == "T" and crawl_id.replace("T", "").isdigit()
    with pytest.raises(NotConfigured, match="WARC_ENABLED is off"):
        WarcExtension.from_crawler(get_crawler(settings_dict={"WARC_ENABLED": False}))
    # A bad value is an error, even for a part that is switched off; never a silently disabled component.
    with pytest.raises(ConfigError, match="WARC_MAX_SIZE must be at least 1, got 0"):
        WarcConfig.from_settings(Settings({"WARC_MAX_SIZE": 0}))
    with pytest.raises(ConfigError, match="WARC_PREFIX 'A B' must be letters"):
        WarcConfig.from_settings(Settings({"WARC_PREFIX": "A B", "WARC_ENABLED": False}))
    with pytest.raises(NotConfigured, match="WarcExtension"):
        WarcCaptureMiddleware.from_crawler(get_crawler(settings_dict={}))
