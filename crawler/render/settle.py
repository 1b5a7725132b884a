"""Waiting for a rendered page to show its content (a scrapy-playwright page method).

The network is *idle* when every response the page got is captured (``RenderState.tasks``), the network did
nothing for half a second and no request still waits for its response headers; a request that never answers (a long
poll, a beacon) holds it for two seconds at most (``RenderState.network``, from the guard's DevTools
interception and the capture: no Playwright ``networkidle``, which may never fire on a page that is done).

With a wait selector, the page is done when the selector matches and no capture is pending (nothing new for
half a second), whichever comes first; the selector is looked up once the captures are quiet, and waited
for (Playwright's ``wait_for_selector``) only when it is not there yet. Without one, the page is done when
the network idles on a DOM the gate detector no longer calls gated; a DOM that stays a shell on a quiet
network fails at once (``still-gated``, ``script-error``) rather than at the timeout.

Stats: ``render/settled/idle`` (network idle, content there), ``render/settled/selector`` (the selector
matched, the captures done, some request still unanswered), ``render/settled/deadline`` (the content was
there only at RENDER_TIMEOUT).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from extraction.gate import JsGateDetector

from .state import RenderFailed, RenderState

if TYPE_CHECKING:
    from playwright.async_api import Page
    from scrapy.statscollectors import StatsCollector

__all__ = ["PageSettler"]

T = TypeVar("T")

# How long the DOM must stay unchanged (network idle, still gated) before the render is declared failed.
_QUIET_SECONDS = 1.0
_POLL_SECONDS = 0.2
# Network idle: nothing new for this long (as Playwright's networkidle), every capture done...
_IDLE_SECONDS = 0.5
# ... and no request waiting for its headers, or for this long when some still do (they may never answer).
_AWAITED_SECONDS = 2.0
# Whether the wait selector matches now (CSS in the light DOM; anything else goes to wait_for_selector).
_HAS_SELECTOR = "s => document.querySelector(s) !== null"


class PageSettler:
    """``await settler(page, state, selector, url)`` returns when the page shows content, else raises
    ``RenderFailed``."""

    def __init__(self, detector: JsGateDetector, timeout: float, stats: StatsCollector | None = None) -> None:
        self.detector = detector
        self.timeout = timeout
        self.stats = stats

    async def __call__(self, page: Page, state: RenderState, selector: str | None, url: str) -> None:
        deadline = time.monotonic() + self.timeout
        # A new page for this render (the first, or scrapy-playwright's retry after the watchdog closed one).
        if state.page is not page:
            state.page, state.page_since = page, time.monotonic()
        if selector:
            await self._selector(page, state, selector, url, deadline)
        else:
            await self._ungated(page, state, url, deadline)
        if self.stats is not None:
            self.stats.inc_value(f"render/settled/{state.settled}")

    async def _selector(
        self, page: Page, state: RenderState, selector: str, url: str, deadline: float
    ) -> None:
        # The captures quiet first: on most pages the content is there by then, which one query confirms.
        # Playwright's wait_for_selector (its injected script in every new document, polling each frame)
        # cost a fifth of a render's CPU in the benchmark: it runs only when the content is not there yet.
        quiet = await self._wait_quiet(state, deadline, url, awaited=False)
        if await self._has(page, selector, state, url):
            self._settled(state, quiet)
            return
        if not quiet:
            raise RenderFailed("selector-timeout", url)
        try:
            await self._unless_stopped(
                page.wait_for_selector(
                    selector, state="attached", timeout=max(deadline - time.monotonic(), 0.001) * 1000
                ),
                state,
                url,
            )
        except PlaywrightTimeoutError as exc:
            raise RenderFailed("selector-timeout", url) from exc
        # What the content brought (its images, say) is captured before the render ends.
        self._settled(state, await self._wait_quiet(state, deadline, url, awaited=False))

    @staticmethod
    def _settled(state: RenderState, quiet: bool) -> None:
        state.network_idle = quiet and not state.network.awaiting
        state.settled = "deadline" if not quiet else "idle" if state.network_idle else "selector"

    async def _ungated(self, page: Page, state: RenderState, url: str, deadline: float) -> None:
        last_html: str | None = None
        unchanged_since = 0.0
        while True:
            if deadline - time.monotonic() <= 0:
                raise RenderFailed(self._stuck_reason(state), url)
            if not await self._wait_quiet(state, deadline, url, awaited=True):
                continue
            state.network_idle = True
            try:
                html = await self._unless_stopped(page.content(), state, url)
            except PlaywrightError:  # navigating (a challenge reloading): look again
                await asyncio.sleep(_POLL_SECONDS)
                continue
            verdict = self.detector.detect(html, page.url)
            if not verdict.gated or (verdict.reason == "too-short" and state.listing):
                state.settled = "idle"
                return
            now = time.monotonic()
            if html != last_html:
                last_html, unchanged_since = html, now
            elif verdict.reason != "challenge-marker" and now - unchanged_since >= _QUIET_SECONDS:
                # Scripts done, network quiet, DOM still a shell: waiting longer will not help.
                raise RenderFailed(self._stuck_reason(state), url)
            await asyncio.sleep(_POLL_SECONDS)

    async def _wait_quiet(self, state: RenderState, deadline: float, url: str, *, awaited: bool) -> bool:
        """Until every capture is done and nothing happened for ``_IDLE_SECONDS`` (``awaited``: and no request
        waits for its headers, or for ``_AWAITED_SECONDS`` when some do); False at ``deadline``."""
        network = state.network
        while True:
            if state.stop.is_set():
                raise RenderFailed("page-too-large", url)
            now = time.monotonic()
            remaining = deadline - now
            left: float | None = None  # a capture is running: until something changes
            if not network.responding and all(task.done() for task in state.tasks):
                need = _AWAITED_SECONDS if awaited and network.awaiting else _IDLE_SECONDS
                left = need - (now - network.last)
                if left <= 0:
                    return True
            if remaining <= 0:
                return False
            changed = asyncio.ensure_future(network.changed.wait())
            stop = asyncio.ensure_future(state.stop.wait())
            try:
                await asyncio.wait(
                    {changed, stop},
                    timeout=min(remaining, left if left is not None else remaining),
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                changed.cancel()
                stop.cancel()

    async def _has(self, page: Page, selector: str, state: RenderState, url: str) -> bool:
        try:
            return bool(await self._unless_stopped(page.evaluate(_HAS_SELECTOR, selector), state, url))
        except PlaywrightError:  # navigating, or not CSS (Playwright's own selector syntax): wait for it
            return False

    @staticmethod
    async def _unless_stopped(awaitable: Awaitable[T], state: RenderState, url: str) -> T:
        """Await ``awaitable``, or fail with ``page-too-large`` as soon as the capture stops the render."""
        if state.stop.is_set():
            raise RenderFailed("page-too-large", url)
        task = asyncio.ensure_future(awaitable)
        stop = asyncio.ensure_future(state.stop.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise RenderFailed("page-too-large", url)
        return task.result()

    @staticmethod
    def _stuck_reason(state: RenderState) -> str:
        if state.page_errors:
            return "script-error"
        return "still-gated" if state.network_idle else "timeout"
