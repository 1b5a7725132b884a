"""Browser settings, parsed once into ``RenderConfig``, and the scrapy-playwright settings they give.

Reads: RENDER_CHROMIUM_PATH, RENDER_MAX_CONTEXTS, RENDER_MAX_PAGES_PER_CONTEXT, RENDER_TIMEOUT,
RENDER_HARD_TIMEOUT.
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
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "RENDER_MAX_CONTEXTS, RENDER_MAX_PAGES_PER_CONTEXT, RENDER_TIMEOUT and RENDER_HARD_TIMEOUT must "
                f"be numbers: {exc}"
            ) from exc
        return cls(path or find_chromium(), max_contexts, max_pages, timeout, hard_timeout)


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
