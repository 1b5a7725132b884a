"""What one browser render carries while it runs, and how a render fails."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from archive.capture import Capture, CaptureRef
from crawler.addressguard import SiteHosts

__all__ = ["NetworkActivity", "RenderFailed", "RenderState", "WarcSink", "failure_reason", "listen"]


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


class NetworkActivity:
    """What a render's page asked the network for and has not got yet, from what the render sees anyway: the
    guard's DevTools interception (a request about to be sent; its response headers) and the capture's
    DevTools Network events (a response reached the page; a request failed). The settle's own network idle (``crawler.render.settle``):
    Playwright's ``networkidle`` is a lifecycle event of the driver that may never fire on a page that is
    done (a request it counts in flight for ever), and then the render waited all of RENDER_TIMEOUT.

    ``awaiting``: requests sent whose response headers have not come (by DevTools network id: a redirect
    keeps its id). ``responding``: responses whose headers came but not yet as the page's
    ``Network.responseReceived`` (which starts their capture: ``RenderState.tasks`` covers them from there until the body is
    written). URLs without their fragment. ``last``: when the network last did anything; ``changed`` is set
    then, and when a capture is written."""

    def __init__(self) -> None:
        self.awaiting: dict[str, str] = {}
        self.responding: Counter[str] = Counter()
        self.last = time.monotonic()
        self.changed = asyncio.Event()

    def touch(self) -> None:
        self.last = time.monotonic()
        self.wake()

    def wake(self) -> None:
        """Something the settle waits for changed (a capture written) but not the network."""
        self.changed.set()
        self.changed = asyncio.Event()

    def sent(self, network_id: str, url: str) -> None:
        url = _unfragmented(url)
        if not url.endswith(_FAVICON):
            self.awaiting[network_id] = url
        self.touch()

    def headers(self, network_id: str | None, url: str) -> None:
        """The response headers came (the guard's response stage; an error there too)."""
        url = _unfragmented(url)
        if url.endswith(_FAVICON):
            return
        if network_id is None or self.awaiting.pop(network_id, None) is None:
            self._drop_awaiting(url)
        self.responding[url] += 1
        self.touch()

    def response(self, url: str) -> None:
        """The response's headers reached the page (``crawler.render.capture``): its capture takes it from
        here."""
        self._settle(_unfragmented(url))

    def failed(self, url: str) -> None:
        """The request failed before its response (cancelled by the page, a network error)."""
        self._settle(_unfragmented(url))

    def _settle(self, url: str) -> None:
        count = self.responding.get(url, 0)
        if count > 1:
            self.responding[url] = count - 1
        elif count == 1:
            del self.responding[url]
        else:
            self._drop_awaiting(url)  # never paused at its response (a cache hit, a failure before it)
        self.touch()

    def _drop_awaiting(self, url: str) -> None:
        for key, value in self.awaiting.items():
            if value == url:
                del self.awaiting[key]
                return


# The browser asks for it on its own; Playwright leaves it out of its events (and so does the capture).
_FAVICON = "/favicon.ico"


def _unfragmented(url: str) -> str:
    return url.split("#", 1)[0]


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
    # What the page's network is doing (the settle's own network idle).
    network: NetworkActivity = field(default_factory=NetworkActivity)
    # How the settle ended: "idle", "selector" or "deadline" (render/settled/<how>).
    settled: str = ""


def failure_reason(exception: BaseException) -> str:
    if isinstance(exception, RenderFailed):
        return exception.reason
    if isinstance(exception, PlaywrightTimeoutError):
        return "timeout"
    if isinstance(exception, PlaywrightError):
        return "browser-error"
    return type(exception).__name__.lower()


def listen(session: Any, event: str, handler: Callable[[dict[str, Any]], None]) -> None:
    """``session.on(event, handler)`` for a DevTools session's events, with the event's parameters as they
    arrive. Playwright's public ``on`` wraps every handler call: ``inspect.signature`` of the handler and a
    deep copy of the parameters, per event, which cost more of the crawl's main thread than the capture
    itself (py-spy, bench/render.py). Its implementation object (the same emitter, without the wrapper) is
    used when there is one."""
    getattr(session, "_impl_obj", session).on(event, handler)
