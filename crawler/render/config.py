"""Browser settings, parsed once into ``RenderConfig``, and the scrapy-playwright settings they give.

Reads: RENDER_CHROMIUM_PATH, RENDER_MAX_CONTEXTS, RENDER_MAX_PAGES_PER_CONTEXT, RENDER_TIMEOUT,
RENDER_HARD_TIMEOUT, RENDER_MAX_RESPONSE_SIZE (0: DOWNLOAD_MAXSIZE, at most the page's cap), RENDER_MAX_PAGE_SIZE,
DOWNLOAD_MAXSIZE.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crawler.config import SettingsReader

from .chromium import BROWSER_ARGS, IGNORED_DEFAULT_ARGS, find_chromium

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

__all__ = [
    "JS_GATE_MIDDLEWARE_ORDER",
    "PLAYWRIGHT_HANDLER",
    "RENDER_HANDLER",
    "RenderConfig",
    "playwright_settings",
]

PLAYWRIGHT_HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
# scrapy-playwright's handler with the render pages reused (crawler.render.handler).
RENDER_HANDLER = "crawler.render.handler.RenderDownloadHandler"
JS_GATE_MIDDLEWARE_ORDER = 585


@dataclass(frozen=True)
class RenderConfig:
    """Browser settings, parsed once. ``chromium_path`` None means Playwright's own Chromium download."""

    chromium_path: str | None
    max_contexts: int
    max_pages_per_context: int
    timeout: float
    # How long a page may take from its first load to its end before the watchdog closes it (0: 3 x timeout).
    hard_timeout: float = 0.0
    # Bytes one browser response, and all of one page's responses, may put into the WARC.
    max_response_size: int = 32 * 1024 * 1024
    max_page_size: int = 64 * 1024 * 1024

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
        max_page = r.integer("RENDER_MAX_PAGE_SIZE", minimum=1, hint=" (bytes)")
        max_response = r.integer("RENDER_MAX_RESPONSE_SIZE", minimum=0, hint=" (bytes; 0: DOWNLOAD_MAXSIZE)")
        if max_response > max_page > 0:
            r.fail(
                f"RENDER_MAX_PAGE_SIZE ({max_page}) must be at least RENDER_MAX_RESPONSE_SIZE "
                f"({max_response} bytes)"
            )
        # 0: Scrapy's own cap for its downloads (0 there means none: then the page's cap).
        max_response = max_response or min(r.integer("DOWNLOAD_MAXSIZE", minimum=0) or max_page, max_page)
        r.check()
        return cls(
            path or find_chromium(), max_contexts, max_pages, timeout, hard_timeout, max_response, max_page
        )


def playwright_settings(config: RenderConfig) -> dict[str, Any]:
    """The scrapy-playwright settings for ``config`` (merge them into the crawl's settings)."""
    launch: dict[str, Any] = {
        "headless": True,
        "args": list(BROWSER_ARGS),
        "ignore_default_args": list(IGNORED_DEFAULT_ARGS),
    }
    if config.chromium_path:
        launch["executable_path"] = config.chromium_path
    return {
        "DOWNLOAD_HANDLERS": {"http": RENDER_HANDLER, "https": RENDER_HANDLER},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
        "PLAYWRIGHT_MAX_CONTEXTS": config.max_contexts,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": config.max_pages_per_context,
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": config.timeout * 1000,
        # The browser sends its own headers (and the cookies its scripts set, which Scrapy's jar never
        # sees); the User-Agent comes from the context (see crawler.render.contexts).
        "PLAYWRIGHT_PROCESS_REQUEST_HEADERS": None,
    }
