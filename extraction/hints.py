"""Class and id hints of boilerplate containers, matched on tokens, never on substrings.

``hint_tokens("post-share selectionShareable")`` is ``("post", "share", "selection", "shareable")``: a value
is split on spaces, ``-``, ``_``, other punctuation and camelCase, lower-cased. A hint matches a whole token (or a run of
whole tokens), so a body paragraph whose class merely contains "share" (``selectionShareable``, which some
Egyptian portals put on every body paragraph) or "ad" (``header``, ``shadow``, ``load``) is not a share box or
an ad. Each family names the kind of site it comes from.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

# name -> token runs that mean it. One-token entries match a whole token only.
HINT_FAMILIES: dict[str, tuple[tuple[str, ...], ...]] = {
    # WordPress themes (Jannah, Sahifa, Newspaper) and most CMSs: the trail above the headline.
    "breadcrumb": (("breadcrumb",), ("breadcrumbs",), ("crumbs",)),
    # Share bars of every CMS; plugin names from WordPress (AddToAny, Jetpack sharedaddy).
    "share": (
        ("share",),
        ("shares",),
        ("sharing",),
        ("social",),
        ("addtoany",),
        ("a2a",),
        ("sharedaddy",),
        ("share", "buttons"),
    ),
    # Related/teaser boxes: WordPress plugins (Jetpack related posts, YARPP), portal "more news" rails.
    "related": (
        ("related",),
        ("relatedposts",),
        ("yarpp",),
        ("read", "more"),
        ("more", "news"),
        ("most", "read"),
        ("popular",),
        ("also", "read"),
    ),
    # Author boxes at the end of WordPress and Drupal articles.
    "author-box": (
        ("author", "box"),
        ("about", "author"),
        ("author", "bio"),
        ("author", "info"),
        ("authorbox",),
    ),
    # Comment threads and forms: WordPress (#respond, #comments), Disqus, Facebook comments.
    "comments": (("comment",), ("comments",), ("respond",), ("disqus",)),
    # Newsletter and subscription prompts of news sites and blogs.
    "newsletter": (("newsletter",), ("subscribe",), ("subscription",), ("signup",)),
    # Cookie/consent banners (EU sites, consent-management platforms).
    "consent": (("cookie",), ("cookies",), ("consent",), ("gdpr",), ("ccpa",)),
    # Page chrome of every template: sidebars, widgets, pagination, post navigation, tag lists, print tools.
    "chrome": (
        ("sidebar",),
        ("widget",),
        ("widgets",),
        ("pagination",),
        ("navigation",),
        ("post", "nav"),
        ("post", "navigation"),
        ("tags", "list"),
        ("post", "tags"),
        ("print", "button"),
        ("noscript",),
    ),
    # Ad slots: Google Publisher Tag / AdSense containers on portals ("ad-slot", "ads-box", "advert").
    "ads": (("ad",), ("ads",), ("advert",), ("advertisement",), ("adsbygoogle",), ("banner",), ("dfp",)),
    # Embedded posts: the markup the platforms' embed scripts require (Twitter/X, Instagram, TikTok, Facebook).
    "embed": (("twitter", "tweet"), ("instagram", "media"), ("tiktok", "embed"), ("fb", "post")),
}
# Families whose markup is a platform's contract, not a name chosen by the site: evidence inside the article.
STRUCTURAL_FAMILIES = frozenset({"embed"})


@lru_cache(maxsize=4096)
def hint_tokens(value: str) -> tuple[str, ...]:
    """The tokens of a class/id value: split on spaces, ``-``, ``_``, punctuation and camelCase, lower-cased."""
    return tuple(t for t in _SPLIT.split(_CAMEL.sub(" ", value).lower()) if t)


def _runs() -> dict[str, list[tuple[str, ...]]]:
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for runs in HINT_FAMILIES.values():
        for run in runs:
            by_first.setdefault(run[0], []).append(run)
    return by_first


_BY_FIRST = _runs()
_FAMILY_OF = {run: name for name, runs in HINT_FAMILIES.items() for run in runs}


@lru_cache(maxsize=4096)
def boilerplate_family(value: str) -> str | None:
    """The hint family a class/id value names ("share", "related" ...), or None."""
    tokens = hint_tokens(value)
    for index, token in enumerate(tokens):
        for run in _BY_FIRST.get(token, ()):
            if tokens[index : index + len(run)] == run:
                return _FAMILY_OF[run]
    return None
