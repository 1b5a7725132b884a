"""Offline Arabic newsroom: five local news sites on 127.0.0.1 with gold articles.

Used by the tests, the demo crawl, the extraction and relevance evaluations and the benchmark::

    from newsroom import Newsroom
    with Newsroom() as nr:
        nr.write_sources("sources/newsroom.yaml")
        gold = nr.articles
"""

from __future__ import annotations

import logging

from .models import GoldArticle, RequestRecord
from .server import Newsroom, Site

logger = logging.getLogger(__name__)

__all__ = ["GoldArticle", "Newsroom", "RequestRecord", "Site"]
