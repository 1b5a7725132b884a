"""Waiting for a rendered page to show its content (a scrapy-playwright page method).

The page is done when the network idles and the wait selector is there (looked up once at network idle; waited
for only when it is not there yet), or, without a selector, when the network idles on a DOM the gate
detector no longer calls gated. A DOM that stays a shell on a quiet network fails at once (``still-gated``,
``script-error``) rather than at the timeout.
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

__all__ = ["PageSettler"]

T = TypeVar("T")

# How long the DOM must stay unchanged (network idle, still gated) before the render is declared failed.
_QUIET_SECONDS = 1.0
_POLL_SECONDS = 0.2
# Whether the wait selector matches now (CSS in the light DOM; anything else goes to wait_for_selector).
_HAS_SELECTOR = "s => document.querySelector(s) !== null"


class PageSettler:
    """``await settler(page, state, selector, url)`` returns when the page shows content, else raises
    ``RenderFailed``."""

    def __init__(self, detector: JsGateDetector, timeout: float) -> None:
        self.detector = detector
        self.timeout = timeout

    async def __call__(self, page: Page, state: RenderState, selector: str | None, url: str) -> None:
        deadline = time.monotonic() + self.timeout
        # A new page for this render (the first, or scrapy-playwright's retry after the watchdog closed one).
        if state.page is not page:
            state.page, state.page_since = page, time.monotonic()
        if selector:
            # Network idle first: every requisite is in by then (replay needs them all) and, on most
            # pages, the content too, which one query then confirms. Playwright's wait_for_selector (its
            # injected script in every new document, polling each frame) cost a fifth of a render's CPU in
            # the benchmark: it runs only when the content is not there yet.
            await self._wait_idle(page, state, deadline)
            if await self._has(page, selector, state, url):
                return
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
            await self._wait_idle(page, state, deadline)  # at once when the network is idle already
            return
        last_html: str | None = None
        unchanged_since = 0.0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RenderFailed(self._stuck_reason(state), url)
            if not await self._wait_idle(page, state, deadline):
                continue
            try:
                html = await self._unless_stopped(page.content(), state, url)
            except PlaywrightError:  # navigating (a challenge reloading): look again
                await asyncio.sleep(_POLL_SECONDS)
                continue
            verdict = self.detector.detect(html, page.url)
            if not verdict.gated or (verdict.reason == "too-short" and state.listing):
                return
            now = time.monotonic()
            if html != last_html:
                last_html, unchanged_since = html, now
            elif verdict.reason != "challenge-marker" and now - unchanged_since >= _QUIET_SECONDS:
                # Scripts done, network quiet, DOM still a shell: waiting longer will not help.
                raise RenderFailed(self._stuck_reason(state), url)
            await asyncio.sleep(_POLL_SECONDS)

    async def _has(self, page: Page, selector: str, state: RenderState, url: str) -> bool:
        try:
            return bool(await self._unless_stopped(page.evaluate(_HAS_SELECTOR, selector), state, url))
        except PlaywrightError:  # navigating, or not CSS (Playwright's own selector syntax): wait for it
            return False

    async def _wait_idle(self, page: Page, state: RenderState, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            await self._unless_stopped(
                page.wait_for_load_state("networkidle", timeout=remaining * 1000), state, page.url
            )
        except PlaywrightTimeoutError:
            return False
        state.network_idle = True
        return True

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
