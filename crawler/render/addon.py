"""``RenderAddon`` (``ADDONS = {"crawler.render.RenderAddon": 0}``): applies ``playwright_settings`` plus the
gate middleware and the render queue's downloader after every other settings source, so ``-s RENDER_TIMEOUT=...``
is honoured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import JS_GATE_MIDDLEWARE_ORDER, RenderConfig, playwright_settings
from .middleware import JsGateMiddleware
from .queue import RENDER_DOWNLOADER

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

__all__ = ["RenderAddon"]

SCRAPY_DOWNLOADER = "scrapy.core.downloader.Downloader"


class RenderAddon:
    """Scrapy add-on: applies ``playwright_settings`` and enables ``JsGateMiddleware``."""

    def update_settings(self, settings: BaseSettings) -> None:
        config = RenderConfig.from_settings(settings)
        for name, value in playwright_settings(config).items():
            if name == "DOWNLOAD_HANDLERS":
                value = {**settings.getdict("DOWNLOAD_HANDLERS"), **value}
            settings.set(name, value, "addon")
        # Contexts started by scrapy-playwright itself (PLAYWRIGHT_CONTEXTS) block service workers too: their
        # requests bypass the browser guard's routes.
        contexts = settings.getdict("PLAYWRIGHT_CONTEXTS")
        if contexts:
            blocked = {
                name: {**(kwargs or {}), "service_workers": "block"} for name, kwargs in contexts.items()
            }
            settings.set("PLAYWRIGHT_CONTEXTS", blocked, "addon")
        settings.set_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", JsGateMiddleware, JS_GATE_MIDDLEWARE_ORDER
        )
        # Renders wait for a browser page outside CONCURRENT_REQUESTS (crawler.render.queue), unless the
        # crawl brings a downloader of its own.
        if settings.get("DOWNLOADER") == SCRAPY_DOWNLOADER:
            settings.set("DOWNLOADER", RENDER_DOWNLOADER, "addon")
