"""Which Chromium the crawl launches, and with which flags.

Reads nothing itself: ``RenderConfig.from_settings`` calls ``find_chromium`` when RENDER_CHROMIUM_PATH is empty.
"""

from __future__ import annotations

import os
import shutil

__all__ = ["BROWSER_ARGS", "IGNORED_DEFAULT_ARGS", "find_chromium"]

# Chromium flags for containers and crawling: no /dev/shm limits, no background traffic of its own
# (that would land in the archive), no QUIC (captures stay HTTP/1.1 or HTTP/2), and no WebRTC over UDP: a
# page's STUN requests go to any address it names and no route sees them (crawler.render.guard); no window a
# page's script opens (a popup would be a page no render guards: the headless shell refuses them with
# --block-new-web-contents; ``playwright_settings`` also keeps Chromium's popup blocker on).
BROWSER_ARGS: tuple[str, ...] = (
    "--disable-dev-shm-usage",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--block-new-web-contents",
)
# Playwright's default flags that BROWSER_ARGS take back.
IGNORED_DEFAULT_ARGS: tuple[str, ...] = ("--disable-popup-blocking",)


def _playwright_has_chromium() -> bool:
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or os.path.expanduser("~/.cache/ms-playwright")
    return os.path.isdir(root) and any(name.startswith("chromium") for name in os.listdir(root))


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
