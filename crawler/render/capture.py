"""Capture: every network response the browser saw becomes a ``Capture(source="browser")`` in the WARC.

Bodies come back decoded from Playwright, so their headers are made true to them (``decoded_body_headers``).
Stats: ``render/captures``, ``render/captures/<resource type>``, ``render/capture_failed``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from playwright.async_api import Error as PlaywrightError

from archive.capture import Capture, CaptureRef

from .headers import decoded_body_headers
from .state import RenderState, WarcSink

if TYPE_CHECKING:
    from playwright.async_api import Response as BrowserResponse
    from scrapy.statscollectors import StatsCollector

__all__ = ["BrowserCapture"]

logger = logging.getLogger(__name__)


class BrowserCapture:
    """Writes the browser's responses through the crawl's WARC sink (``sink()`` may answer None)."""

    def __init__(self, stats: StatsCollector, sink: Callable[[], WarcSink | None]) -> None:
        self.stats = stats
        self.sink = sink

    def on_response(self, response: BrowserResponse, state: RenderState) -> None:
        """The page's ``response`` event: start the capture, remember which one is the final document."""
        if not response.url.startswith(("http://", "https://")):
            return
        task = asyncio.ensure_future(self.capture(response))
        state.tasks.append(task)
        try:
            is_document = response.request.is_navigation_request() and response.frame.parent_frame is None
        except PlaywrightError:  # service-worker responses have no frame
            is_document = False
        if is_document and not 300 <= response.status < 400:
            state.document_task = task
            state.document_status = response.status

    async def capture(self, response: BrowserResponse) -> CaptureRef | None:
        request = response.request
        fetched_at = datetime.now(UTC)
        try:
            request_headers = await request.headers_array()
            response_headers = await response.headers_array()
            # Redirects have no body in the browser; the record keeps their headers with an empty one.
            body = b"" if 300 <= response.status < 400 else await response.body()
            server = await response.server_addr()
        except PlaywrightError as exc:
            self.stats.inc_value("render/capture_failed")
            logger.debug("Could not capture browser response %s: %s", response.url, exc)
            return None
        sink = self.sink()
        if sink is None:
            return None
        capture = Capture(
            url=response.url,
            method=request.method,
            request_headers=[
                (h["name"], h["value"]) for h in request_headers if not h["name"].startswith(":")
            ],
            status=response.status,
            reason=response.status_text,
            response_headers=decoded_body_headers(
                [(h["name"], h["value"]) for h in response_headers], len(body)
            ),
            body=body,
            fetched_at=fetched_at,
            request_body=request.post_data_buffer or b"",
            ip_address=server["ipAddress"] if server else None,
            source="browser",
            extra={"resource_type": request.resource_type},
        )
        ref = await sink.write_capture_async(capture)
        self.stats.inc_value("render/captures")
        self.stats.inc_value(f"render/captures/{request.resource_type}")
        return ref
