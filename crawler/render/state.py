"""What one browser render carries while it runs, and how a render fails."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from archive.capture import Capture, CaptureRef
from crawler.addressguard import SiteHosts

__all__ = ["RenderFailed", "RenderState", "WarcSink", "failure_reason"]


class WarcSink(Protocol):
    """What the WARC extension exposes as ``crawler.warc_archive`` (thread-safe)."""

    def write_capture(self, capture: Capture) -> CaptureRef: ...

    async def write_capture_async(self, capture: Capture) -> CaptureRef: ...

    def write_resource(
        self,
        url: str,
        content: bytes,
        content_type: str,
        *,
        concurrent_to: str | None = None,
        record_type: str = "resource",
    ) -> CaptureRef: ...


class RenderFailed(Exception):
    """The page did not show its content in time; ``reason`` names why (a stats key suffix)."""

    def __init__(self, reason: str, url: str) -> None:
        super().__init__(f"render failed ({reason}): {url}")
        self.reason = reason
        self.url = url


@dataclass
class RenderState:
    """What one browser render collected; lives in request.meta only while the request is downloading."""

    site: str
    reason: str
    started: float
    tasks: list[asyncio.Task[CaptureRef | None]] = field(default_factory=list)
    document_task: asyncio.Task[CaptureRef | None] | None = None
    document_status: int | None = None
    page_errors: list[str] = field(default_factory=list)
    network_idle: bool = False
    listing: bool = False
    context: str = ""
    # The page being rendered (from its first settle on) and when it got there: what the watchdog watches.
    page: Any = None
    page_since: float = 0.0
    watchdog_fired: bool = False
    # The hosts the site lives on (the page's own host and port among them): what the guard allows.
    hosts: SiteHosts = field(default_factory=lambda: SiteHosts(frozenset()))
    # (reason, url) of every browser request the guard or the caps refused.
    blocked: list[tuple[str, str]] = field(default_factory=list)
    # Body bytes of this page archived so far, and whether the page went over RENDER_MAX_PAGE_SIZE.
    page_bytes: int = 0
    page_too_large: bool = False
    # Responses the guard answered empty at their headers (over RENDER_MAX_RESPONSE_SIZE): URL -> headers.
    cut: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # Set when the render must stop at once (the page went over its cap): the waits in settle give up.
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    # The page event handlers of this render (removed from the page when it ends: pages are reused).
    handlers: dict[str, Callable[[Any], None]] = field(default_factory=dict)
    # The Scrapy request's (url, method, body) until the guard has sent the render's first navigation.
    navigation: tuple[str, str, bytes] | None = None


def failure_reason(exception: BaseException) -> str:
    if isinstance(exception, RenderFailed):
        return exception.reason
    if isinstance(exception, PlaywrightTimeoutError):
        return "timeout"
    if isinstance(exception, PlaywrightError):
        return "browser-error"
    return type(exception).__name__.lower()
