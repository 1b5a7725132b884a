"""What a site saw of a crawl, per download slot: spacing between arrivals and requests in flight.

Read from ``newsroom.faults.FaultSite`` (``spacings()``, ``max_in_flight()``: server-side times). Used by the
politeness tests of one crawler (``tests/test_crawler_politeness.py``) and of two Redis workers
(``tests/test_distributed.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from crawler import settings as project
from newsroom.faults import FaultSite

#: The project's own politeness (tests.crawling.FAST switches it off for the other crawl tests).
DEFAULT_POLITENESS = {
    "DOWNLOAD_DELAY": str(project.DOWNLOAD_DELAY),
    "AUTOTHROTTLE_ENABLED": str(project.AUTOTHROTTLE_ENABLED),
    "CONCURRENT_REQUESTS_PER_DOMAIN": str(project.CONCURRENT_REQUESTS_PER_DOMAIN),
    "EXTRACT_WORKERS": "1",
}
#: The least spacing the defaults allow between two requests of one slot.
MIN_SPACING = 0.5 * project.DOWNLOAD_DELAY
# Server-side times carry a little scheduling noise on top of what the crawler spaced.
NOISE = 0.05


def assert_slot_bounds(site: FaultSite, *, spacing: float, concurrency: int) -> None:
    requests = site.requests
    assert len(requests) >= 5, requests
    assert all(r.done is not None for r in requests)
    closest = min(site.spacings())
    assert closest >= spacing - NOISE, (site.name, closest, sorted(r.at for r in requests))
    assert site.max_in_flight() <= concurrency, site.name


@contextmanager
def paced_sites(count: int = 3, articles: int = 8, answer: float = 0.5) -> Iterator[list[FaultSite]]:
    """Sites on 127.0.0.1 whose article answers take ``answer`` seconds, so requests pile up in each slot."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                FaultSite(
                    f"paced{i}", articles=articles, faults=(), first_story=articles * i, article_delay=answer
                )
            )
            for i in range(count)
        ]
