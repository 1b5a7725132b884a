"""Browser settings, parsed once into ``RenderConfig``, and the scrapy-playwright settings they give.

Reads: RENDER_CHROMIUM_PATH, RENDER_MAX_CONTEXTS, RENDER_MAX_PAGES_PER_CONTEXT, RENDER_TIMEOUT,
RENDER_HARD_TIMEOUT, RENDER_MAX_RESPONSE_SIZE (0: DOWNLOAD_MAXSIZE, at most the page's cap), RENDER_MAX_PAGE_SIZE,
DOWNLOAD_MAXSIZE.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .chromium import BROWSER_ARGS, find_chromium

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

__all__ = ["JS_GATE_MIDDLEWARE_ORDER", "PLAYWRIGHT_HANDLER", "RenderConfig", "playwright_settings"]

PLAYWRIGHT_HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
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

    def __post_init__(self) -> None:
        if self.chromium_path is not None and not os.access(self.chromium_path, os.X_OK):
            raise ValueError(
                f"RENDER_CHROMIUM_PATH {self.chromium_path!r} is not an executable file; set it to a "
                "Chromium binary (e.g. /usr/bin/chromium) or leave it empty to use `playwright install chromium`"
            )
        if self.max_contexts < 1:
            raise ValueError(f"RENDER_MAX_CONTEXTS must be at least 1, got {self.max_contexts}")
        if self.max_pages_per_context < 1:
            raise ValueError(
                f"RENDER_MAX_PAGES_PER_CONTEXT must be at least 1, got {self.max_pages_per_context}"
            )
        if not self.timeout > 0:
            raise ValueError(f"RENDER_TIMEOUT must be a positive number of seconds, got {self.timeout}")
        if not self.hard_timeout >= 0:
            raise ValueError(f"RENDER_HARD_TIMEOUT must be 0 or more seconds, got {self.hard_timeout}")
        if self.max_page_size < 1:
            raise ValueError(
                f"RENDER_MAX_PAGE_SIZE must be a positive number of bytes, got {self.max_page_size}"
            )
        if self.max_response_size < 1:
            raise ValueError(
                f"RENDER_MAX_RESPONSE_SIZE must be a positive number of bytes, got {self.max_response_size}"
            )
        if self.max_page_size < self.max_response_size:
            raise ValueError(
                f"RENDER_MAX_PAGE_SIZE ({self.max_page_size}) must be at least RENDER_MAX_RESPONSE_SIZE "
                f"({self.max_response_size} bytes)"
            )

    @property
    def watchdog_seconds(self) -> float:
        return self.hard_timeout or 3 * self.timeout

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RenderConfig:
        path = (settings.get("RENDER_CHROMIUM_PATH") or "").strip()
        try:
            max_contexts = settings.getint("RENDER_MAX_CONTEXTS", 2)
            max_pages = settings.getint("RENDER_MAX_PAGES_PER_CONTEXT", 2)
            timeout = settings.getfloat("RENDER_TIMEOUT", 30.0)
            hard_timeout = settings.getfloat("RENDER_HARD_TIMEOUT", 0.0)
            max_page = settings.getint("RENDER_MAX_PAGE_SIZE", 64 * 1024 * 1024)
            # 0: Scrapy's own cap for its downloads (0 there means none: then the page's cap).
            max_response = settings.getint("RENDER_MAX_RESPONSE_SIZE", 0) or min(
                settings.getint("DOWNLOAD_MAXSIZE", 0) or max_page, max_page
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "RENDER_MAX_CONTEXTS, RENDER_MAX_PAGES_PER_CONTEXT, RENDER_TIMEOUT, RENDER_HARD_TIMEOUT, "
                f"RENDER_MAX_RESPONSE_SIZE and RENDER_MAX_PAGE_SIZE must be numbers: {exc}"
            ) from exc
        return cls(
            path or find_chromium(), max_contexts, max_pages, timeout, hard_timeout, max_response, max_page
        )


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
        # sees); the User-Agent comes from the context (see crawler.render.contexts).
        "PLAYWRIGHT_PROCESS_REQUEST_HEADERS": None,
    }
