"""archive.wacz: a crawl's WARC files packaged as a WACZ with its articles as pages; ``wacz validate`` passes."""

from __future__ import annotations

import gzip
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.capture import Capture, CaptureRef
from archive.wacz import Page, WaczError, build_wacz, validate_wacz
from archive.warc import WarcRotatingWriter

ARABIC_URL = "http://news.example.ly/ليبيا/مقال"


def capture(url: str, html: str, when: datetime, gzipped: bool = False) -> Capture:
    body = gzip.compress(html.encode()) if gzipped else html.encode()
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    return Capture(
        url=url,
        method="GET",
        request_headers=[("Accept-Encoding", "gzip")],
        status=200,
        reason="OK",
        response_headers=headers,
        body=body,
        fetched_at=when,
    )


def write_crawl(directory: Path) -> tuple[list[Path], list[CaptureRef]]:
    when = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)
    # A tiny max_size so the crawl spans several WARC files.
    with WarcRotatingWriter(directory, "TEST", "crawl-w", max_size=1, warcinfo={"operator": "t"}) as writer:
        refs = [
            writer.write_capture(
                capture("http://news.example.ly/", "<html><title>index</title></html>", when)
            ),
            writer.write_capture(
                capture(ARABIC_URL, "<html><title>مقال</title><p>طرابلس</p></html>", when, gzipped=True)
            ),
            writer.write_capture(
                capture("http://news.example.ly/a/2", "<html><title>ثان</title></html>", when)
            ),
        ]
        writer.write_metadata(refs[1], b'{"relevant": true}')
    return writer.finished_files, refs


def test_wacz_with_article_pages_validates(tmp_path: Path) -> None:
    warcs, refs = write_crawl(tmp_path / "warc")
    assert len(warcs) >= 3
    pages = [
        Page.create(ARABIC_URL, refs[1].warc_date, "مقال"),
        Page.create(refs[2].target_uri, refs[2].warc_date),
    ]
    assert pages[0].url == refs[1].target_uri  # IRI normalised to the archived URI
    wacz = build_wacz(
        warcs, tmp_path / "out" / "crawl.wacz", pages, title="Test crawl", description="two articles"
    )

    validate_wacz(wacz)
    with zipfile.ZipFile(wacz) as zf:
        names = set(zf.namelist())
        assert {f"archive/{p.name}" for p in warcs} <= names
        assert {"datapackage.json", "pages/pages.jsonl", "indexes/index.cdx.gz"} <= names
        lines = [json.loads(line) for line in zf.read("pages/pages.jsonl").decode("utf-8").splitlines()]
        package = json.loads(zf.read("datapackage.json"))
        index = gzip.decompress(zf.read("indexes/index.cdx.gz")).decode("utf-8")
    assert lines[0]["format"] == "json-pages-1.0"
    entries = {line["url"]: line for line in lines[1:]}
    assert set(entries) == {refs[1].target_uri, refs[2].target_uri}  # the articles, not the index page
    assert entries[refs[1].target_uri]["title"] == "مقال"
    assert entries[refs[1].target_uri]["ts"].startswith("2026-11-23T09:00:00")
    assert package["title"] == "Test crawl"
    assert refs[1].target_uri in index and refs[0].target_uri in index


def test_wacz_without_pages_detects_html_pages(tmp_path: Path) -> None:
    warcs, refs = write_crawl(tmp_path / "warc")
    wacz = build_wacz(warcs, tmp_path / "crawl.wacz")
    validate_wacz(wacz)
    with zipfile.ZipFile(wacz) as zf:
        lines = [json.loads(line) for line in zf.read("pages/pages.jsonl").decode("utf-8").splitlines()]
    assert {line["url"] for line in lines[1:]} == {ref.target_uri for ref in refs}


def test_validate_rejects_a_tampered_wacz(tmp_path: Path) -> None:
    warcs, refs = write_crawl(tmp_path / "warc")
    wacz = build_wacz(warcs, tmp_path / "crawl.wacz", [Page.create(refs[1].target_uri, refs[1].warc_date)])
    tampered = tmp_path / "tampered.wacz"
    with zipfile.ZipFile(wacz) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "pages/pages.jsonl":
                data = data.replace(b"http://", b"https://")
            dst.writestr(item, data)
    with pytest.raises(WaczError):
        validate_wacz(tampered)
    with pytest.raises(ValueError):
        build_wacz([], tmp_path / "empty.wacz")


def test_page_naming_a_rendered_dom_record_is_matched_by_url(tmp_path: Path) -> None:
    when = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)
    with WarcRotatingWriter(tmp_path / "warc", "TEST", "crawl-r", warcinfo={}) as writer:
        document = writer.write_capture(capture(ARABIC_URL, "<html><title>فارغ</title></html>", when))
        dom = writer.write_resource(
            ARABIC_URL,
            "<html><title>مقال</title><p>نص</p></html>".encode(),
            "text/html; charset=utf-8",
            concurrent_to=document.record_id,
            record_type="conversion",
            fetched_at=datetime(2026, 11, 23, 9, 0, 7, tzinfo=UTC),
        )
    pages = [
        Page.create(dom.target_uri, dom.warc_date, "مقال"),
        Page.create("http://news.example.ly/gone", when),
    ]
    wacz = build_wacz(writer.finished_files, tmp_path / "r.wacz", pages)
    validate_wacz(wacz)
    with zipfile.ZipFile(wacz) as zf:
        lines = [json.loads(line) for line in zf.read("pages/pages.jsonl").decode("utf-8").splitlines()]
    assert [(line["url"], line["title"]) for line in lines[1:]] == [(document.target_uri, "مقال")]
    assert lines[1]["ts"].startswith("2026-11-23T09:00:00")  # the document's capture, which replays
