"""The article URL shape of a site, learned from URLs that are articles by definition (sitemaps, feeds).

``learn_article_pattern(articles, listings)`` proposes an ``article_pattern`` (the sources key: a regex on
the path, plus ``?query``, of article pages; ``crawler.sources.Source.is_article``) or says why it proposes
none. The crawl skips every URL the pattern does not match, sitemap entries included, so a pattern is only
proposed when it matches *every* known article URL and *none* of the known listings (the home page, its
menu, the sections, pagination): a site without one falls back on the crawl's own guess, which is safer
than a pattern that is wrong.

URLs are grouped by their shape (number of path segments, trailing slash, query keys). Within a group, a
segment that is digits in every URL becomes ``\\d{4}`` or ``\\d{2}`` (years, months, days) or ``\\d+`` (ids,
which grow); one with the same template in every URL once digit runs are generalised (``5014.html`` and
``77.html`` are ``\\d+.html``) becomes that template; one that is the same word in at least
``MIN_LITERAL_SUPPORT`` URLs stays literal (``/news/``); anything else is ``[^/]+``.
At most ``MAX_SHAPES`` groups are joined as alternatives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

MAX_SHAPES = 3
MIN_ARTICLES = 3
MIN_LITERAL_SUPPORT = 3
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class PatternProposal:
    """The proposed ``article_pattern`` (None: none is proposed, ``reason`` says why)."""

    pattern: str | None
    articles: int
    listings: int
    reason: str
    shapes: tuple[str, ...] = field(default=())

    def matches(self, url: str) -> bool:
        return self.pattern is not None and re.search(self.pattern, target(url)) is not None


def target(url: str) -> str:
    """What ``article_pattern`` is matched against: the path, plus ``?query`` when there is one."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _shape(url: str) -> tuple[int, bool, tuple[str, ...]]:
    parts = urlsplit(url)
    path = parts.path or "/"
    segments = [s for s in path.split("/") if s]
    keys = tuple(k for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    return len(segments), path.endswith("/") and bool(segments), keys


def _template(value: str) -> str:
    """``5014.html`` -> ``\\d+\\.html``: literal text escaped, digit runs generalised."""
    out, last = [], 0
    for match in _DIGITS.finditer(value):
        out += [re.escape(value[last : match.start()]), r"\d+"]
        last = match.end()
    out.append(re.escape(value[last:]))
    return "".join(out)


def _date_part(values: list[str]) -> str | None:
    """``\\d{4}`` for years, ``\\d{2}`` for months and days; ids grow, so they stay ``\\d+``."""
    numbers = [int(v) for v in values]
    if all(len(v) == 4 for v in values) and all(1990 <= n <= 2100 for n in numbers):
        return r"\d{4}"
    if all(len(v) == 2 for v in values) and all(1 <= n <= 31 for n in numbers):
        return r"\d{2}"
    return None


def _segment(values: list[str], *, value_class: str) -> str:
    if all(v.isdigit() for v in values):
        return _date_part(values) or r"\d+"
    distinct = set(values)
    if len(distinct) == 1:
        if len(values) >= MIN_LITERAL_SUPPORT:
            return re.escape(values[0])
        return value_class
    templates = {_template(v) for v in values}
    if len(templates) == 1 and _DIGITS.search(values[0]):
        return templates.pop()
    return value_class


def _group_pattern(urls: list[str]) -> str:
    count, slash, keys = _shape(urls[0])
    split = [urlsplit(u) for u in urls]
    segments = [[s for s in (p.path or "/").split("/") if s] for p in split]
    path = "".join("/" + _segment([seg[i] for seg in segments], value_class="[^/]+") for i in range(count))
    if slash or not count:
        path += "/"
    if keys:
        queries = [parse_qsl(p.query, keep_blank_values=True) for p in split]
        pairs = []
        for i, key in enumerate(keys):
            value = _segment([q[i][1] for q in queries], value_class="[^&]*")
            pairs.append(f"{re.escape(key)}={value}")
        path += r"\?" + "&".join(pairs)
    return f"^{path}$"


def learn_article_pattern(articles: Iterable[str], listings: Iterable[str]) -> PatternProposal:
    """A pattern matching every URL of ``articles`` and none of ``listings`` (see the module docstring)."""
    known = sorted(set(articles))
    others = sorted(set(listings) - set(known))
    if len(known) < MIN_ARTICLES:
        return PatternProposal(
            None, len(known), len(others), f"only {len(known)} article URL(s) from sitemaps and feeds"
        )
    groups: dict[tuple[int, bool, tuple[str, ...]], list[str]] = {}
    for url in known:
        groups.setdefault(_shape(url), []).append(url)
    if len(groups) > MAX_SHAPES:
        return PatternProposal(
            None,
            len(known),
            len(others),
            f"the article URLs come in {len(groups)} shapes (more than {MAX_SHAPES})",
        )
    shapes = tuple(_group_pattern(urls) for urls in sorted(groups.values(), key=len, reverse=True))
    pattern = shapes[0] if len(shapes) == 1 else "|".join(shapes)
    compiled = re.compile(pattern)
    missed = [u for u in known if not compiled.search(target(u))]
    if missed:  # a template merged values it should not have: no pattern rather than a wrong one
        return PatternProposal(None, len(known), len(others), f"no shape matches {missed[0]}", shapes)
    clash = [u for u in others if compiled.search(target(u))]
    if clash:
        return PatternProposal(
            None,
            len(known),
            len(others),
            f"the article shape {pattern} also matches the listing {clash[0]}",
            shapes,
        )
    return PatternProposal(
        pattern,
        len(known),
        len(others),
        f"matches all {len(known)} sitemap and feed URLs and none of {len(others)} listing links",
        shapes,
    )
