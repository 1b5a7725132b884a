"""Content faults (sizes, bombs, bad bytes, bad HTML, non-HTML), one test each, from the shared fault crawl.

DOWNLOAD_MAXSIZE is 1 MiB and DOWNLOAD_WARNSIZE 256 KiB in that crawl. Each test checks the crawl as a whole
first (see ``FaultCrawl.assert_healthy``), then its own URL.
"""

from __future__ import annotations

from tests.faults_crawl import FaultCrawl

pytest_plugins = ["tests.faults_crawl"]


def test_oversize_body_is_cancelled_and_counted(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/oversize")
    assert site.count("/news/oversize") == 1  # a size limit is not retried
    assert url not in fault_crawl.captures
    fault_crawl.assert_not_archived(url)
    assert fault_crawl.stat("downloader/exception_type_count/scrapy.exceptions.DownloadCancelledError") == 1
    assert fault_crawl.stat("crawl/failed/DownloadCancelledError") == 1
    assert "larger than download max size (1048576)" in fault_crawl.run.log


def test_body_over_warnsize_is_warned_and_archived(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/big")
    assert site.count("/news/big") == 1
    assert fault_crawl.captures[url] == [200]
    fault_crawl.assert_archived_once(url)
    assert f"larger than download warn size (262144) in request <GET {url}>" in fault_crawl.run.log


def test_gzip_bomb_is_captured_compressed_but_not_inflated(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/gzip-bomb")
    assert site.count("/news/gzip-bomb") == 1
    # The WARC keeps what crossed the wire (a few KB of gzip); HttpCompressionMiddleware refuses to inflate
    # it beyond DOWNLOAD_MAXSIZE, so nothing reaches extraction.
    assert fault_crawl.captures[url] == [200]
    fault_crawl.assert_not_archived(url)
    assert f"Failed {url} (article): IgnoreRequest" in fault_crawl.run.log
    assert sum(p.stat().st_size for p in fault_crawl.warcs) < 1024 * 1024


def test_invalid_bytes_in_declared_utf8_are_archived_as_utf8(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/bad-bytes")
    assert site.count("/news/bad-bytes") == 1
    assert fault_crawl.captures[url] == [200]
    # A few broken bytes must not turn the whole page into mojibake (and so into an irrelevant page).
    fault_crawl.assert_archived_once(url)
    record = next(line for line in fault_crawl.run.manifest() if line["url"] == url)
    assert (record.get("encoding") or "").lower().replace("-", "") == "utf8", record.get("encoding")


def test_malformed_html_is_archived(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/malformed")
    assert site.count("/news/malformed") == 1
    assert fault_crawl.captures[url] == [200]
    fault_crawl.assert_archived_once(url)


def test_pdf_is_captured_and_skipped_as_not_html(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/pdf")
    assert site.count("/news/pdf") == 1
    assert fault_crawl.captures[url] == [200]
    fault_crawl.assert_not_archived(url)
    assert f"Not HTML (application/pdf): {url}" in fault_crawl.run.log


def test_image_is_captured_and_skipped_as_not_html(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/image")
    assert site.count("/news/image") == 1
    assert fault_crawl.captures[url] == [200]
    fault_crawl.assert_not_archived(url)
    assert f"Not HTML (image/jpeg): {url}" in fault_crawl.run.log
    assert fault_crawl.stat("crawl/skipped/not_html") == 2  # the PDF and the image
