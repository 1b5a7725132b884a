"""Capture: every network response the browser saw becomes a ``Capture(source="browser")`` in the WARC.

Bodies come back decoded from Playwright, so their headers are made true to them (``decoded_body_headers``).

Caps: a response may put at most RENDER_MAX_RESPONSE_SIZE bytes into the WARC, a page all its responses
together RENDER_MAX_PAGE_SIZE. The size is known before the body crosses over from Chromium (Content-Length,
else the transferred size once loaded), so an oversized body is never read: its record keeps the headers,
an empty (or, for a body that decoded larger than its cap, a cut) payload and ``WARC-Truncated: length``.
A page over its cap is closed (the render fails as ``page-too-large``). A response whose server address
turns out to be one the guard refuses (a name that changed its answer) is not archived at all.
Stats: ``render/captures``, ``render/captures/<resource type>``, ``render/capture_failed``,
``render/blocked/response-too-large``, ``render/blocked/page-too-large``, ``render/blocked/<address reason>``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from playwright.async_api import Error as PlaywrightError

from archive.capture import Capture, CaptureRef
from crawler.addressguard import url_refusal

from .headers import decoded_body_headers
from .state import RenderState, WarcSink

if TYPE_CHECKING:
    from playwright.async_api import Response as BrowserResponse
    from scrapy.statscollectors import StatsCollector

__all__ = ["BrowserCapture"]

logger = logging.getLogger(__name__)


Block = Callable[[str, str, RenderState], None]


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length":
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None


class BrowserCapture:
    """Writes the browser's responses through the crawl's WARC sink (``sink()`` may answer None);
    ``block(reason, url, state)`` counts what the caps refuse."""

    def __init__(
        self,
        stats: StatsCollector,
        sink: Callable[[], WarcSink | None],
        block: Block,
        max_response_size: int,
        max_page_size: int,
    ) -> None:
        self.stats = stats
        self.sink = sink
        self.block = block
        self.max_response_size = max_response_size
        self.max_page_size = max_page_size

    def on_response(self, response: BrowserResponse, state: RenderState) -> None:
        """The page's ``response`` event: start the capture, remember which one is the final document."""
        if not response.url.startswith(("http://", "https://")):
            return
        task = asyncio.ensure_future(self.capture(response, state))
        state.tasks.append(task)
        # The settle's network idle counts a response until its capture is written.
        state.network.response(response.url)
        task.add_done_callback(lambda _: state.network.wake())
        try:
            is_document = response.request.is_navigation_request() and response.frame.parent_frame is None
        except PlaywrightError:  # service-worker responses have no frame
            is_document = False
        if is_document and not 300 <= response.status < 400:
            state.document_task = task
            state.document_status = response.status

    async def capture(self, response: BrowserResponse, state: RenderState) -> CaptureRef | None:
        request = response.request
        fetched_at = datetime.now(UTC)
        try:
            request_headers = await request.headers_array()
            response_headers = state.cut.get(response.url) or [
                (h["name"], h["value"]) for h in await response.headers_array()
            ]
            # The body first: a challenge that reloads the page takes its resources' bodies with it.
            body, cut = await self._body(response, response_headers, state)
            server = await response.server_addr()
            ip_address = server["ipAddress"] if server else None
            refused = url_refusal(response.url, [ip_address], state.hosts) if ip_address else None
            if refused is not None:
                self.block(refused, response.url, state)
                return None
        except PlaywrightError as exc:
            self.stats.inc_value("render/capture_failed")
            logger.debug("Could not capture browser response %s: %s", response.url, exc)
            return None
        sink = self.sink()
        if sink is None:
            return None
        extra = {"resource_type": request.resource_type}
        if cut is not None:
            extra["truncated"] = "length"
            self.block(cut, response.url, state)
            if cut == "page-too-large":
                self._over_page_cap(response, state)
        capture = Capture(
            url=response.url,
            method=request.method,
            request_headers=[
                (h["name"], h["value"]) for h in request_headers if not h["name"].startswith(":")
            ],
            status=response.status,
            reason=response.status_text,
            response_headers=decoded_body_headers(response_headers, len(body)),
            body=body,
            fetched_at=fetched_at,
            request_body=request.post_data_buffer or b"",
            ip_address=ip_address,
            source="browser",
            extra=extra,
        )
        ref = await sink.write_capture_async(capture)
        self.stats.inc_value("render/captures")
        self.stats.inc_value(f"render/captures/{request.resource_type}")
        return ref

    async def _body(
        self, response: BrowserResponse, headers: list[tuple[str, str]], state: RenderState
    ) -> tuple[bytes, str | None]:
        """The body to archive and, when it was cut, why (``response-too-large`` or ``page-too-large``)."""
        if 300 <= response.status < 400:
            return b"", None  # redirects have no body in the browser; the record keeps their headers
        if response.url in state.cut:  # answered empty by the guard: the body never left the server
            return b"", "response-too-large"
        room = self.max_page_size - state.page_bytes
        limit = min(self.max_response_size, room)
        why = "response-too-large" if self.max_response_size <= room else "page-too-large"
        size = _content_length(headers)
        if size is None:  # chunked: what crossed the wire, once loaded (still inside Chromium)
            size = (await response.request.sizes())["responseBodySize"]
        if size > limit:
            return b"", why
        body = await response.body()
        if len(body) > limit:  # decoded larger than it travelled (a compression bomb)
            body, cut = body[:limit], why
        else:
            cut = None
        state.page_bytes += len(body)
        return body, cut

    def _over_page_cap(self, response: BrowserResponse, state: RenderState) -> None:
        # The render stops through its normal failure path (crawler.render.settle), which closes the page:
        # closing it from here, under scrapy-playwright's navigation, hung the crawl.
        if not state.page_too_large:
            logger.warning(
                "Browser page over RENDER_MAX_PAGE_SIZE (%d bytes) at %s: closing it",
                self.max_page_size,
                response.url,
            )
        state.page_too_large = True
        state.stop.set()
