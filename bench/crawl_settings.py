"""The ``-s`` settings every bench crawl starts from: no delay, no AutoThrottle, the given concurrency, its log,
stats, archive and spool under ``run_dir``, and the browser. Each bench adds what its own rows need."""

from __future__ import annotations

from pathlib import Path


def bench_crawl_settings(
    run_dir: Path, crawl_id: str, *, concurrency: int, per_domain: int, contexts: int, chromium: str
) -> dict[str, str]:
    return {
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        "CONCURRENT_REQUESTS": str(concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": str(per_domain),
        "LOG_LEVEL": "INFO",
        "LOG_FILE": str(run_dir / "crawl.log"),
        "CRAWL_STATS_FILE": str(run_dir / "stats.json"),
        "CRAWL_ID": crawl_id,
        "ARCHIVE_URI": str(run_dir / "archive"),
        "ARCHIVE_SPOOL_DIR": str(run_dir / "spool"),
        "RENDER_CHROMIUM_PATH": chromium,
        # One browser context per site: with fewer contexts than gated sites the render queue deadlocks
        # (crawler.render + scrapy-playwright wait for a context slot that is never freed).
        "RENDER_MAX_CONTEXTS": str(contexts),
        "TELNETCONSOLE_ENABLED": "False",
    }
