"""The newsroom's corpus: hand-written story cores composed with background pools into gold articles.

Reads ``corpus/stories.yaml`` and ``corpus/pools.yaml``, and ``corpus/syndication.yaml``: agency stories
that three sites publish as sent, edited (their own intro, the last paragraph dropped) and shortened (about
half, with a closing line of their own), stories on one site only, and near misses (two stories sharing
their first paragraph only), each with its gold cluster (``ArticleSpec.story``). Composition is deterministic (seeded by the
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
    for site, spec in syndicated_specs():
        spec.number = len(catalog[site]) + 1
        spec.id = f"{site}-{spec.number:03d}"
        spec.discovery = ("sitemap" if spec.number % 2 else "sitemap_gz", "news_sitemap", "feed", "section")
        catalog[site].append(spec)
    return catalog


# Syndicated copies are dated after this day, one story every SYNDICATION_STEP_DAYS, later copies hours later.
SYNDICATION_FIRST_DAY = datetime(2020, 3, 2, 8, 15, tzinfo=LIBYA_TZ)
SYNDICATION_STEP_DAYS = 23


def _syndicated_spec(
    site: str, key: str, title: str, paragraphs: list[str], when: datetime, story: str
) -> ArticleSpec:
    return ArticleSpec(
        id="",
        site=site,
        number=0,
        key=key,
        slug=key,
        title=title,
        author=None,
        published=when,
        modified=when,
        paragraphs=paragraphs,
        case="plain",
        section="libya",
        has_time=site != "legacy",
        story=story,
    )


def syndicated_specs() -> list[tuple[str, ArticleSpec]]:
    """The articles of ``corpus/syndication.yaml`` as (site, spec), ids and numbers left to the caller."""
    doc = _load_yaml("syndication.yaml")
    sites: list[str] = doc["sites"]
    forms: list[str] = doc["forms"]
    out: list[tuple[str, ArticleSpec]] = []
    for n, story in enumerate(doc["agency"]):
        day = SYNDICATION_FIRST_DAY + timedelta(days=n * SYNDICATION_STEP_DAYS)
        paras: list[str] = story["paras"]
        for j in range(len(sites)):
            # Rotate: each site publishes each form for some story; the copy "as sent" comes first.
            form = forms[j]
            site = sites[(j + n) % len(sites)]
            if form == "sent":
                body = list(paras)
            elif form == "edited":
                intros = doc["intros"][site]
                body = [intros[n % len(intros)], *paras[:-1]]
            elif form == "short":
                closings = doc["closings"][site]
                body = [*paras[: max(2, len(paras) // 2)], closings[n % len(closings)]]
            else:
                raise ValueError(f"syndication.yaml: unknown form {form!r}")
            when = day + timedelta(hours=3 * j, minutes=7 * n)
            out.append(
                (
                    site,
                    _syndicated_spec(
                        site, f"{story['key']}-{form}", story["title"], body, when, story["key"]
                    ),
                )
            )
    base = SYNDICATION_FIRST_DAY + timedelta(days=5)
    for n, story in enumerate(doc["single"]):
        when = base + timedelta(days=n * SYNDICATION_STEP_DAYS, hours=2)
        out.append(
            (
                story["site"],
                _syndicated_spec(
                    story["site"], story["key"], story["title"], list(story["paras"]), when, story["key"]
                ),
            )
        )
    base = SYNDICATION_FIRST_DAY + timedelta(days=11)
    for n, pair in enumerate(doc["near_misses"]):
        for j, story in enumerate(pair["stories"]):
            when = base + timedelta(days=n * SYNDICATION_STEP_DAYS, hours=1 + 4 * j)
            body = [pair["shared"], *story["paras"]]
            out.append(
                (
                    story["site"],
                    _syndicated_spec(story["site"], story["key"], story["title"], body, when, story["key"]),
                )
            )
    return out


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
