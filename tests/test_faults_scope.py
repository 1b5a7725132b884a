"""Redirects, scope and robots.txt faults, one test each, from the shared fault crawl.

The crawl never leaves the configured sites: not by redirect to another port on 127.0.0.1 (a live server,
``offsite``, that must see no request at all), not to ``file:`` or ``data:``. Redirect loops end.
robots.txt follows RFC 9309: unreachable (5xx, timeout) keeps the crawler off the host, 4xx allows all.
"""

from __future__ import annotations

from newsroom.faults import FaultSite
from tests.faults_crawl import CRAWL_ID, FaultCrawl

pytest_plugins = ["tests.faults_crawl"]


def test_redirect_loop_ends_without_archiving(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    assert site.count("/news/redirect-loop") == 1 and site.count("/news/redirect-loop/b") == 1
    assert fault_crawl.captures[site.url("/news/redirect-loop")] == [302]
    fault_crawl.assert_not_archived(site.url("/news/redirect-loop"))
    assert fault_crawl.stat("dupefilter/filtered") >= 1  # the second visit of the first URL


def test_endless_redirect_chain_stops_at_redirect_max_times(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    assert site.count_prefix("/news/redirect-chain") == 4  # the request and REDIRECT_MAX_TIMES=3 hops
    fault_crawl.assert_not_archived(site.url("/news/redirect-chain"))
    assert f"Failed {site.url('/news/redirect-chain?hop=3')} (article): IgnoreRequest" in fault_crawl.run.log


def test_redirect_to_another_port_is_never_followed(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    assert site.count("/news/offsite-redirect") == 1
    assert fault_crawl.offsite.requests == []  # not even its robots.txt
    assert not any(uri.startswith(fault_crawl.offsite.base_url) for uri in fault_crawl.captures)
    assert fault_crawl.stat("scope/dropped/offsite") >= 1
    assert not any(u.startswith(fault_crawl.offsite.base_url) for u in fault_crawl.manifest_urls())


def test_redirect_to_file_url_is_never_followed(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.site
    url = site.url("/news/file-redirect")
    assert site.count("/news/file-redirect") == 1
    assert fault_crawl.captures[url] == [302]
    assert not any(uri.startswith("file:") for uri in fault_crawl.captures)
    fault_crawl.assert_not_archived(url)
    assert f"Failed {url} (article): http_302" in fault_crawl.run.log


def test_links_to_other_schemes_and_hosts_are_not_requested(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    # The home page links to file:, data: and the offsite server.
    assert fault_crawl.stat("discovery/skipped/scheme") >= 2
    assert fault_crawl.stat("discovery/skipped/offsite") >= 1
    assert fault_crawl.offsite.requests == []


def _assert_nothing_of_the_host_fetched(fault_crawl: FaultCrawl, site: FaultSite) -> None:
    assert [r.path for r in site.requests if r.path != "/robots.txt"] == []
    for url in site.expected_archived:
        fault_crawl.assert_not_archived(url)
    # The held seeds (home page and sitemap) are counted under the host, and the report lists them.
    assert fault_crawl.stat(f"robotstxt/unreachable/{site.netloc}") == 2
    report = (fault_crawl.run.archive / "reports" / CRAWL_ID / "report.md").read_text(encoding="utf-8")
    assert f"robots.txt unreachable: {site.netloc}" in report


def test_robots_txt_5xx_means_nothing_of_the_host_is_fetched(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.robots_5xx
    # RFC 9309 2.3.1.4: 5xx is "unreachable", complete disallow. Asked three times (RETRY_TIMES=2), then
    # three times more later in the crawl (ROBOTSTXT_UNREACHABLE_RETRIES=1).
    assert site.count("/robots.txt") == 6
    assert fault_crawl.stat("robotstxt/response_status_count/503") == 2
    assert fault_crawl.stat("robotstxt/unreachable_retry") == 2  # this host and the timeout one
    _assert_nothing_of_the_host_fetched(fault_crawl, site)


def test_robots_txt_timeout_means_nothing_of_the_host_is_fetched(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.robots_timeout
    assert site.count("/robots.txt") == 6
    assert fault_crawl.stat("robotstxt/exception_count/<class 'scrapy.exceptions.DownloadTimeoutError'>") == 2
    _assert_nothing_of_the_host_fetched(fault_crawl, site)


def test_robots_txt_404_means_everything_is_allowed(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    site = fault_crawl.robots_404
    # The 404 body reads "Disallow: /"; RFC 9309 2.3.1.3: a 4xx means no rules at all.
    assert site.count("/robots.txt") == 1
    for url in site.expected_archived:
        fault_crawl.assert_archived_once(url)
    assert fault_crawl.stat("robotstxt/forbidden") == 0


def test_every_expected_article_is_archived_exactly_once(fault_crawl: FaultCrawl) -> None:
    fault_crawl.assert_healthy()
    expected = sorted(fault_crawl.site.expected_archived + fault_crawl.robots_404.expected_archived)
    assert sorted(fault_crawl.manifest_urls()) == expected
