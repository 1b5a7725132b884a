"""Log formatting: a dropped item is a decision (not relevant, no article), logged briefly, never its body."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import logformatter
from scrapy.http import Response


class ArchiveLogFormatter(logformatter.LogFormatter):
    def dropped(
        self, item: Any, exception: BaseException, response: Response | None, spider: Any
    ) -> dict[str, Any]:  # type: ignore[override]
        return {"level": logging.INFO, "msg": "Dropped: %(exception)s", "args": {"exception": exception}}

    def scraped(self, item: Any, response: Response | Any, spider: Any) -> dict[str, Any]:  # type: ignore[override]
        url = getattr(item, "url", None) or (response.url if response is not None else "?")
        return {"level": logging.DEBUG, "msg": "Stored article %(url)s", "args": {"url": url}}
