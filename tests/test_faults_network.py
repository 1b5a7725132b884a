"""Network faults, one test each, read from one shared crawl of ``newsroom.faults.FaultSite``.

Settings of the crawl: DOWNLOAD_TIMEOUT=3, RETRY_TIMES=2 (three attempts at most), no delays. Every test first
checks the crawl as a whole (exit 0, finish_reason "finished", ``warcio check`` passes on every WARC file, no
``.open`` file left), then the one URL it is about: how often the server saw it, what the WARC holds for it,
whether it is in the manifest exactly once or not at all, and the stats that count it.
"""

from __future__ import annotations

from tests.faults_crawl import FaultCrawl

pytest_plugins = ["tests.faults_crawl"]


def test_5xx_then_200_is_retried_and_archived(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/flaky-5xx")
    assert site.count("/news/flaky-5xx") == 3  # 500, 502, 200: the whole RETRY_TIMES budget
    assert fault_crawl.captures[url] == [500, 502, 200]  # the failures are archived too
    fault_crawl.assert_archived_once(url)
    assert fault_crawl.stat("retry/reason_count/500 Internal Server Error") >= 1
    assert fault_crawl.stat("retry/reason_count/502 Bad Gateway") >= 1


def test_429_with_retry_after_waits_then_archives(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/rate-limited")
    times = site.times("/news/rate-limited")
    assert len(times) == 2
    # The retry came no sooner than the server asked (Retry-After: 1); a lower bound, never flaky.
    assert times[1] - times[0] >= 0.9
    assert fault_crawl.captures[url] == [429, 200]
    fault_crawl.assert_archived_once(url)
    assert fault_crawl.stat("retry/reason_count/429 with Retry-After 1s") == 1


def test_503_with_retry_after_waits_then_archives(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/unavailable")
    times = site.times("/news/unavailable")
    assert len(times) == 2 and times[1] - times[0] >= 0.9
    assert fault_crawl.captures[url] == [503, 200]
    fault_crawl.assert_archived_once(url)
    assert fault_crawl.stat("retry/reason_count/503 with Retry-After 1s") == 1
    assert fault_crawl.stat("retry_after/waited") >= 2


def test_retry_after_beyond_the_maximum_is_not_retried(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/rate-limited-long")
    assert site.count("/news/rate-limited-long") == 1  # Retry-After: 3600 > RETRY_AFTER_MAX_DELAY
    assert fault_crawl.captures[url] == [429]
    fault_crawl.assert_not_archived(url)
    assert fault_crawl.stat("retry_after/too_long") == 1
    assert fault_crawl.stat("crawl/failed/http_429") == 1


def test_timeout_is_retried_then_counted_as_failed(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/timeout")
    assert site.count("/news/timeout") == 3
    assert url not in fault_crawl.captures
    fault_crawl.assert_not_archived(url)
    # timeout + trickle (3 attempts each) + robots.txt of the robots-timeout site (3 attempts, twice: an
    # unreachable robots.txt is asked again later in the crawl, ROBOTSTXT_UNREACHABLE_RETRIES=1)
    assert fault_crawl.stat("downloader/exception_type_count/scrapy.exceptions.DownloadTimeoutError") == 12
    assert fault_crawl.stat("crawl/failed/DownloadTimeoutError") == 2
    assert f"Failed {url} (article): DownloadTimeoutError" in fault_crawl.run.log


def test_connection_reset_is_retried_and_archived(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/reset-once")
    assert site.count("/news/reset-once") == 2
    assert fault_crawl.captures[url] == [200]
    fault_crawl.assert_archived_once(url)
    # No retry/* stat: the reset hit a reused keep-alive connection, and Twisted's connection pool repeats
    # an idempotent request on a fresh connection by itself. Either way the server saw exactly two requests.


def test_truncated_body_is_retried_then_failed_and_never_archived(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/truncated")
    assert site.count("/news/truncated") == 3
    assert url not in fault_crawl.captures  # a partial body is not a capture
    fault_crawl.assert_not_archived(url)
    assert fault_crawl.stat("downloader/exception_type_count/scrapy.exceptions.ResponseDataLossError") == 3
    assert fault_crawl.stat("crawl/failed/ResponseDataLossError") == 1


def test_trickled_body_times_out_then_failed(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/trickle")
    assert site.count("/news/trickle") == 3
    assert url not in fault_crawl.captures
    fault_crawl.assert_not_archived(url)
    assert f"Failed {url} (article): DownloadTimeoutError" in fault_crawl.run.log
