"""The incremental settings, parsed once; the 304 exception and which requests are articles.

Reads INCREMENTAL_ENABLED (True), INCREMENTAL_STATE_PREFIX ("state/sites"), INCREMENTAL_SKIP_BY_DATE (True),
INCREMENTAL_SKIP_BY_PUBLISHED (False), INCREMENTAL_REFETCH (False: when True no conditional headers and no
skipping, every article is fetched in full, the state is still updated) and CRAWL_ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest, NotConfigured

from archive.keys import SITES_STATE_PREFIX
from crawler import identity

if TYPE_CHECKING:
    from scrapy.http import Request
    from scrapy.settings import BaseSettings

ARTICLE_KINDS = frozenset({"article"})


class NotModified(IgnoreRequest):
    """The server answered 304 to our conditional request: the article is unchanged since the last crawl."""


@dataclass(frozen=True)
class IncrementalConfig:
    enabled: bool
    prefix: str
    skip_by_date: bool
    skip_by_published: bool
    refetch: bool
    crawl_id: str

    @classmethod
    def from_settings(cls, settings: BaseSettings, *, crawl_id: str | None = None) -> IncrementalConfig:
        prefix = str(settings.get("INCREMENTAL_STATE_PREFIX") or SITES_STATE_PREFIX).strip("/")
        if not prefix or ".." in prefix.split("/"):
            raise NotConfigured(f"INCREMENTAL_STATE_PREFIX must be a relative key prefix, not {prefix!r}")
        return cls(
            enabled=settings.getbool("INCREMENTAL_ENABLED", True),
            prefix=prefix,
            skip_by_date=settings.getbool("INCREMENTAL_SKIP_BY_DATE", True),
            skip_by_published=settings.getbool("INCREMENTAL_SKIP_BY_PUBLISHED", False),
            refetch=settings.getbool("INCREMENTAL_REFETCH", False),
            crawl_id=crawl_id or identity.crawl_id(settings),
        )


def is_article(request: Request) -> bool:
    """An article request of a known site (the only ones the incremental components look at)."""
    return request.meta.get("kind") in ARTICLE_KINDS and bool(request.meta.get("site"))
