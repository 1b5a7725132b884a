"""The gate: which plain responses go back to the scheduler as browser requests.

``RenderGate`` runs ``JsGateDetector`` on plain HTML responses of ``render: auto`` sites and answers a gated
one with a browser request (``playwright=True``, a higher priority, so renders do not trail the crawl).
Stats: ``render/gate/<reason>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from scrapy.http import HtmlResponse, Request, Response

from extraction.gate import JsGateDetector

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector

__all__ = ["RENDER_MODES", "RenderGate", "is_article"]

logger = logging.getLogger(__name__)

# Added to a gated page's priority when it goes back to the scheduler as a browser request.
RENDER_PRIORITY_BOOST = 10
RENDER_MODES = frozenset({"auto", "always", "never"})
# Statuses a challenge or app shell is served with; other errors are not worth a browser.
_GATE_STATUSES = frozenset({200, 202, 203, 403, 429, 503})


def is_article(request: Request) -> bool:
    """Article pages (and requests from outside the spider, which carry no kind) get the full gate test."""
    return request.meta.get("kind", "article") == "article"


class RenderGate:
    """Decides per plain response; ``context_for(request)`` names the browser context a render goes to."""

    def __init__(
        self, detector: JsGateDetector, stats: StatsCollector, context_for: Callable[[Request], str]
    ) -> None:
        self.detector = detector
        self.stats = stats
        self.context_for = context_for

    def __call__(self, request: Request, response: Response) -> Request | Response:
        mode = request.meta.get("render", "auto")
        if mode not in RENDER_MODES:
            logger.warning("Unknown render mode %r for %s; treating it as 'auto'", mode, request.url)
            mode = "auto"
        if mode != "auto" or not isinstance(response, HtmlResponse) or response.status not in _GATE_STATUSES:
            return response
        verdict = self.detector.detect(response.text, response.url)
        if not verdict.gated or (verdict.reason == "too-short" and not is_article(request)):
            # A listing page is mostly links: little prose is normal there, not a sign of a gate.
            return response
        reason = verdict.reason or "gated"
        self.stats.inc_value(f"render/gate/{reason}")
        logger.info("JavaScript gate (%s) at %s: rendering it in the browser", reason, response.url)
        meta = {k: v for k, v in request.meta.items() if k not in ("warc", "download_latency")}
        if "warc" in request.meta:
            meta["render_gated_warc"] = request.meta["warc"]
            # The archived plain page replays too: its requisites are fetched from it (crawler.requisites).
            meta["render_gated_page"] = (response.url, response.body)
        meta.update(playwright=True, playwright_context=self.context_for(request), render_reason=reason)
        # Ahead of the queue: the page is half done (fetched, archived, gated), and a browser request that
        # waits behind thousands of newly discovered plain pages leaves the browser idle for most of the
        # crawl and finishes the crawl with a long tail of renders (bench/results.md).
        return request.replace(meta=meta, dont_filter=True, priority=request.priority + RENDER_PRIORITY_BOOST)
