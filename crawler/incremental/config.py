"""The incremental settings, parsed once; the 304 exception and which requests are articles.

Reads INCREMENTAL_ENABLED (True), INCREMENTAL_STATE_PREFIX ("state/sites"), INCREMENTAL_SKIP_BY_DATE (True),
INCREMENTAL_SKIP_BY_PUBLISHED (False), INCREMENTAL_REFETCH (False: when True no conditional headers and no
skipping, every article is fetched in full, the state is still updated) and CRAWL_ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest

from crawler import identity
from crawler.config import SettingsReader

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
        """Raises ``ConfigError`` naming every bad INCREMENTAL_* setting."""
        r = SettingsReader(settings)
        raw_prefix = r.text("INCREMENTAL_STATE_PREFIX")
        prefix = raw_prefix.strip("/")
        if not prefix or ".." in prefix.split("/"):
            r.fail(
                f"INCREMENTAL_STATE_PREFIX must be a relative key prefix such as state/sites, not {raw_prefix!r}"
            )
        config = cls(
            enabled=r.boolean("INCREMENTAL_ENABLED"),
            prefix=prefix,
            skip_by_date=r.boolean("INCREMENTAL_SKIP_BY_DATE"),
            skip_by_published=r.boolean("INCREMENTAL_SKIP_BY_PUBLISHED"),
            refetch=r.boolean("INCREMENTAL_REFETCH"),
            crawl_id=crawl_id or identity.crawl_id(settings),
        )
        r.check()
        return config


def is_article(request: Request) -> bool:
    """An article request of a known site (the only ones the incremental components look at)."""
    return request.meta.get("kind") in ARTICLE_KINDS and bool(request.meta.get("site"))
