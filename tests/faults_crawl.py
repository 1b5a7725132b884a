"""Shared by the fault and crash tests: the settings that switch on the fault-handling components.

Until ``crawler/settings.py`` lists them, the components are added here on top of the project's own
component dicts (read from the module, so entries other engineers add are kept).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from crawler import settings as project

VENV_BIN = Path(sys.executable).parent

#: Fast and strict: no politeness delays, short timeouts, two retries (see the issue).
FAULT_SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "DOWNLOAD_TIMEOUT": "3",
    "RETRY_TIMES": "2",
    "EXTRACT_WORKERS": "1",
}


def component_settings() -> dict[str, str]:
    """DOWNLOADER_MIDDLEWARES, SPIDER_MIDDLEWARES, EXTENSIONS and ADDONS with the fault components added."""
    downloader = {**project.DOWNLOADER_MIDDLEWARES, "crawler.retry_after.RetryAfterMiddleware": 555}
    spider = {**getattr(project, "SPIDER_MIDDLEWARES", {}), "crawler.recovery.SkipDoneSpiderMiddleware": 50}
    extensions = {**project.EXTENSIONS, "crawler.recovery.CrawlRecoveryExtension": 90}
    addons = {**project.ADDONS, "crawler.validation.SettingsValidator": -100}
    return {
        "DOWNLOADER_MIDDLEWARES": json.dumps(downloader),
        "SPIDER_MIDDLEWARES": json.dumps(spider),
        "EXTENSIONS": json.dumps(extensions),
        "ADDONS": json.dumps(addons),
    }


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "warcio"), "check", str(path)], capture_output=True, text=True, check=False
    )
