"""Render JavaScript-gated pages in Chromium only when needed, and archive everything the browser fetched.

Reads: RENDER_CHROMIUM_PATH, RENDER_MAX_CONTEXTS, RENDER_MAX_PAGES_PER_CONTEXT, RENDER_TIMEOUT,
RENDER_HARD_TIMEOUT (into
``RenderConfig``), USER_AGENT via the request headers, and DOWNLOAD_HANDLERS (to refuse to run without
scrapy-playwright).

- ``playwright_settings(config)`` gives the scrapy-playwright settings for a ``RenderConfig``;
  ``RenderAddon`` (``ADDONS = {"crawler.render.RenderAddon": 0}``) applies them plus the middleware after
  every other settings source, so ``-s RENDER_TIMEOUT=...`` is honoured.
- ``JsGateMiddleware`` (downloader middleware, order ``JS_GATE_MIDDLEWARE_ORDER`` = 585: after
  HttpCompression 590 has decoded the body, before Retry 550 / MetaRefresh 580) runs ``JsGateDetector`` on
  plain HTML responses of ``render: auto`` sites and answers a gated one with a browser request
  (``playwright=True``, in one of RENDER_MAX_CONTEXTS browser contexts that stay open for the crawl, so a
  challenge cookie serves the site's next pages; a higher priority, so renders do not trail the crawl).
  For every browser request (auto or the spider's ``render: always``) it records each network response of
  the page as a ``Capture(source="browser")`` through the crawl's WARC writer (``crawler.warc_archive``),
  waits for the content, writes the rendered DOM as a ``conversion`` record and points
  ``request.meta["warc"]`` at it.

Meta read: ``render`` ("auto" | "always" | "never", default "auto"), ``site`` (context name),
``render_wait_selector``. Meta written: ``render_reason``, ``rendered``, ``warc`` (the DOM record),
``render_document_warc`` (the browser's capture of the final document), ``render_gated_warc`` (the plain
gated response, when the WARC middleware recorded it). Stats: ``render/gate/<reason>``, ``render/pages``,
``render/seconds``, ``render/captures``, ``render/capture_failed``, ``render/failed/<reason>``,
``render/pages_closed``, ``render/contexts_closed``, ``render/watchdog``.

A watchdog closes the page of a render that runs longer than RENDER_HARD_TIMEOUT (default three times
RENDER_TIMEOUT) after its page first loaded, so one wedged page cannot keep a crawl from finishing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Request, Response
from scrapy_playwright.page import PageMethod

from archive.capture import Capture, CaptureRef
from crawler.config import SettingsReader
from extraction.gate import JsGateDetector

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page
    from playwright.async_api import Response as BrowserResponse
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector

__all__ = [
    "BROWSER_ARGS",
    "JS_GATE_MIDDLEWARE_ORDER",
    "JsGateMiddleware",
    "RenderAddon",
    "RenderConfig",
    "RenderFailed",
    "decoded_body_headers",
    "playwright_settings",
]

logger = logging.getLogger(__name__)

PLAYWRIGHT_HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
JS_GATE_MIDDLEWARE_ORDER = 585
# Added to a gated page's priority when it goes back to the scheduler as a browser request.
RENDER_PRIORITY_BOOST = 10
RENDER_MODES = frozenset({"auto", "always", "never"})
# Chromium flags for containers and crawling: no /dev/shm limits, no background traffic of its own
# (that would land in the archive), no QUIC (captures stay HTTP/1.1 or HTTP/2).
BROWSER_ARGS: tuple[str, ...] = (
    "--disable-dev-shm-usage",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
# Statuses a challenge or app shell is served with; other errors are not worth a browser.
_GATE_STATUSES = frozenset({200, 202, 203, 403, 429, 503})
# Headers that describe the bytes on the wire; Playwright hands back the decoded body.
_WIRE_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
_ORIG_PREFIX = "X-Archive-Orig-"
_STATE_KEY = "_render_state"
# How long the DOM must stay unchanged (network idle, still gated) before the render is declared failed.
_QUIET_SECONDS = 1.0
_POLL_SECONDS = 0.2


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


@dataclass(frozen=True)
class RenderConfig:
    """Browser settings, parsed once. ``chromium_path`` None means Playwright's own Chromium download."""

    chromium_path: str | None
    max_contexts: int
    max_pages_per_context: int
    timeout: float
    # How long a page may take from its first load to its end before the watchdog closes it (0: 3 x timeout).
    hard_timeout: float = 0.0

    @property
    def watchdog_seconds(self) -> float:
        return self.hard_timeout or 3 * self.timeout

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RenderConfig:
        """Raises ``ConfigError`` naming every bad RENDER_* setting."""
        r = SettingsReader(settings)
        path = r.text("RENDER_CHROMIUM_PATH")
        if path and not (os.path.isfile(path) and os.access(path, os.X_OK)):
            r.fail(
                f"RENDER_CHROMIUM_PATH {path!r} is not an executable file; set it to a Chromium binary "
                "(e.g. /usr/bin/chromium) or leave it empty to use `playwright install chromium`"
            )
        max_contexts = r.integer("RENDER_MAX_CONTEXTS", minimum=1)
        max_pages = r.integer("RENDER_MAX_PAGES_PER_CONTEXT", minimum=1)
        timeout = r.number("RENDER_TIMEOUT", positive=True, hint=" (seconds)")
        hard_timeout = r.number(
            "RENDER_HARD_TIMEOUT", minimum=0.0, hint=" (seconds; 0: three times RENDER_TIMEOUT)"
        )
        r.check()
        return cls(path or find_chromium(), max_contexts, max_pages, timeout, hard_timeout)


def _playwright_has_chromium() -> bool:
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or os.path.expanduser("~/.cache/ms-playwright")
    return os.path.isdir(root) and any(name.startswith("chromium") for name in os.listdir(root))


def _is_article(request: Request) -> bool:
    """Article pages (and requests from outside the spider, which carry no kind) get the full gate test."""
    return request.meta.get("kind", "article") == "article"


def find_chromium() -> str | None:
    """Playwright's own Chromium when it was downloaded (``playwright install chromium``: None here means
    "let Playwright choose"); otherwise the system's browser. Debian's ``chromium-headless-shell`` (the old
    headless mode, what Playwright itself runs for headless pages) comes first: in the benchmark it renders
    a gated page with about 40 % less CPU than the full ``chromium`` in its new headless mode."""
    if _playwright_has_chromium():
        return None
    for name in (
        "chromium-headless-shell",
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ):
        found = shutil.which(name)
        if found:
            return found
    return None


def playwright_settings(config: RenderConfig) -> dict[str, Any]:
    """The scrapy-playwright settings for ``config`` (merge them into the crawl's settings)."""
    launch: dict[str, Any] = {"headless": True, "args": list(BROWSER_ARGS)}
    if config.chromium_path:
        launch["executable_path"] = config.chromium_path
    return {
        "DOWNLOAD_HANDLERS": {"http": PLAYWRIGHT_HANDLER, "https": PLAYWRIGHT_HANDLER},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
        "PLAYWRIGHT_MAX_CONTEXTS": config.max_contexts,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": config.max_pages_per_context,
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": config.timeout * 1000,
        # The browser sends its own headers (and the cookies its scripts set, which Scrapy's jar never
        # sees); the User-Agent comes from the context (see JsGateMiddleware._context_kwargs).
        "PLAYWRIGHT_PROCESS_REQUEST_HEADERS": None,
    }


class RenderAddon:
    """Scrapy add-on: applies ``playwright_settings`` and enables ``JsGateMiddleware``."""

    def update_settings(self, settings: BaseSettings) -> None:
        config = RenderConfig.from_settings(settings)
        for name, value in playwright_settings(config).items():
            if name == "DOWNLOAD_HANDLERS":
                value = {**settings.getdict("DOWNLOAD_HANDLERS"), **value}
            settings.set(name, value, "addon")
        settings.set_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", JsGateMiddleware, JS_GATE_MIDDLEWARE_ORDER
        )


def decoded_body_headers(headers: list[tuple[str, str]], body_length: int) -> list[tuple[str, str]]:
    """Make response headers true to a decoded body of ``body_length`` bytes.

    Content-Encoding and Transfer-Encoding go (kept as ``X-Archive-Orig-*``), Content-Length is set to the
    body's length (the original kept as ``X-Archive-Orig-Content-Length`` when it differed).
    """
    kept: list[tuple[str, str]] = []
    originals: list[tuple[str, str]] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered.startswith(":"):  # HTTP/2 pseudo-headers are not HTTP/1.1 header lines
            continue
        if lowered in _WIRE_HEADERS:
            if lowered != "content-length" or value.strip() != str(body_length):
                originals.append((_ORIG_PREFIX + "-".join(p.capitalize() for p in lowered.split("-")), value))
            continue
        kept.append((name, value))
    kept.append(("Content-Length", str(body_length)))
    return kept + originals


@dataclass
class _RenderState:
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


class JsGateMiddleware:
    """Re-fetch gated pages with Chromium and archive the browser's traffic; see the module docstring."""

    def __init__(
        self,
        config: RenderConfig,
        detector: JsGateDetector,
        stats: StatsCollector,
        crawler: Crawler | None = None,
    ) -> None:
        self.config = config
        self.detector = detector
        self.stats = stats
        self.crawler = crawler
        self._inflight: Counter[str] = Counter()
        # The browser contexts renders ran in, by name: they stay open for the whole crawl (a site's challenge
        # cookie serves its next pages) and are closed when the spider closes.
        self._open_contexts: dict[str, BrowserContext] = {}
        self._site_contexts: dict[str, int] = {}
        # Renders in flight, for the watchdog.
        self._active: dict[int, _RenderState] = {}
        self._watchdog: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JsGateMiddleware:
        handlers = crawler.settings.getdict("DOWNLOAD_HANDLERS")
        if not all(handlers.get(scheme) == PLAYWRIGHT_HANDLER for scheme in ("http", "https")):
            raise NotConfigured(
                "JsGateMiddleware needs scrapy-playwright's download handler for http and https: merge "
                "crawler.render.playwright_settings(RenderConfig.from_settings(settings)) or enable "
                "ADDONS = {'crawler.render.RenderAddon': 0}"
            )
        assert crawler.stats is not None
        mw = cls(RenderConfig.from_settings(crawler.settings), JsGateDetector(), crawler.stats, crawler)
        crawler.signals.connect(mw._spider_closed, signal=signals.spider_closed)
        return mw

    # --- plain responses: the gate ------------------------------------------------------------------

    async def process_request(self, request: Request) -> None:
        if not request.meta.get("playwright") or _STATE_KEY in request.meta:
            return None
        # A browser request (re-scheduled by us, or render: always from the spider): set up capture.
        # Callables go into meta only here, after the scheduler, so queued requests stay serialisable.
        site = self._site(request)
        context = self._context_name(site)
        reason = request.meta.setdefault("render_reason", "always")
        state = _RenderState(site=site, reason=reason, started=time.monotonic(), context=context)
        self._active[id(state)] = state
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.ensure_future(self._watch())
        meta = request.meta
        meta[_STATE_KEY] = state
        meta["playwright_context"] = context
        # Browser requests queue in their own slot, so a site's plain pages do not wait behind its renders.
        meta["download_slot"] = f"render:{site}"
        meta["playwright_include_page"] = True
        meta["playwright_context_kwargs"] = self._context_kwargs(request, context)
        meta["playwright_page_goto_kwargs"] = {"wait_until": "commit"}
        meta["playwright_page_event_handlers"] = {
            "response": lambda response: self._on_response(response, state),
            "pageerror": lambda error: state.page_errors.append(str(error)),
        }
        # The site's wait selector describes its article pages; listing pages settle on network idle.
        selector = meta.get("render_wait_selector") if _is_article(request) else None
        meta["playwright_page_methods"] = [PageMethod(self._settle, state, selector, request.url)]
        state.listing = not _is_article(request)
        self._inflight[context] += 1
        return None

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        state = request.meta.pop(_STATE_KEY, None)
        if isinstance(state, _RenderState):
            return await self._finish_render(request, response, state)
        if request.meta.get("playwright"):
            return response
        return self._gate(request, response)

    async def process_exception(self, request: Request, exception: Exception) -> None:
        state = request.meta.pop(_STATE_KEY, None)
        if not isinstance(state, _RenderState):
            return None
        page = request.meta.pop("playwright_page", None)
        try:
            await self._drain(state)
        finally:
            await self._release(page, state)
        self._clean_meta(request)
        reason = "watchdog" if state.watchdog_fired else _failure_reason(exception)
        self.stats.inc_value(f"render/failed/{reason}")
        self._add_seconds(time.monotonic() - state.started)
        logger.warning(
            "Render failed (%s) for %s after %.1fs: %s",
            reason,
            request.url,
            time.monotonic() - state.started,
            exception,
        )
        # The gated plain response is already archived; the crawl goes on without this page's content.
        raise IgnoreRequest(f"render failed ({reason}): {request.url}") from exception

    def _gate(self, request: Request, response: Response) -> Request | Response:
        mode = request.meta.get("render", "auto")
        if mode not in RENDER_MODES:
            logger.warning("Unknown render mode %r for %s; treating it as 'auto'", mode, request.url)
            mode = "auto"
        if mode != "auto" or not isinstance(response, HtmlResponse) or response.status not in _GATE_STATUSES:
            return response
        verdict = self.detector.detect(response.text, response.url)
        if not verdict.gated or (verdict.reason == "too-short" and not _is_article(request)):
            # A listing page is mostly links: little prose is normal there, not a sign of a gate.
            return response
        reason = verdict.reason or "gated"
        self.stats.inc_value(f"render/gate/{reason}")
        logger.info("JavaScript gate (%s) at %s: rendering it in the browser", reason, response.url)
        meta = {k: v for k, v in request.meta.items() if k not in ("warc", "download_latency")}
        if "warc" in request.meta:
            meta["render_gated_warc"] = request.meta["warc"]
        meta.update(
            playwright=True, playwright_context=self._context_name(self._site(request)), render_reason=reason
        )
        # Ahead of the queue: the page is half done (fetched, archived, gated), and a browser request that
        # waits behind thousands of newly discovered plain pages leaves the browser idle for most of the
        # crawl and finishes the crawl with a long tail of renders (bench/results.md).
        return request.replace(meta=meta, dont_filter=True, priority=request.priority + RENDER_PRIORITY_BOOST)

    # --- browser requests -------------------------------------------------------------------------

    def _site(self, request: Request) -> str:
        return str(
            request.meta.get("site") or request.meta.get("playwright_context") or urlsplit(request.url).netloc
        )

    def _context_name(self, site: str) -> str:
        """Sites share a fixed set of RENDER_MAX_CONTEXTS browser contexts (cookies are scoped by domain):
        one context per site would leave a site waiting forever for a context while busier sites keep
        theirs open. Sites take the contexts in turn, in the order they first need the browser, so up to
        RENDER_MAX_CONTEXTS sites each get their own (a hash of the name put two of the benchmark's four
        sites in one context and left another unused)."""
        index = self._site_contexts.get(site)
        if index is None:
            index = self._site_contexts[site] = len(self._site_contexts) % self.config.max_contexts
        return f"render-{index}"

    def _context_kwargs(self, request: Request, context: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(request.meta.get("playwright_context_kwargs") or {})
        user_agent = request.headers.get("User-Agent")
        if user_agent:
            kwargs.setdefault("user_agent", user_agent.decode("latin-1"))
        # Archived bytes must come from the network, not from a service worker's cache.
        kwargs.setdefault("service_workers", "block")
        kwargs.setdefault("ignore_https_errors", True)
        return kwargs

    def _on_response(self, response: BrowserResponse, state: _RenderState) -> None:
        if not response.url.startswith(("http://", "https://")):
            return
        task = asyncio.ensure_future(self._capture(response))
        state.tasks.append(task)
        try:
            is_document = response.request.is_navigation_request() and response.frame.parent_frame is None
        except PlaywrightError:  # service-worker responses have no frame
            is_document = False
        if is_document and not 300 <= response.status < 400:
            state.document_task = task
            state.document_status = response.status

    async def _capture(self, response: BrowserResponse) -> CaptureRef | None:
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
        sink = self._sink()
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

    async def _settle(self, page: Page, state: _RenderState, selector: str | None, url: str) -> None:
        """Wait until the page shows content: ``selector`` appears, or the network idles on an ungated DOM."""
        deadline = time.monotonic() + self.config.timeout
        # A new page for this render (the first, or scrapy-playwright's retry after the watchdog closed one).
        if state.page is not page:
            state.page, state.page_since = page, time.monotonic()
        if selector:
            try:
                await page.wait_for_selector(selector, state="attached", timeout=self.config.timeout * 1000)
            except PlaywrightTimeoutError as exc:
                raise RenderFailed("selector-timeout", url) from exc
            await self._wait_idle(page, state, deadline)
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
                html = await page.content()
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

    async def _wait_idle(self, page: Page, state: _RenderState, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            await page.wait_for_load_state("networkidle", timeout=remaining * 1000)
        except PlaywrightTimeoutError:
            return False
        state.network_idle = True
        return True

    @staticmethod
    def _stuck_reason(state: _RenderState) -> str:
        if state.page_errors:
            return "script-error"
        return "still-gated" if state.network_idle else "timeout"

    async def _drain(self, state: _RenderState) -> None:
        """Let the capture tasks read their bodies while the page is still open."""
        if state.tasks:
            await asyncio.wait(list(state.tasks), timeout=min(self.config.timeout, 10.0))

    async def _release(self, page: Page | None, state: _RenderState) -> None:
        """Close the page. Its context stays open for the site's next renders: closing an idle context
        raced with a render just starting in it (in the benchmark that page never finished: the crawl hung)."""
        self._inflight[state.context] -= 1
        self._active.pop(id(state), None)
        try:
            if page is not None:
                self._open_contexts[state.context] = page.context
                if not page.is_closed():
                    await page.close()
                    self.stats.inc_value("render/pages_closed")
        finally:
            for task in state.tasks:
                task.cancel()
            await asyncio.gather(*state.tasks, return_exceptions=True)

    async def _watch(self) -> None:
        """Close the page of a render that outlives RENDER_HARD_TIMEOUT.

        Every wait in a render has its own timeout, but a page can still wedge (a context closed under it, a
        browser that stops answering). Closing the page makes the Playwright calls waiting on it fail, so the
        render ends through the normal failure path (counted under ``render/failed/watchdog``) and the crawl
        goes on; scrapy-playwright may first retry the request in a new page, which is watched afresh.
        """
        limit = self.config.watchdog_seconds
        while self._active:
            await asyncio.sleep(min(5.0, limit / 4))
            now = time.monotonic()
            for state in list(self._active.values()):
                page = state.page
                if page is None or now - state.page_since < limit or page.is_closed():
                    continue
                state.watchdog_fired = True
                self.stats.inc_value("render/watchdog")
                logger.warning(
                    "Render in context %s stuck for %.0f s (RENDER_HARD_TIMEOUT): closing its page %s",
                    state.context,
                    now - state.page_since,
                    page.url,
                )
                try:
                    await page.close()
                except PlaywrightError as exc:
                    logger.debug("Closing a stuck page failed: %s", exc)

    async def _finish_render(self, request: Request, response: Response, state: _RenderState) -> Response:
        page = request.meta.pop("playwright_page", None)
        try:
            await self._drain(state)
            document_ref = None
            if (
                state.document_task is not None
                and state.document_task.done()
                and not state.document_task.cancelled()
            ):
                document_ref = state.document_task.result()
        finally:
            await self._release(page, state)
        self._clean_meta(request)
        request.meta["rendered"] = True
        request.meta["render_reason"] = state.reason
        sink = self._sink()
        if sink is not None:
            dom_ref = await asyncio.to_thread(
                sink.write_resource,
                response.url,
                response.body,
                f"text/html; charset={getattr(response, 'encoding', 'utf-8')}",
                concurrent_to=document_ref.record_id if document_ref else None,
                record_type="conversion",
            )
            request.meta["warc"] = dom_ref.to_dict()
            if document_ref is not None:
                request.meta["render_document_warc"] = document_ref.to_dict()
        elapsed = time.monotonic() - state.started
        self.stats.inc_value("render/pages")
        self.stats.inc_value(f"render/pages_by_site/{state.site}")
        self._add_seconds(elapsed)
        logger.info("Rendered %s (%s) in %.1fs", response.url, state.reason, elapsed)
        # scrapy-playwright reports the status of the first navigation (a challenge's 403/503); the page
        # the spider parses is the last document the browser loaded.
        if state.document_status is not None and state.document_status != response.status:
            return response.replace(status=state.document_status)
        return response

    def _add_seconds(self, seconds: float) -> None:
        total = float(self.stats.get_value("render/seconds", 0.0) or 0.0)
        self.stats.set_value("render/seconds", round(total + seconds, 3))

    def _clean_meta(self, request: Request) -> None:
        for key in ("playwright_page_event_handlers", "playwright_page_methods", "playwright_include_page"):
            request.meta.pop(key, None)

    def _sink(self) -> WarcSink | None:
        return getattr(self.crawler, "warc_archive", None) if self.crawler is not None else None

    async def _spider_closed(self) -> None:
        if self._inflight and any(self._inflight.values()):
            logger.warning("Spider closed with renders in flight: %s", dict(+self._inflight))
        if self._watchdog is not None:
            self._watchdog.cancel()
        # Before scrapy-playwright closes the browser (engine_stopped). The count reaches the crawl's stats, but
        # not the stats file, which an earlier spider_closed handler has already written.
        contexts, self._open_contexts = self._open_contexts, {}
        for name, context in contexts.items():
            try:
                await context.close()
            except PlaywrightError as exc:
                logger.debug("Closing the browser context %s failed: %s", name, exc)
            else:
                self.stats.inc_value("render/contexts_closed")


def _failure_reason(exception: BaseException) -> str:
    if isinstance(exception, RenderFailed):
        return exception.reason
    if isinstance(exception, PlaywrightTimeoutError):
        return "timeout"
    if isinstance(exception, PlaywrightError):
        return "browser-error"
    return type(exception).__name__.lower()


def render_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The ``render/*`` entries of a stats dict (for reports and tests)."""
    return {k: v for k, v in stats.items() if k.startswith("render/")}
