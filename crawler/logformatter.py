"""Log formatting: a dropped item is a decision (not relevant, no article), logged briefly, never its body."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import logformatter


class ArchiveLogFormatter(logformatter.LogFormatter):
    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any = None) -> Any:
        return {"level": logging.INFO, "msg": "Dropped: %(exception)s", "args": {"exception": exception}}

    def scraped(self, item: Any, response: Any, spider: Any = None) -> Any:
        url = getattr(item, "url", None) or getattr(response, "url", "?")
        return {"level": logging.DEBUG, "msg": "Stored article %(url)s", "args": {"url": url}}
