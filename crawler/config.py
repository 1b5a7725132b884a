"""Crawl-wide configuration parsed once from Scrapy settings (and spider arguments) at start-up.

``SettingsReader`` is how every config's ``from_settings`` reads its settings: it converts each value, checks
its rule, and collects every problem before ``check()`` raises one ``ConfigError`` naming each setting and
what to use. A setting left empty gets its default from ``crawler/settings.py`` (the one place defaults are
written), else Scrapy's. Rules live only in the configs' ``from_settings``; ``crawler.validation`` calls
them all.

``CrawlConfig`` reads CRAWL_SOURCES, CRAWL_ID, CRAWL_SINCE, OPERATOR_CONTACT, CRAWL_MAX_LISTING_PAGES;
``ScrapyConfig`` checks the Scrapy settings this project relies on (politeness, downloads, retries, logging,
the reactor), whose components Scrapy owns.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

PROJECT_NAME = "libya-news-archiver"
PROJECT_VERSION = "0.1.0"
_CRAWL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
T = TypeVar("T")


class ConfigError(ValueError):
    """Settings that cannot be used; the message names each and says what to fix (one line)."""

    def __init__(self, *problems: str) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(problems))


def project_default(name: str) -> Any:
    """A setting's default: ``crawler/settings.py``'s value, else Scrapy's own (None when neither has it)."""
    from scrapy.settings import default_settings

    from crawler import settings as project

    return getattr(project, name, getattr(default_settings, name, None))


class SettingsReader:
    """Reads settings for one config, collecting problems instead of stopping at the first.

    Every getter returns the converted value (the default when the setting is empty), or the default after
    recording a problem, so a config can go on and report everything at once from ``check()``.
    """

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.problems: list[str] = []

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def check(self) -> None:
        """Raise one ``ConfigError`` with every problem found so far."""
        if self.problems:
            raise ConfigError(*self.problems)

    def raw(self, name: str) -> Any:
        """The value as set; its default when it is not set (None), or empty for a number."""
        value = self.settings.get(name)
        return project_default(name) if value is None or value == "" else value

    def _convert(self, name: str, convert: Callable[[Any], T], kind: str) -> T | None:
        value = self.raw(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            self.fail(f"{name} must be {kind}, not a boolean ({value!r})")
            return None
        try:
            return convert(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            self.fail(f"{name} must be {kind}, got {value!r}")
            return None

    def integer(
        self, name: str, *, minimum: int | None = None, maximum: int | None = None, hint: str = ""
    ) -> int:
        value = self._convert(name, _whole, "a whole number")
        if value is not None and minimum is not None and value < minimum:
            self.fail(f"{name} must be at least {minimum}, got {value}{hint}")
        elif value is not None and maximum is not None and value > maximum:
            self.fail(f"{name} must be at most {maximum}, got {value}{hint}")
        return value if value is not None else int(project_default(name) or 0)

    def number(
        self, name: str, *, minimum: float | None = None, positive: bool = False, hint: str = ""
    ) -> float:
        value = self._convert(name, float, "a number")
        if value is None:
            return float(project_default(name) or 0)
        if not math.isfinite(value):
            self.fail(f"{name} must be a finite number, got {value!r}")
        elif positive and not value > 0:
            self.fail(f"{name} must be a positive number, got {value}{hint}")
        elif minimum is not None and value < minimum:
            self.fail(f"{name} must be at least {minimum}, got {value}{hint}")
        return float(value)

    def boolean(self, name: str) -> bool:
        value = self.settings.get(name)
        if value is None or value == "":
            return bool(project_default(name))
        try:
            return bool(self.settings.getbool(name))
        except ValueError:
            self.fail(f"{name} must be True or False (or 1/0), got {self.settings.get(name)!r}")
            return bool(project_default(name))

    def text(self, name: str) -> str:
        value = self.settings.get(name)  # an empty string stays empty: it may mean "off" or be an error
        if value is None:
            value = project_default(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.fail(f"{name} must be a string, got {type(value).__name__} {value!r}")
            return ""
        return value.strip()

    def secret(self, name: str) -> str | None:
        """A credential: checked like ``text`` but never echoed."""
        value = self.settings.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.fail(f"{name} must be a string")
            return None
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = str(self.raw(name) or "").strip()
        if value.lower() not in choices and value not in choices:
            self.fail(f"{name} must be one of {', '.join(choices)}, got {value!r}")
            return str(project_default(name) or choices[0])
        return value if value in choices else value.lower()

    def int_list(self, name: str, *, low: int, high: int) -> list[int]:
        try:
            raw = self.settings.getlist(name, project_default(name))
        except (TypeError, ValueError):
            self.fail(f"{name} must be a list of numbers, got {self.settings.get(name)!r}")
            return []
        result = []
        for item in raw:
            try:
                code = int(str(item).strip())
            except ValueError:
                self.fail(f"{name} must hold whole numbers, got {item!r}")
                continue
            if not low <= code <= high:
                self.fail(f"{name}: {code} is not between {low} and {high}")
            result.append(code)
        return result

    def identifier(self, name: str, what: str) -> str:
        """Letters, digits, '_', '-' or '.': usable in file names and object keys."""
        value = self.text(name)
        if value and not _CRAWL_ID_RE.match(value):
            self.fail(f"{name} {value!r} {what}")
        return value


def render_queue_size(r: SettingsReader) -> int:
    """RENDER_QUEUE_SIZE: browser renders that may wait for a page without holding a CONCURRENT_REQUESTS slot
    (``crawler.render.queue``)."""
    return r.integer(
        "RENDER_QUEUE_SIZE",
        minimum=0,
        hint=" (renders waiting for a browser page outside CONCURRENT_REQUESTS; 0: they count as requests)",
    )


def _whole(value: Any) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
    return int(value)


def default_sources_path() -> Path:
    """The packaged default sources file (works from a zipped scrapyd egg too)."""
    from relevance.topic import packaged_file

    return packaged_file("sources", "libya.yaml")


def default_crawl_id(now: datetime | None = None) -> str:
    """scrapyd's job id when running under scrapyd, else a UTC timestamp."""
    job = os.environ.get("SCRAPY_JOB", "").strip()
    if job and _CRAWL_ID_RE.match(job):
        return job
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")


def user_agent_for(contact: str) -> str:
    return f"Mozilla/5.0 (compatible; {PROJECT_NAME}/{PROJECT_VERSION}; +{contact})"


@dataclass(frozen=True)
class CrawlConfig:
    sources_path: Path
    crawl_id: str
    since: date | None
    operator_contact: str
    max_listing_pages: int = 50

    @classmethod
    def from_settings(cls, settings: Any, **overrides: str | None) -> CrawlConfig:
        """Build from a Scrapy ``Settings`` object; spider arguments (``sources``, ``since``) win."""
        r = SettingsReader(settings)
        sources = overrides.get("sources") or r.text("CRAWL_SOURCES")
        sources_path = Path(sources) if sources else default_sources_path()
        crawl_id = (overrides.get("crawl_id") or "").strip() or r.text("CRAWL_ID") or default_crawl_id()
        if not _CRAWL_ID_RE.match(crawl_id):
            r.fail(f"CRAWL_ID {crawl_id!r} is not usable in file names: use letters, digits, '_', '-' or '.'")
        since_raw = (overrides.get("since") or "").strip() or r.text("CRAWL_SINCE")
        since: date | None = None
        if since_raw:
            try:
                since = date.fromisoformat(since_raw)
            except ValueError:
                r.fail(f"since / CRAWL_SINCE {since_raw!r} is not a date in the form YYYY-MM-DD")
        contact = r.text("OPERATOR_CONTACT")
        if not contact:
            r.fail("OPERATOR_CONTACT is empty: give a URL or e-mail address where site owners can reach you")
        elif not (contact.startswith(("http://", "https://", "mailto:")) or "@" in contact):
            r.fail(f"OPERATOR_CONTACT {contact!r} is neither a URL (https://...) nor an e-mail address")
        max_listing_pages = r.integer("CRAWL_MAX_LISTING_PAGES", minimum=0)
        r.check()
        return cls(
            sources_path=sources_path,
            crawl_id=crawl_id,
            since=since,
            operator_contact=contact,
            max_listing_pages=max_listing_pages,
        )


@dataclass(frozen=True)
class ScrapyConfig:
    """The Scrapy settings this project relies on; Scrapy's components read them, this checks them."""

    download_maxsize: int

    @classmethod
    def from_settings(cls, settings: Any) -> ScrapyConfig:
        r = SettingsReader(settings)
        ua = r.text("USER_AGENT")
        if any(ch in ua for ch in "\r\n"):
            r.fail("USER_AGENT must be one line (it contains a line break)")
        for name in ("ROBOTSTXT_OBEY", "COOKIES_ENABLED", "RETRY_ENABLED"):
            r.boolean(name)
        throttle = r.boolean("AUTOTHROTTLE_ENABLED")
        start = r.number("AUTOTHROTTLE_START_DELAY", minimum=0)
        top = r.number("AUTOTHROTTLE_MAX_DELAY", minimum=0)
        r.number("AUTOTHROTTLE_TARGET_CONCURRENCY", positive=True)
        if throttle and top < start:
            r.fail(f"AUTOTHROTTLE_MAX_DELAY ({top}) must not be below AUTOTHROTTLE_START_DELAY ({start})")
        total = r.integer("CONCURRENT_REQUESTS", minimum=1)
        per_domain = r.integer("CONCURRENT_REQUESTS_PER_DOMAIN", minimum=1)
        if per_domain > total >= 1:
            r.fail(
                f"CONCURRENT_REQUESTS_PER_DOMAIN ({per_domain}) must not exceed CONCURRENT_REQUESTS ({total})"
            )
        render_queue_size(r)
        r.number("DOWNLOAD_DELAY", minimum=0)
        r.choice("LOG_LEVEL", _LOG_LEVELS)
        r.text("FEED_EXPORT_ENCODING")
        r.number("DOWNLOAD_TIMEOUT", positive=True, hint=" (seconds)")
        maxsize = r.integer("DOWNLOAD_MAXSIZE", minimum=0, hint=" (bytes; 0 means no limit)")
        warnsize = r.integer("DOWNLOAD_WARNSIZE", minimum=0, hint=" (bytes; 0 means no warning)")
        if maxsize > 0 and warnsize > maxsize:
            r.fail(f"DOWNLOAD_WARNSIZE ({warnsize}) must not exceed DOWNLOAD_MAXSIZE ({maxsize})")
        r.integer("RETRY_TIMES", minimum=0)
        r.int_list("RETRY_HTTP_CODES", low=100, high=599)
        r.integer("REDIRECT_MAX_TIMES", minimum=1)
        fingerprinter = str(r.raw("REQUEST_FINGERPRINTER_IMPLEMENTATION") or "2.7")
        if fingerprinter != "2.7":
            r.fail(f"REQUEST_FINGERPRINTER_IMPLEMENTATION must be '2.7', got {fingerprinter!r}")
        reactor = str(settings.get("TWISTED_REACTOR") or "")
        if reactor != _ASYNCIO_REACTOR:
            r.fail(
                f"TWISTED_REACTOR must be {_ASYNCIO_REACTOR} (scrapy-playwright needs it), got {reactor!r}"
            )
        r.check()
        return cls(download_maxsize=maxsize)
