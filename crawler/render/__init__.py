"""Render JavaScript-gated pages in Chromium only when needed, and archive everything the browser fetched.

Reads: RENDER_CHROMIUM_PATH, RENDER_MAX_CONTEXTS, RENDER_MAX_PAGES_PER_CONTEXT, RENDER_TIMEOUT,
RENDER_HARD_TIMEOUT, RENDER_MAX_RESPONSE_SIZE, RENDER_MAX_PAGE_SIZE (into ``RenderConfig``), USER_AGENT via the request headers, and DOWNLOAD_HANDLERS (to
refuse to run without scrapy-playwright); RENDER_QUEUE_SIZE (the render queue).

One component per module:

- ``config``: ``RenderConfig`` and ``playwright_settings(config)``, the scrapy-playwright settings for it;
- ``chromium``: which Chromium to launch (``find_chromium``) and its flags (``BROWSER_ARGS``);
- ``addon``: ``RenderAddon`` (``ADDONS = {"crawler.render.RenderAddon": 0}``) applies them plus the
  middleware and the render queue's downloader after every other settings source, so ``-s RENDER_TIMEOUT=...`` is honoured;
- ``gate``: which plain responses of ``render: auto`` sites go back as browser requests (``JsGateDetector``);
- ``middleware``: ``JsGateMiddleware``, the life of a render (downloader middleware, order 585);
- ``driver``: Playwright reads its driver's messages in bursts on the crawl's busy event loop (not one
  message per emptied loop: renders stalled behind the plain crawl);
- ``queue``: ``RenderQueueDownloader`` (the addon's ``DOWNLOADER``): a render waits for a free page of its
  context in a queue of its own, holding no CONCURRENT_REQUESTS slot meanwhile;
- ``contexts``: the RENDER_MAX_CONTEXTS browser contexts, shared by sites and open for the crawl, so a
  challenge cookie serves the site's next pages;
- ``pages`` and ``handler``: a render that ended well gives its page back (on ``about:blank``) and the
  context's next render navigates it instead of opening a new one (``RenderDownloadHandler``, scrapy-playwright's
  download handler with that pool);
- ``guard``: every request the page makes passes one decision first (http(s) only, pages on the site's
  hosts, non-public addresses only where the site lives; WebSockets and popups refused);
- ``capture``: each network response of the page as a ``Capture(source="browser")`` in the WARC, within
  the byte caps per response and per page;
- ``headers``: header fix-ups for bodies the browser decoded (``decoded_body_headers``);
- ``settle``: waiting for the content;
- ``watchdog``: closes the page of a render that outlives RENDER_HARD_TIMEOUT (default 3 x RENDER_TIMEOUT);
- ``state``: what a render carries while it runs, and how it fails.

Meta read: ``render`` ("auto" | "always" | "never", default "auto"), ``site`` (context name),
``render_wait_selector``. Meta written: ``render_reason``, ``rendered``, ``warc`` (the DOM record),
``render_document_warc`` (the browser's capture of the final document), ``render_gated_warc`` (the plain
gated response, when the WARC middleware recorded it). Stats: ``render/gate/<reason>``, ``render/pages``,
``render/seconds``, ``render/captures``, ``render/capture_failed``, ``render/failed/<reason>``,
``render/pages_closed``, ``render/pages_reused``, ``render/contexts_closed``, ``render/watchdog``, ``render/blocked/<reason>``,
``render/queue/waited``, ``render/queue/peak``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .addon import RenderAddon
from .chromium import BROWSER_ARGS, find_chromium
from .config import JS_GATE_MIDDLEWARE_ORDER, RenderConfig, playwright_settings
from .headers import decoded_body_headers
from .middleware import JsGateMiddleware
from .state import RenderFailed

__all__ = [
    "BROWSER_ARGS",
    "JS_GATE_MIDDLEWARE_ORDER",
    "JsGateMiddleware",
    "RenderAddon",
    "RenderConfig",
    "RenderFailed",
    "decoded_body_headers",
    "find_chromium",
    "playwright_settings",
    "render_stats",
]


def render_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The ``render/*`` entries of a stats dict (for reports and tests)."""
    return {k: v for k, v in stats.items() if k.startswith("render/")}
