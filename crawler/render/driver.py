"""Playwright's messages from its driver, read in bursts on the crawl's busy event loop.

Playwright (1.65) reads each message of its driver (the node process that talks to Chromium) and then waits
until the event loop's ready queue is empty, up to 100 turns of the loop, before it reads the next
(``playwright._impl.utils.tasks.wait_for_next_task``, JavaScript's "next task" for the reactions to each
message). Playwright shares the loop with Scrapy here (scrapy-playwright on the asyncio reactor), and while
the crawl runs that queue is never empty: each message of the driver cost up to 100 turns of a loop that
parses, gates and archives pages. The bench measured it (``bench/pipeline.py``, 1,000 articles, 34 renders
in 4 contexts): a call as small as ``context.cookies()`` took 1-4 s while plain pages were crawled and 2 ms
once they were done; no render finished before the last plain page, and all 34 finished within 3 s after it
(the render tail that left the cores idle at the end of every crawl).

``read_driver_in_bursts()`` sets that wait to none: the messages that have arrived are dispatched one after
the other, and their reactions run after them, as Playwright did before it added the wait. With it the same
call took 0.1-0.3 s mid-crawl and the renders finished while the plain pages were still being crawled.

Applied once per process by ``JsGateMiddleware.from_crawler`` (before the browser starts). A Playwright
without that module or constant is left alone (logged at DEBUG).
"""

from __future__ import annotations

import logging

__all__ = ["read_driver_in_bursts"]

logger = logging.getLogger(__name__)


def read_driver_in_bursts() -> bool:
    """No wait for an empty loop between two of the driver's messages; False when Playwright has none."""
    try:
        from playwright._impl.utils import tasks
    except ImportError:
        logger.debug("Playwright has no playwright._impl.utils.tasks: its message reading is left as it is")
        return False
    if not isinstance(getattr(tasks, "_MAX_TURNS", None), int):
        logger.debug("Playwright has no _MAX_TURNS: its message reading is left as it is")
        return False
    tasks._MAX_TURNS = 0
    return True
