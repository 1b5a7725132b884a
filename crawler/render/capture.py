"""Capture: every network response the browser saw becomes a ``Capture(source="browser")`` in the WARC.

It comes from the DevTools ``Network`` events of the page's own session (the guard's: ``crawler.render.guard``
opens it and hands its events here, ``BrowserCapture.watch``), so a response costs the driver at most one round
trip for its body and Python no Playwright ``Request``/``Response`` object: ``requestWillBeSent``
gives the request (method, body, resource type, frame; a redirect hop's response rides on the next hop's),
``requestWillBeSentExtraInfo`` / ``responseReceivedExtraInfo`` the headers as they went over the wire (the
cookies, every ``Set-Cookie`` line), ``responseReceived`` the status, the server's address and the headers
when there are no raw ones (a response from the browser's cache), ``loadingFinished`` / ``loadingFailed``
the end. Raw headers are matched to their hop as Playwright does: the n-th extra info of a request id belongs
to its n-th response that has one. They come from Chromium's network stack, the other events from the
page's renderer, in no set order between the two: before the request's own ``requestWillBeSent`` (a loaded
renderer sends its events late), or after its ``loadingFinished``. Either way they are kept for their hop
until its record is written (``_Extras``); raw headers not in by then (``_EXTRA_INFO_SECONDS`` after the
hop's response is known and its body loaded) leave the record with the headers the renderer saw, which
lack what only the network stack knows (the ``Set-Cookie`` lines). A redirect hop never takes the raw
headers of another status (when Chromium never sent its own, the next hop's come at its index). A response
whose body did not arrive (``loadingFailed`` after its headers) is not archived (``render/capture_failed``),
as a redirect hop is archived without a body.

Bodies: a response that declares its length within RENDER_MAX_RESPONSE_SIZE has its body read by the guard
while it is paused at its headers (``Fetch.getResponseBody``, ``RenderState.bodies``), before the page gets
it: a document that replaces itself (a challenge that reloads the page) drops what Chromium kept of its
responses, and a body read from the page after ``loadingFinished`` was then gone. The others (a body of
unknown length, a stream, media, a 304 or a cache hit, whose body is the browser cache's) are read once
loaded (``Network.getResponseBody``); one gone by then is counted ``render/capture_failed`` and logged, not
read again. A body the guard read is archived even if the page dropped its request after it (the server
sent it whole). Bodies come back decoded from Chromium, so their headers are made true to them
(``decoded_body_headers``).

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
import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError

from archive.capture import Capture, CaptureRef
from crawler.addressguard import url_refusal

from .headers import declared_length, decoded_body_headers
from .state import RenderState, WarcSink, listen

if TYPE_CHECKING:
    from playwright.async_api import CDPSession
    from scrapy.statscollectors import StatsCollector

__all__ = ["BrowserCapture", "PageTraffic"]

logger = logging.getLogger(__name__)


Block = Callable[[str, str, RenderState], None]
Headers = list[tuple[str, str]]

# How long a capture waits for raw headers Chromium said it would send (they come on their own path).
_EXTRA_INFO_SECONDS = 1.0
# Raw headers kept for request ids the page has not told of (yet, or at all: a request it does not capture).
_MAX_EARLY_EXTRAS = 256
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Requests Chromium makes for the page that Playwright never reported either (a CORS preflight).
_SKIPPED_TYPES = frozenset({"Preflight"})


def _header_list(headers: dict[str, str] | None) -> Headers:
    """DevTools headers (one value a name, repeated lines joined by a newline) as header lines."""
    return [
        (name, line)
        for name, value in (headers or {}).items()
        if not name.startswith(":")  # HTTP/2 pseudo-headers are not HTTP/1.1 header lines
        for line in str(value).split("\n")
    ]


@dataclass
class _Extras:
    """The raw headers Chromium's network stack sent for one request id, a hop's at a time, in hop order."""

    request: list[dict[str, str]] = field(default_factory=list)
    # responseReceivedExtraInfo events: statusCode and headers.
    response: list[dict[str, Any]] = field(default_factory=list)
    seen: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Hop:
    """One request of a request id and the response it got (a redirect hop, or the last)."""

    request: dict[str, Any]
    response: dict[str, Any] | None = None
    # Its index among the request id's responses with raw headers (None: it has none, e.g. from the cache).
    extra: int | None = None


@dataclass
class _Traffic:
    """What the Network events told about one request id so far."""

    request_id: str
    state: RenderState
    resource_type: str
    document: bool
    hops: list[_Hop] = field(default_factory=list)
    extras: _Extras = field(default_factory=_Extras)
    responses_with_extra: int = 0
    # Its loading ended (loadingFinished or loadingFailed), and how many of its captures are not written yet:
    # it is kept for the raw headers of those until they are.
    ended: bool = False
    open_captures: int = 0
    from_cache: bool = False
    # Set by loadingFinished (its body's size on the wire) or loadingFailed (None).
    finished: asyncio.Future[int | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    # Bytes on the wire when the last response's headers came (what the body size is counted from).
    header_bytes: int = 0

    def hop_response(self, hop: _Hop, response: dict[str, Any], has_extra: bool) -> None:
        hop.response = response
        if has_extra and not self.from_cache:
            hop.extra = self.responses_with_extra
            self.responses_with_extra += 1

    async def raw_headers(self, hop: _Hop) -> tuple[Headers | None, Headers | None]:
        """The hop's request and response headers as sent and received (None: Chromium has none)."""
        if hop.extra is None:
            return None, None
        index, extras = hop.extra, self.extras
        if len(extras.response) <= index:
            try:
                async with asyncio.timeout(_EXTRA_INFO_SECONDS):
                    while len(extras.response) <= index:
                        extras.seen.clear()
                        await extras.seen.wait()
            except TimeoutError:
                pass
        request = _header_list(extras.request[index]) if index < len(extras.request) else None
        event = extras.response[index] if index < len(extras.response) else None
        if event is None or not _same_hop(hop, event):
            return request, None
        return request, _header_list(event.get("headers"))


def _same_hop(hop: _Hop, extra: dict[str, Any]) -> bool:
    """Whether a response's raw headers can be its hop's: a redirect and a response that is none (or another
    redirect) never share them. Other statuses may differ (a revalidated cache hit: 200 in the page, 304 on
    the wire)."""
    status, raw = int((hop.response or {}).get("status") or 0), int(extra.get("statusCode") or 0)
    if not status or not raw or status == raw:
        return True
    return status not in _REDIRECTS and raw not in _REDIRECTS


class PageTraffic:
    """The Network events of one page's DevTools session, turned into captures for the render the page
    serves when a request starts (``render()``: None while the page is idle, and then nothing is captured)."""

    def __init__(
        self,
        capture: BrowserCapture,
        session: CDPSession,
        render: Callable[[], RenderState | None],
        main_frame: str,
    ) -> None:
        self.capture = capture
        self.session = session
        self.render = render
        self.main_frame = main_frame
        # Request ids being captured (kept after their loading ended until their captures are written).
        self._requests: dict[str, _Traffic] = {}
        # Raw headers of request ids not among them: come before the request's own events, or not captured.
        self._early: dict[str, _Extras] = {}
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "Network.requestWillBeSent": self._request,
            "Network.requestWillBeSentExtraInfo": self._request_extra,
            "Network.responseReceivedExtraInfo": self._response_extra,
            "Network.requestServedFromCache": self._from_cache,
            "Network.responseReceived": self._response,
            "Network.loadingFinished": self._finished,
            "Network.loadingFailed": self._failed,
        }

    def _request(self, event: dict[str, Any]) -> None:
        request_id = event["requestId"]
        traffic = self._requests.get(request_id)
        if traffic is not None and traffic.ended:  # a new request under an old id: its captures go on alone
            del self._requests[request_id]
            traffic = None
        redirect = event.get("redirectResponse")
        if traffic is not None and redirect is not None and traffic.hops:
            hop = traffic.hops[-1]  # its response is this redirect: archived now, without a body
            traffic.hop_response(hop, redirect, bool(event.get("redirectHasExtraInfo")))
            self._start(traffic, hop, last=False)
        if traffic is None:
            state = self.render()
            url = event["request"]["url"]
            extras = self._early.pop(request_id, None)
            if (
                state is None
                or event.get("type") in _SKIPPED_TYPES
                or not url.startswith(("http://", "https://"))
            ):
                return
            traffic = _Traffic(
                request_id=request_id,
                state=state,
                resource_type=str(event.get("type") or "Other").lower(),
                document=event.get("type") == "Document" and event.get("frameId") == self.main_frame,
                extras=extras if extras is not None else _Extras(),
            )
            self._requests[request_id] = traffic
        traffic.hops.append(_Hop(event["request"]))

    def _extras(self, request_id: str) -> _Extras:
        traffic = self._requests.get(request_id)
        if traffic is not None:
            return traffic.extras
        extras = self._early.get(request_id)
        if extras is None:
            if len(self._early) >= _MAX_EARLY_EXTRAS:  # of requests never captured, or written already
                del self._early[next(iter(self._early))]
            extras = self._early[request_id] = _Extras()
        return extras

    def _request_extra(self, event: dict[str, Any]) -> None:
        self._extras(event["requestId"]).request.append(event.get("headers") or {})

    def _response_extra(self, event: dict[str, Any]) -> None:
        extras = self._extras(event["requestId"])
        extras.response.append(event)
        extras.seen.set()

    def _from_cache(self, event: dict[str, Any]) -> None:
        traffic = self._requests.get(event["requestId"])
        if traffic is not None:
            traffic.from_cache = True

    def _response(self, event: dict[str, Any]) -> None:
        traffic = self._requests.get(event["requestId"])
        if traffic is None or traffic.ended or not traffic.hops:
            return
        if traffic.state is not self.render():  # its render ended (the page is idle or serves the next)
            del self._requests[event["requestId"]]
            return
        response = event["response"]
        hop = traffic.hops[-1]
        traffic.hop_response(hop, response, bool(event.get("hasExtraInfo")))
        traffic.header_bytes = int(response.get("encodedDataLength") or 0)
        task = self._start(traffic, hop, last=True)
        if traffic.document and not 300 <= int(response.get("status") or 0) < 400:
            traffic.state.document_task = task
            traffic.state.document_status = int(response["status"])

    def _start(self, traffic: _Traffic, hop: _Hop, *, last: bool) -> asyncio.Task[CaptureRef | None]:
        task = self.capture.start(self.session, traffic, hop, last=last)
        traffic.open_captures += 1

        def written(_: asyncio.Task[CaptureRef | None]) -> None:
            traffic.open_captures -= 1
            self._release(traffic)

        task.add_done_callback(written)
        return task

    def _ended(self, request_id: str) -> _Traffic | None:
        """The request id's loading ended: its traffic, if it is captured and had not ended before."""
        traffic = self._requests.get(request_id)
        if traffic is None:
            self._early.pop(request_id, None)
            return None
        if traffic.ended:
            return None
        traffic.ended = True
        self._release(traffic)
        return traffic

    def _release(self, traffic: _Traffic) -> None:
        """Forget an ended request id once its captures are written (no raw headers are awaited then)."""
        if traffic.ended and not traffic.open_captures and self._requests.get(traffic.request_id) is traffic:
            del self._requests[traffic.request_id]

    def _finished(self, event: dict[str, Any]) -> None:
        traffic = self._ended(event["requestId"])
        if traffic is not None and not traffic.finished.done():
            size = int(event.get("encodedDataLength") or 0) - traffic.header_bytes
            traffic.finished.set_result(max(size, 0))

    def _failed(self, event: dict[str, Any]) -> None:
        traffic = self._ended(event["requestId"])
        if traffic is None:
            return
        if traffic.hops and traffic.hops[-1].response is None:  # never answered: the settle stops awaiting it
            traffic.state.network.failed(traffic.hops[-1].request["url"])
        if not traffic.finished.done():
            traffic.finished.set_result(None)

    def forget(self) -> None:
        """The page closed: nothing more comes for its requests."""
        for traffic in self._requests.values():
            traffic.finished.cancel()  # as its render's end cancels its captures
        self._requests.clear()
        self._early.clear()


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

    def watch(
        self, session: CDPSession, render: Callable[[], RenderState | None], main_frame: str
    ) -> PageTraffic:
        """Capture what ``session``'s page fetches (its ``Network`` domain must be enabled after this)."""
        traffic = PageTraffic(self, session, render, main_frame)
        for event, handler in traffic.handlers.items():
            listen(session, event, handler)
        return traffic

    def start(
        self, session: CDPSession, traffic: _Traffic, hop: _Hop, *, last: bool
    ) -> asyncio.Task[CaptureRef | None]:
        state = traffic.state
        task = asyncio.ensure_future(self.capture(session, traffic, hop, last=last))
        state.tasks.append(task)
        # The settle's network idle counts a response until its capture is written.
        state.network.response(hop.request["url"])
        task.add_done_callback(lambda _: state.network.wake())
        return task

    async def capture(
        self, session: CDPSession, traffic: _Traffic, hop: _Hop, *, last: bool
    ) -> CaptureRef | None:
        state = traffic.state
        request, response = hop.request, hop.response or {}
        url, status = request["url"], int(response.get("status") or 0)
        fetched_at = datetime.now(UTC)
        try:
            size = await traffic.finished if last else 0
            if size is None and traffic.request_id not in state.bodies:
                raise PlaywrightError("the response's body did not arrive")
            raw_request, raw_response = await traffic.raw_headers(hop)
            response_headers = state.cut.get(url) or raw_response or _header_list(response.get("headers"))
            request_headers = raw_request or _header_list(request.get("headers"))
            # The body first: a challenge that reloads the page takes its resources' bodies with it.
            body, cut = (
                (b"", None)
                if not last
                else await self._body(session, traffic, url, status, size, response_headers)
            )
            request_body = await self._request_body(session, traffic, request)
            ip_address = response.get("remoteIPAddress") or None
            refused = url_refusal(url, [ip_address], state.hosts) if ip_address else None
            if refused is not None:
                self.block(refused, url, state)
                return None
        except PlaywrightError as exc:
            self.stats.inc_value("render/capture_failed")
            logger.debug("Could not capture browser response %s: %s", url, exc)
            return None
        sink = self.sink()
        if sink is None:
            return None
        extra = {"resource_type": traffic.resource_type}
        if cut is not None:
            extra["truncated"] = "length"
            self.block(cut, url, state)
            if cut == "page-too-large":
                self._over_page_cap(url, state)
        capture = Capture(
            url=url,
            method=request.get("method") or "GET",
            request_headers=request_headers,
            status=status,
            reason=response.get("statusText") or "",
            response_headers=decoded_body_headers(response_headers, len(body)),
            body=body,
            fetched_at=fetched_at,
            request_body=request_body,
            ip_address=ip_address,
            source="browser",
            extra=extra,
        )
        ref = await sink.write_capture_async(capture)
        self.stats.inc_value("render/captures")
        self.stats.inc_value(f"render/captures/{traffic.resource_type}")
        return ref

    async def _body(
        self,
        session: CDPSession,
        traffic: _Traffic,
        url: str,
        status: int,
        size: int | None,
        headers: Headers,
    ) -> tuple[bytes, str | None]:
        """The body to archive and, when it was cut, why (``response-too-large`` or ``page-too-large``)."""
        state = traffic.state
        taken = state.bodies.pop(traffic.request_id, None)  # read by the guard at the response's headers
        if 300 <= status < 400:
            return b"", None  # redirects have no body in the browser; the record keeps their headers
        if url in state.cut:  # answered empty by the guard: the body never left the server
            return b"", "response-too-large"
        room = self.max_page_size - state.page_bytes
        limit = min(self.max_response_size, room)
        why = "response-too-large" if self.max_response_size <= room else "page-too-large"
        declared = declared_length(headers)
        if (declared if declared is not None else size or 0) > limit:
            return b"", why
        if taken is not None:
            body = taken
        else:
            result = await session.send("Network.getResponseBody", {"requestId": traffic.request_id})
            text = result.get("body") or ""
            body = base64.b64decode(text) if result.get("base64Encoded") else text.encode("utf-8")
        if len(body) > limit:  # decoded larger than it travelled (a compression bomb)
            body, cut = body[:limit], why
        else:
            cut = None
        state.page_bytes += len(body)
        return body, cut

    @staticmethod
    async def _request_body(session: CDPSession, traffic: _Traffic, request: dict[str, Any]) -> bytes:
        """What the request sent (a form's POST): in its event, or asked for when too long to ride there."""
        entries = request.get("postDataEntries")
        if entries:
            return b"".join(base64.b64decode(entry.get("bytes") or "") for entry in entries)
        if request.get("postData"):
            return str(request["postData"]).encode("utf-8")
        if not request.get("hasPostData"):
            return b""
        try:
            result = await session.send("Network.getRequestPostData", {"requestId": traffic.request_id})
        except PlaywrightError:  # gone with the request (a redirect hop's)
            return b""
        return str(result.get("postData") or "").encode("utf-8")

    def _over_page_cap(self, url: str, state: RenderState) -> None:
        # The render stops through its normal failure path (crawler.render.settle), which closes the page:
        # closing it from here, under scrapy-playwright's navigation, hung the crawl.
        if not state.page_too_large:
            logger.warning(
                "Browser page over RENDER_MAX_PAGE_SIZE (%d bytes) at %s: closing it", self.max_page_size, url
            )
        state.page_too_large = True
        state.stop.set()
