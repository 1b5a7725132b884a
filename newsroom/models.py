"""Value types of the newsroom: the gold article others evaluate against, and the request log entry."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

logger = logging.getLogger(__name__)

RELEVANT_CASES = ("plain", "hard_positive_no_libya_word")
IRRELEVANT_CASES = (
    "hard_negative_passing",
    "hard_negative_teaser",
    "hard_negative_other_conflict",
    "off_topic",
)
DISCOVERY_FORMS = ("sitemap", "sitemap_gz", "news_sitemap", "feed", "section")


@dataclass(frozen=True)
class GoldArticle:
    """What a perfect crawl + extraction would produce for one article page."""

    id: str
    site: str
    url: str
    canonical_url: str
    title: str
    author: str | None
    published: str
    language: str
    paragraphs: list[str]
    relevant: bool
    relevance_case: str
    gated: bool
    discovery: tuple[str, ...]
    modified: str = ""
    section: str = ""
    #: the gold near-duplicate cluster (copies of one agency story share it; otherwise the article's id)
    story: str = ""

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def render_expected(self) -> bool:
        """True when the text only exists after running the page's JavaScript."""
        return self.gated


@dataclass(frozen=True)
class RequestRecord:
    """One request the newsroom answered; ``path`` includes the query string."""

    site: str
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class ArticleSpec:
    """The mutable, site-relative form of an article that the renderers work from."""

    id: str
    site: str
    number: int
    key: str
    slug: str
    title: str
    author: str | None
    published: datetime
    modified: datetime
    paragraphs: list[str]
    case: str
    section: str
    discovery: tuple[str, ...] = ()
    has_time: bool = True
    tags: list[str] = field(default_factory=list)
    #: gold near-duplicate cluster; empty means the article is its own
    story: str = ""

    @property
    def relevant(self) -> bool:
        return self.case in RELEVANT_CASES
