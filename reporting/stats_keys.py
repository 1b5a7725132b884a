"""The stats keys the operator views read: the crawl report, the Prometheus metrics and the progress line.

One place for their names, so a counter renamed in a component is renamed for every reader at once.
"""

from __future__ import annotations

#: Per-site stats keys the report reads (``{site}`` is the site name). Figures without a key fall back as
#: the module docstring says.
SITE_STATS: dict[str, str] = {
    "found": "discovery/articles_by_site/{site}",
    "extracted": "extract/articles_by_site/{site}",
    "relevant": "relevance/relevant_by_site/{site}",
    "stored": "store/articles_by_site/{site}",
    "rendered": "render/pages_by_site/{site}",
    "failed": "crawl/failed_by_site/{site}",
    "empty": "extract/no_article_by_site/{site}",
    "missing_date": "extract/missing_date_by_site/{site}",
    "bytes": "warc/bytes_by_site/{site}",
}
#: Candidates a site's frontier holds at the end of a crawl: its backlog, which the next crawl continues.
BACKLOG_BY_SITE = "frontier/backlog_by_site/{site}"
#: The crawl-wide counter behind each figure: a key, or a prefix (ending in "/") whose keys are summed.
GLOBAL_STATS: dict[str, str] = {
    "found": "discovery/requests/article",
    "extracted": "extract/articles",
    "relevant": "relevance/relevant",
    "stored": "store/articles",
    "rendered": "render/pages",
    "failed": "crawl/failed/",
    "empty": "extract/no_article/",
    "missing_date": "extract/missing_date",
    "bytes": "warc/bytes",
}
#: Failure families shown in the failures chart: stats prefix -> label.
FAILURE_PREFIXES: dict[str, str] = {
    "crawl/failed/": "fetch",
    "extract/no_article/": "no article",
    "extract/failed/": "extract error",
    "render/failed/": "render",
    "render/blocked/": "browser request blocked",
    "storage/upload_failed/": "upload",
    # Requests of a host whose robots.txt could not be read (RFC 9309: not fetched), by host:port.
    "robotstxt/unreachable/": "robots.txt unreachable",
    # Stylesheets, scripts, images and fonts of archived pages that could not be fetched or were refused
    # (crawler/requisites.py); per site: requisites/uncaptured_by_site/<site>.
    "requisites/failed/": "page requisite",
}
#: Scrapy's and the crawl's counters behind the progress line.
PAGES = "response_received_count"
ARTICLES = GLOBAL_STATS["stored"]
RENDERED = GLOBAL_STATS["rendered"]
WARC_BYTES = GLOBAL_STATS["bytes"]
WARC_FILES = "warc/files"
UPLOAD_BACKLOG = "storage/pending"
# The upload backlog (objects, bytes) when the crawl ended and the drain began, and its peak in bytes.
BACKLOG = "storage/backlog"  # live, set with each progress line
BACKLOG_BYTES = "storage/backlog_bytes"
BACKLOG_AT_END = "storage/backlog_at_end"
BACKLOG_BYTES_AT_END = "storage/backlog_bytes_at_end"
BACKLOG_PEAK_BYTES = "storage/backlog_peak_bytes"
DRAIN_SECONDS = "storage/drain_seconds"
FAILED_PREFIX = GLOBAL_STATS["failed"]
ERRORS = "log_count/ERROR"
SCHEDULED = "scheduler/enqueued"
# Articles dropped as not relevant (their "Dropped" log lines are DEBUG: this counter is what shows them).
NOT_RELEVANT = "relevance/irrelevant"

# Page requisites per site (crawler/requisites.py): fetched, and asked for but not captured.
REQUISITES_FETCHED = "requisites/fetched_by_site/"
REQUISITES_UNCAPTURED = "requisites/uncaptured_by_site/"
