"""The browser guard: every request a render's page makes passes one decision before it leaves Chromium.

Without it the browser bypasses everything Scrapy's own requests go through (scope, address rule, robots.txt,
download slots, DOWNLOAD_MAXSIZE): a hostile page's script could make the crawler fetch cloud metadata or
an intranet service and write the answer into the WARC.

``browser_refusal(url, addresses, hosts, page=...)`` decides: only http(s); a main-frame navigation (a
*page*) must stay on the site's hosts (``SiteHosts.in_scope``); any request to a host the site does not
live on must resolve to public addresses only (``crawler.addressguard``). Third-party public hosts stay
allowed for page resources (scripts, images, fonts from CDNs: replay needs them), never as pages.

``BrowserGuard.install(page, request, state)`` is scrapy-playwright's ``playwright_page_init_callback``: it
runs after the page is created and before it navigates, and adds

- request interception on the page's own DevTools session (``Fetch.enable``): every request of the page,
  of its frames and of its dedicated workers pauses there before it is sent, redirect hops included. A
  refused request fails (``BlockedByClient``), an allowed one continues (the render's first navigation with
  the Scrapy request's method and body, when it has them). Responses pause there too, at their headers: one
  whose Content-Length is over RENDER_MAX_RESPONSE_SIZE is answered with an empty body at once, so Chromium
  never downloads it (the capture archives it cut, ``state.cut``); one whose Content-Length is within it has
  its body read there for the capture (``Fetch.getResponseBody``, then it goes on to the page whole:
  ``_take_body``), unless it is media or an event source. This is the only interception: no
  Playwright route runs (each would pause every request a second time and carry it through the driver to
  Python and back);
- a WebSocket route: every WebSocket is refused (it never reaches its server; the DevTools interception does
  not see WebSockets);
- once per context, a WebSocket route and a watch for pages the site's scripts open themselves (popups: a
  new page with an opener). Chromium opens none (``--block-new-web-contents``, and its popup blocker where
  the browser has one: ``crawler.render.chromium``); one that opens all the same is closed at once and
  counted (``popup``).

The interception also tells the render what its page's network does (``RenderState.network``: a request
sent, its response headers; with the capture's ``Network`` events, a response that reached the page and a
request that failed: the settle's own network idle, ``crawler.render.settle``). The same DevTools session
carries the capture (``BrowserGuard.capture``: ``crawler.render.capture.BrowserCapture.watch``, then
``Network.enable``); without a capture (the guard alone) Playwright's ``requestfailed`` event tells the settle.

If installing fails the page is closed, so the render fails rather than running unguarded. Service workers
are blocked in every context (``crawler.render.contexts``): no page session sees their requests. The caps on
bytes are the capture's (``crawler.render.capture``). Every refusal is counted as
``render/blocked/<reason>`` and logged with its URL.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError

from crawler.addressguard import HostResolver, SiteHosts, http_target, url_refusal

from .headers import declared_length
from .state import RenderState, listen

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, CDPSession, Page, WebSocketRoute
    from scrapy.http import Request
    from scrapy.statscollectors import StatsCollector

    from .capture import BrowserCapture

__all__ = ["BrowserGuard", "browser_refusal"]

logger = logging.getLogger(__name__)

# A request body longer than this is asked for separately (Network.getRequestPostData), not sent in its event.
_MAX_POST_DATA = 64 * 1024

# Responses without a body (a 304's is the browser cache's: the capture reads it once loaded).
_NO_BODY = frozenset({101, 204, 205, 304})
# Resource types the page uses as their bytes come: their bodies are not awaited at the response's headers.
_STREAMED = frozenset({"Media", "EventSource", "WebSocket"})


def browser_refusal(url: str, addresses: Sequence[str], hosts: SiteHosts, *, page: bool) -> str | None:
    """Why the browser must not send a request for ``url`` (its host has ``addresses``); None when it may.

    ``page`` is True for a main-frame navigation: the document the render is about.
    """
    target = http_target(url)
    if target is None:
        return "scheme"
    scheme, host, port = target
    if page and not hosts.in_scope(host, port):
        return "offsite-page"
    if not addresses and not hosts.lives_on(host, port, scheme):
        return "unresolved"  # Chromium would resolve it on its own: an answer we never checked
    return url_refusal(url, addresses, hosts)


class _Current:
    """The render a guarded page serves now (None: it is idle, between renders)."""

    __slots__ = ("session", "state")

    def __init__(self, state: RenderState | None) -> None:
        self.state = state
        self.session: CDPSession | None = None


class BrowserGuard:
    """Installs the routes on each render's page and counts what they refuse."""

    def __init__(
        self, stats: StatsCollector, max_response_size: int, resolver: HostResolver | None = None
    ) -> None:
        self.stats = stats
        self.max_response_size = max_response_size
        self.resolver = resolver or HostResolver()
        self._guarded_contexts: set[int] = set()
        self._popups: set[asyncio.Task[None]] = set()
        # The render each guarded page serves now, by page.
        self._pages: dict[int, _Current] = {}
        # Archives what the guarded pages fetch, from the same DevTools session (``crawler.render.capture``).
        self.capture: BrowserCapture | None = None

    async def install(self, page: Page, request: Request, *, state: RenderState) -> None:
        """Guard ``page`` for the render of ``state``. A reused page (``crawler.render.pages``) is guarded
        already: its interception and routes decide for whichever render it serves now."""
        state.navigation = (request.url, request.method, request.body)
        current = self._pages.get(id(page))
        try:
            if current is not None and not page.is_closed():
                current.state = state
                if current.session is not None:  # stopped when its last render ended (``freeze``)
                    await current.session.send("Emulation.setScriptExecutionDisabled", {"value": False})
                return
            current = _Current(state)
            context = page.context
            if id(context) not in self._guarded_contexts:
                await self._guard_context(context)
            await self._intercept(page, current)
            await page.route_web_socket("**", lambda ws: self._refuse_websocket(ws, current.state))
        except Exception:
            logger.error("Could not guard the browser page for %s: closing it", request.url)
            await page.close()
            raise
        self._pages[id(page)] = current
        page.once("close", self._forget_page)
        if self.capture is None:  # else the capture's Network events tell the settle (``PageTraffic``)
            page.on("requestfailed", lambda failed: self._failed(failed.url, current.state))

    @staticmethod
    def _failed(url: str, state: RenderState | None) -> None:
        """A request ended without response headers (cancelled by the page, a network error): not awaited
        any more (``RenderState.network``). Playwright sends this event only when a request fails."""
        if state is not None:
            state.network.failed(url)

    def _forget_page(self, page: Page) -> None:
        self._pages.pop(id(page), None)

    def idle(self, page: Page) -> None:
        """``page`` serves no render now: everything it might still ask for is refused (``idle-page``)."""
        current = self._pages.get(id(page))
        if current is not None:
            current.state = None

    async def freeze(self, page: Page) -> bool:
        """Stop the idle ``page``'s document where it is: its scripts run no more (DevTools
        ``Emulation.setScriptExecutionDisabled``: no timer, no event handler) until the next render takes the
        page (``install`` lets scripts run again and that render navigates it, replacing the document). What
        is still in flight, and anything its workers ask for, the guard refuses (``idle-page``). False when
        that fails (then the page must not be reused).

        Cheaper than navigating it to ``about:blank`` and back: in the benchmark that navigation cost a
        tenth of a render's CPU (renderer and browser). (The web lifecycle's *frozen* state,
        ``Page.setWebLifecycleState``, left the page's timers running in the headless shell.)"""
        current = self._pages.get(id(page))
        if current is None or current.session is None or page.is_closed():
            return False
        try:
            await current.session.send("Emulation.setScriptExecutionDisabled", {"value": True})
        except PlaywrightError as exc:
            logger.debug("Could not freeze an idle page: %s", exc)
            return False
        return True

    async def _guard_context(self, context: BrowserContext) -> None:
        context.on("page", self._watch_popup)
        await context.route_web_socket("**", lambda ws: self._refuse_websocket(ws, None))
        self._guarded_contexts.add(id(context))
        context.once("close", lambda _: self._guarded_contexts.discard(id(context)))

    async def _intercept(self, page: Page, current: _Current) -> None:
        session = await page.context.new_cdp_session(page)
        current.session = session
        tree = await session.send("Page.getFrameTree")
        main_frame = tree["frameTree"]["frame"]["id"]
        tasks: set[asyncio.Task[None]] = set()

        def paused(event: dict[str, Any]) -> None:
            task = asyncio.ensure_future(self._paused(session, event, main_frame, current.state))
            tasks.add(task)  # a reference until it is done
            task.add_done_callback(tasks.discard)

        listen(session, "Fetch.requestPaused", paused)
        stages = [{"urlPattern": "*", "requestStage": stage} for stage in ("Request", "Response")]
        await session.send("Fetch.enable", {"patterns": stages})
        if self.capture is not None:
            traffic = self.capture.watch(session, lambda: current.state, main_frame)
            page.once("close", lambda _: traffic.forget())
            # Chromium's own body buffers, as on Playwright's session: the caps are the capture's (a body
            # that decodes larger than its cap is archived cut, so it must be there to be read).
            await session.send("Network.enable", {"maxPostDataSize": _MAX_POST_DATA})

    async def _paused(
        self, session: CDPSession, event: dict[str, Any], main_frame: str, state: RenderState | None
    ) -> None:
        url = event["request"]["url"]
        if state is not None and ("responseStatusCode" in event or "responseErrorReason" in event):
            state.network.headers(event.get("networkId"), url)
            await self._response_headers(session, event, state)
            return
        page = event.get("resourceType") == "Document" and event.get("frameId") == main_frame
        try:
            reason = "idle-page" if state is None else await self.decide(url, state, page=page)
        except Exception:  # a paused request must be answered: refuse it rather than leave the page hanging
            logger.exception("Browser guard failed on %s: refusing it", url)
            reason = "guard-error"
        try:
            if reason is None:
                if state is not None:
                    state.network.sent(event.get("networkId") or event["requestId"], url)
                await session.send("Fetch.continueRequest", self._continue(event, state, page=page))
                return
            self.count(reason, url, state)
            await session.send(
                "Fetch.failRequest", {"requestId": event["requestId"], "errorReason": "BlockedByClient"}
            )
        except PlaywrightError as exc:  # the page closed meanwhile
            logger.debug("Intercepting %s failed: %s", url, exc)

    @staticmethod
    def _continue(event: dict[str, Any], state: RenderState | None, *, page: bool) -> dict[str, Any]:
        """``Fetch.continueRequest``'s parameters: the render's first navigation carries the Scrapy request's
        method and body (a form's POST); everything else goes on as the browser made it."""
        params: dict[str, Any] = {"requestId": event["requestId"]}
        if state is None or not page or state.navigation is None:
            return params
        url, method, body = state.navigation
        if event["request"]["url"].rstrip("/") != url.rstrip("/"):
            return params
        state.navigation = None  # only the first: a reload or a later form is the page's own
        if method.upper() != event["request"]["method"].upper():
            params["method"] = method
        if body:
            params["postData"] = base64.b64encode(body).decode("ascii")
        return params

    async def _response_headers(self, session: CDPSession, event: dict[str, Any], state: RenderState) -> None:
        """A response whose declared length is over RENDER_MAX_RESPONSE_SIZE is answered empty right at its
        headers, so Chromium never downloads the body; the capture archives it cut (``state.cut``)."""
        headers = [(h["name"], h["value"]) for h in event.get("responseHeaders") or ()]
        length = declared_length(headers)
        try:
            if length is None or length <= self.max_response_size:
                if length is not None and self.capture is not None:
                    await self._take_body(session, event, headers, length, state)
                await session.send("Fetch.continueRequest", {"requestId": event["requestId"]})
                return
            state.cut[event["request"]["url"]] = headers
            kept = [{"name": n, "value": v} for n, v in headers if n.lower() != "content-length"]
            await session.send(
                "Fetch.fulfillRequest",
                {
                    "requestId": event["requestId"],
                    "responseCode": event.get("responseStatusCode") or 200,
                    "responseHeaders": kept,
                    "body": "",
                },
            )
        except PlaywrightError as exc:  # the page closed meanwhile
            logger.debug("Answering %s failed: %s", event["request"]["url"], exc)

    @staticmethod
    async def _take_body(
        session: CDPSession,
        event: dict[str, Any],
        headers: list[tuple[str, str]],
        length: int,
        state: RenderState,
    ) -> None:
        """Read the body of a response paused at its headers, for the capture (``RenderState.bodies``):
        Chromium holds it until the response goes on, and then still gives it to the page whole. Read here,
        a document that replaces itself (a challenge that reloads the page) cannot take it away before the
        capture reads it. Only a response that declares its length, within RENDER_MAX_RESPONSE_SIZE (a body
        of unknown length is read by the capture once loaded, when its size is known), with a body (not a
        redirect, a 304 or a 204), not media or an event source (the page uses those as their bytes come:
        they would wait here for all of them). Round trips stay those of a capture that reads the body
        from the page: the read here replaces ``Network.getResponseBody`` (none for an empty body)."""
        status = int(event.get("responseStatusCode") or 0)
        network_id = event.get("networkId")
        if network_id is None or 300 <= status < 400 or status in _NO_BODY:
            return
        if event.get("resourceType") in _STREAMED:
            return
        if any(n.lower() == "content-type" and "event-stream" in v.lower() for n, v in headers):
            return
        if length == 0 or event["request"].get("method") == "HEAD":
            state.bodies[network_id] = b""
            return
        try:
            result = await session.send("Fetch.getResponseBody", {"requestId": event["requestId"]})
        except PlaywrightError as exc:  # the capture reads it once loaded, as for any other response
            logger.debug("Could not read the body of %s at its headers: %s", event["request"]["url"], exc)
            return
        text = result.get("body") or ""
        state.bodies[network_id] = base64.b64decode(text) if result.get("base64Encoded") else text.encode()

    async def decide(self, url: str, state: RenderState, *, page: bool) -> str | None:
        """``browser_refusal`` for one request of ``state``'s render, with its host looked up when needed."""
        target = http_target(url)
        addresses: tuple[str, ...] = ()
        if target is not None and not state.hosts.lives_on(target[1], target[2], target[0]):
            addresses = await self.resolver.resolve(target[1])  # the site's own hosts need no lookup
        return browser_refusal(url, addresses, state.hosts, page=page)

    def _watch_popup(self, page: Page) -> None:
        task = asyncio.ensure_future(self._close_popup(page))
        self._popups.add(task)
        task.add_done_callback(self._popups.discard)

    async def _close_popup(self, page: Page) -> None:
        """A page with an opener is a popup (the render pages have none): it belongs to no render."""
        try:
            if await page.opener() is None:
                return
            self.count("popup", page.url, None)
            await page.close()
        except PlaywrightError as exc:
            logger.debug("Closing a popup failed: %s", exc)

    async def _refuse_websocket(self, ws: WebSocketRoute, state: RenderState | None) -> None:
        self.count("websocket", ws.url, state)
        try:
            await ws.close(code=1008, reason="refused by the archiving crawler")
        except PlaywrightError as exc:
            logger.debug("Closing WebSocket %s failed: %s", ws.url, exc)

    def count(self, reason: str, url: str, state: RenderState | None) -> None:
        self.stats.inc_value(f"render/blocked/{reason}")
        if state is not None:
            state.blocked.append((reason, url))
        logger.info("Browser request blocked (%s): %s", reason, url)
