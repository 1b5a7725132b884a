"""Log formatting: a dropped item is a decision (not relevant, no article), logged briefly, never its body.

"Dropped: not relevant" is logged at DEBUG: on a pan-Arab site most articles are not about the topic, and one
INFO line each made a whole-site crawl's log tens of MB. They are counted instead (``relevance/irrelevant``:
the progress line and the crawl report).
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import logformatter


class ArchiveLogFormatter(logformatter.LogFormatter):
    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any = None) -> Any:
        level = logging.DEBUG if str(exception).startswith("not relevant") else logging.INFO
        return {"level": level, "msg": "Dropped: %(exception)s", "args": {"exception": exception}}

    def scraped(self, item: Any, response: Any, spider: Any = None) -> Any:
        url = getattr(item, "url", None) or getattr(response, "url", "?")
        return {"level": logging.DEBUG, "msg": "Stored article %(url)s", "args": {"url": url}}
