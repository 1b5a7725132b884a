"""The newsroom's corpus: hand-written story cores composed with background pools into gold articles.

Reads ``corpus/stories.yaml`` and ``corpus/pools.yaml``. Composition is deterministic (seeded by the
story key), so ids, dates, paragraphs and discovery forms are the same on every start.
"""

from __future__ import annotations

import logging
import random
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from .dates import LIBYA_TZ
from .models import DISCOVERY_FORMS, IRRELEVANT_CASES, RELEVANT_CASES, ArticleSpec

logger = logging.getLogger(__name__)

CORPUS_DIR = Path(__file__).parent / "corpus"
SITE_NAMES = ("wahaa", "legacy", "feeds", "gated", "drupal")
MAX_PARAGRAPHS = 8
# Corpus dates run over these three years on every site.
FIRST_DAY = datetime(2019, 1, 6, tzinfo=LIBYA_TZ)
SPAN_DAYS = 1085

# wahaa: which story positions are discoverable in one form only (see assign_discovery).
WAHAA_ONLY = {"sitemap_gz": (2, 23), "news_sitemap": (4, 21), "feed": (6, 18)}
WAHAA_SECTION_ONLY_POSITIONS = (10, 11)  # positions in the libya listing: page 3 at 5 per page

_SLUG_DROP = re.compile(r"[«»\"'،,.:؛;؟?!()]")


def arabic_slug(title: str, words: int = 6) -> str:
    """A WordPress-style slug from an Arabic title: the first few words joined by hyphens."""
    return "-".join(_SLUG_DROP.sub("", title).split()[:words])


def _load_yaml(name: str) -> Any:
    with (CORPUS_DIR / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _compose(story: dict[str, Any], pools: dict[str, list[str]]) -> list[str]:
    paragraphs = list(story["paras"])
    rng = random.Random(story["key"])
    for pool_name, count in (story.get("pool") or {}).items():
        choices = [p for p in pools[pool_name] if p not in paragraphs]
        paragraphs.extend(rng.sample(choices, min(count, len(choices))))
    if len(paragraphs) < 3 or len(paragraphs) > MAX_PARAGRAPHS:
        raise ValueError(f"story {story['key']}: {len(paragraphs)} paragraphs, want 3-{MAX_PARAGRAPHS}")
    return paragraphs


def _published(site_index: int, position: int, count: int) -> datetime:
    day = (position * SPAN_DAYS) // count + site_index * 5
    hour = 7 + (position * 5 + site_index * 3) % 14
    minute = (position * 17 + site_index * 11) % 60
    return FIRST_DAY + timedelta(days=day, hours=hour, minutes=minute)


def load_catalog() -> dict[str, list[ArticleSpec]]:
    """All corpus articles by site, in story order, with discovery forms assigned."""
    stories = _load_yaml("stories.yaml")
    pools: dict[str, list[str]] = _load_yaml("pools.yaml")
    authors: dict[str, list[str]] = stories["authors"]
    catalog: dict[str, list[ArticleSpec]] = {}
    for site_index, site in enumerate(SITE_NAMES):
        specs: list[ArticleSpec] = []
        entries = stories["sites"][site]
        rota = 0
        for position, story in enumerate(entries):
            case = story.get("case", "plain")
            if case not in RELEVANT_CASES + IRRELEVANT_CASES:
                raise ValueError(f"story {story['key']}: unknown case {case!r}")
            if "author" in story:
                author = story["author"]
            else:
                author = authors[site][rota % len(authors[site])]
                rota += 1
            published = _published(site_index, position, len(entries))
            number = position + 1
            spec = ArticleSpec(
                id=f"{site}-{number:03d}",
                site=site,
                number=number,
                key=story["key"],
                slug=arabic_slug(story["title"]) if story.get("slug_ar") else story["key"],
                title=story["title"],
                author=author,
                published=published,
                modified=published + timedelta(hours=(position % 3)),
                paragraphs=_compose(story, pools),
                case=case,
                section="libya" if case in RELEVANT_CASES else "world",
                has_time=site != "legacy",
            )
            specs.append(spec)
        catalog[site] = specs
        assign_discovery(site, specs)
    return catalog


def assign_discovery(site: str, specs: list[ArticleSpec]) -> None:
    """Record which discovery forms list each article (sitemap OR sitemap_gz, news sitemap, feed, section).

    On ``wahaa`` the forms are partly disjoint so a test can prove that each one works: a few articles
    appear only in the gzipped sitemap, only in the news sitemap, only in the feed, or only on page 3 of
    the Libya section. Those articles are also never linked from the home page or related-posts boxes.
    """
    for index, spec in enumerate(specs):
        plain = "sitemap" if index % 2 == 0 else "sitemap_gz"
        spec.discovery = (plain, "news_sitemap", "feed", "section")
    if site != "wahaa":
        return
    for form, positions in WAHAA_ONLY.items():
        for position in positions:
            specs[position].discovery = (form,)
    listing = sorted(
        (s for s in specs if s.section == "libya" and "section" in s.discovery),
        key=lambda s: s.published,
        reverse=True,
    )
    for position in WAHAA_SECTION_ONLY_POSITIONS:
        listing[position].discovery = ("section",)
    for spec in specs:
        assert all(form in DISCOVERY_FORMS for form in spec.discovery)


def is_exclusive(spec: ArticleSpec) -> bool:
    """True for articles reachable through a single discovery form (never linked from other pages)."""
    return len(spec.discovery) == 1
