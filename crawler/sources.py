"""The sources file: which sites the ``libya`` spider crawls, as data.

A YAML file with one entry per site under ``sites:``::

    sites:
      - name: alwasat                       # [a-z0-9_-]+, unique; used in storage keys and reports
        home: https://alwasat.ly/           # required
        allowed_domains: [alwasat.ly]       # optional; default: the home URL's host (subdomains allowed)
        sitemaps: [https://alwasat.ly/sitemap.xml]   # optional; robots.txt Sitemap: lines are used too
        feeds: [https://alwasat.ly/rss]     # optional; <link rel="alternate"> autodiscovery is used too
        sections: [https://alwasat.ly/libya]          # optional; pagination is followed
        article_pattern: '^/news/libya/\\d+'          # optional regex on path(+query) of article pages
        render: auto                         # auto | always | never (JavaScript rendering)
        render_wait_selector: 'article p'   # optional CSS selector to wait for when rendering

Everything is validated when the file is loaded, before the crawl sends a request: a bad file raises
``SourcesError`` naming the file, the entry and the problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml

from crawler.urls import canonicalize_url

RENDER_MODES = ("auto", "always", "never")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_KNOWN_KEYS = {
    "name",
    "home",
    "allowed_domains",
    "sitemaps",
    "feeds",
    "sections",
    "article_pattern",
    "render",
    "render_wait_selector",
    "notes",
}


class SourcesError(ValueError):
    """A sources file that cannot be used; the message says where and what to fix."""


@dataclass(frozen=True)
class Source:
    """One site to crawl."""

    name: str
    home: str
    allowed_domains: tuple[str, ...]
    sitemaps: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    article_pattern: re.Pattern[str] | None = None
    render: str = "auto"
    render_wait_selector: str | None = None

    def seeds(self, obey_robots: bool) -> list[dict[str, str]]:
        """Where discovery of this site starts: ``{"site", "kind", "url"}`` per seed, in crawl order.

        Without robots.txt obedience Scrapy's middleware does not read robots.txt, so it is a seed of its
        own (for its Sitemap: lines).
        """
        seeds = [{"kind": "robots", "url": urljoin(self.home, "/robots.txt")}] if not obey_robots else []
        seeds.append({"kind": "home", "url": self.home})
        for kind, urls in (("sitemap", self.sitemaps), ("feed", self.feeds), ("section", self.sections)):
            seeds.extend({"kind": kind, "url": url} for url in urls)
        return [{"site": self.name, **seed} for seed in seeds]

    def in_scope(self, url: str) -> bool:
        """True when ``url`` is http(s) on one of the site's allowed hosts (or their subdomains)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        host = parts.hostname.lower()
        hostport = f"{host}:{parts.port}" if parts.port else host
        for domain in self.allowed_domains:
            if ":" in domain:
                if hostport == domain:
                    return True
            elif host == domain or host.endswith("." + domain):
                return True
        return False

    def is_article(self, url: str) -> bool | None:
        """Whether the URL looks like an article page; None when the site gives no pattern.

        Its canonical address counts too: a share link (``?utm_source=…``) is the article's own address, not a
        section, whichever of the two links a page has first.
        """
        pattern = self.article_pattern
        if pattern is None:
            return None
        return _pattern_matches(pattern, url) or _pattern_matches(pattern, canonicalize_url(url))


def _pattern_matches(pattern: re.Pattern[str], url: str) -> bool:
    parts = urlsplit(url)
    return pattern.search(parts.path + (f"?{parts.query}" if parts.query else "")) is not None


def load_sources(path: str | Path) -> list[Source]:
    """Read and validate a sources file; raise ``SourcesError`` on any problem."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourcesError(f"sources file {path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourcesError(f"sources file {path}: cannot be read ({exc})") from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise SourcesError(f"sources file {path}: invalid YAML{where}: {problem}") from None
    return parse_sources(data, origin=str(path))


def parse_sources(data: Any, origin: str = "<sources>") -> list[Source]:
    """Validate already-parsed YAML data (see the module docstring for the schema)."""
    if not isinstance(data, Mapping) or "sites" not in data:
        raise SourcesError(f"sources file {origin}: expected a mapping with a 'sites:' list at the top")
    extra = set(data) - {"sites"}
    if extra:
        raise SourcesError(f"sources file {origin}: unknown top-level key(s) {sorted(extra)}; only 'sites'")
    sites = data["sites"]
    if not isinstance(sites, list) or not sites:
        raise SourcesError(f"sources file {origin}: 'sites' must be a non-empty list")
    result: list[Source] = []
    seen: set[str] = set()
    for index, entry in enumerate(sites, start=1):
        source = _parse_entry(entry, origin, index)
        if source.name in seen:
            raise SourcesError(f"sources file {origin}: entry {index} ({source.name}): duplicate name")
        seen.add(source.name)
        result.append(source)
    return result


def _parse_entry(entry: Any, origin: str, index: int) -> Source:
    label = f"entry {index}"
    if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
        label = f"entry {index} ({entry['name']})"

    def fail(problem: str) -> SourcesError:
        return SourcesError(f"sources file {origin}: {label}: {problem}")

    if not isinstance(entry, Mapping):
        raise fail("must be a mapping of keys (name, home, ...)")
    unknown = set(entry) - _KNOWN_KEYS
    if unknown:
        raise fail(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_KNOWN_KEYS)}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise fail("'name' is missing or not a lowercase identifier ([a-z0-9_-], at most 63 characters)")
    home = entry.get("home")
    if not home:
        raise fail("'home' (the site's home URL) is missing")
    home = _check_url(home, "home", fail)

    def url_list(key: str) -> tuple[str, ...]:
        value = entry.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise fail(f"'{key}' must be a list of URLs")
        return tuple(_check_url(item, key, fail) for item in value)

    domains_value = entry.get("allowed_domains")
    if domains_value is None:
        host = urlsplit(home).netloc.lower()
        domains: tuple[str, ...] = (host.split(":")[0] if urlsplit(home).port in (None, 80, 443) else host,)
    else:
        if isinstance(domains_value, str):
            domains_value = [domains_value]
        if not isinstance(domains_value, list) or not all(
            isinstance(d, str) and d and "/" not in d for d in domains_value
        ):
            raise fail("'allowed_domains' must be a list of host names (host or host:port, no scheme)")
        domains = tuple(d.lower() for d in domains_value)

    pattern = entry.get("article_pattern")
    compiled: re.Pattern[str] | None = None
    if pattern is not None:
        if not isinstance(pattern, str):
            raise fail("'article_pattern' must be a regular expression string")
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise fail(f"'article_pattern' is not a valid regular expression: {exc}") from None

    render = entry.get("render", "auto")
    if render not in RENDER_MODES:
        raise fail(f"'render' must be one of {', '.join(RENDER_MODES)}, not {render!r}")
    wait_selector = entry.get("render_wait_selector")
    if wait_selector is not None and not isinstance(wait_selector, str):
        raise fail("'render_wait_selector' must be a CSS selector string")

    source = Source(
        name=name,
        home=home,
        allowed_domains=domains,
        sitemaps=url_list("sitemaps"),
        feeds=url_list("feeds"),
        sections=url_list("sections"),
        article_pattern=compiled,
        render=render,
        render_wait_selector=wait_selector,
    )
    for key in ("sitemaps", "feeds", "sections"):
        for url in getattr(source, key):
            if not source.in_scope(url) and key == "sections":
                raise fail(f"'{key}' URL {url} is outside allowed_domains {list(source.allowed_domains)}")
    if not source.in_scope(home):
        raise fail(f"'home' {home} is outside allowed_domains {list(source.allowed_domains)}")
    return source


def _check_url(value: Any, key: str, fail: Any) -> str:
    if not isinstance(value, str):
        raise fail(f"'{key}' must be a URL string, not {type(value).__name__}")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise fail(f"'{key}' value {value!r} is not an absolute http(s) URL")
    return value.strip()
