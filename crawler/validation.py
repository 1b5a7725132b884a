"""Start-up validation of every project setting, the sources file and the topic file, before any request.

``SettingsValidator`` checks types, ranges and combinations of the settings listed in ``crawler/settings.py``
(plus the optional ones components read: WARC_DIR, ARCHIVE_DRAIN_TIMEOUT, RETRY_AFTER_*, CRAWL_REDIS_*,
INCREMENTAL_*...), loads the sources file (``-a sources=`` or CRAWL_SOURCES) and the topic file
(RELEVANCE_TOPIC), and raises one ``crawler.config.ConfigError`` that lists every problem, each naming the
setting and what to fix. ``scrapy crawl`` prints it as one line and exits with status 2.

It is both a Scrapy add-on and an extension: ``from_crawler`` does the work. Listed in ADDONS with a priority
below ``crawler.render.RenderAddon`` it runs before any other component reads a setting (the spider has been
built, the engine has not); listed in EXTENSIONS with the lowest order it runs before the other extensions.
Either way no request has been scheduled yet. ``validate_settings(settings)`` is the plain function.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from crawler.config import ConfigError, default_sources_path

logger = logging.getLogger(__name__)

MB = 1_000_000
S3_MIN_PART = 5 * 1024 * 1024
_CRAWL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_WARC_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.]{1,40}$")
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


class _Checker:
    """Collects problems instead of stopping at the first, so one run shows everything to fix."""

    def __init__(self, settings: BaseSettings) -> None:
        self.settings = settings
        self.problems: list[str] = []

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def _number(self, name: str, convert: Callable[[str], Any], kind: str, default: Any) -> Any:
        value = self.settings.get(name, default)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            self.fail(f"{name} must be {kind}, not a boolean ({value!r})")
            return None
        try:
            return convert(str(value).strip()) if isinstance(value, str) else convert(value)
        except (TypeError, ValueError):
            self.fail(f"{name} must be {kind}, got {value!r}")
            return None

    def integer(
        self, name: str, default: int | None, *, minimum: int | None = None, hint: str = ""
    ) -> int | None:
        value = self._number(name, int, "a whole number", default)
        if value is not None and minimum is not None and value < minimum:
            self.fail(f"{name} must be at least {minimum}, got {value}{hint}")
            return None
        return value

    def number(
        self,
        name: str,
        default: float | None,
        *,
        minimum: float | None = None,
        positive: bool = False,
        hint: str = "",
    ) -> float | None:
        value = self._number(name, float, "a number", default)
        if value is None:
            return None
        if value != value or value in (float("inf"), float("-inf")):
            self.fail(f"{name} must be a finite number, got {value!r}")
            return None
        if positive and not value > 0:
            self.fail(f"{name} must be a positive number, got {value}{hint}")
            return None
        if minimum is not None and value < minimum:
            self.fail(f"{name} must be at least {minimum}, got {value}{hint}")
            return None
        return float(value)

    def boolean(self, name: str, default: bool) -> bool:
        try:
            return self.settings.getbool(name, default)
        except ValueError:
            self.fail(f"{name} must be True or False (or 1/0), got {self.settings.get(name)!r}")
            return default

    def text(self, name: str, *, required: bool = False) -> str:
        value = self.settings.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.fail(f"{name} must be a string, got {type(value).__name__} {value!r}")
            return ""
        if required and not value.strip():
            self.fail(f"{name} is empty")
        return value.strip()

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.settings.get(name) or default
        if str(value) not in choices:
            self.fail(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return str(value)

    def int_list(self, name: str, *, low: int, high: int) -> list[int]:
        try:
            raw = self.settings.getlist(name)
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


def validate_settings(settings: BaseSettings, *, sources: str | None = None) -> None:
    """Raise ``ConfigError`` listing every unusable setting; ``sources`` is the ``-a sources=`` argument."""
    c = _Checker(settings)
    _identity_and_politeness(c)
    _downloads(c)
    _crawl(c, sources)
    _storage(c)
    _warc(c)
    _extraction(c)
    _render(c)
    _components(c)
    if c.problems:
        raise ConfigError("invalid settings: " + "; ".join(c.problems))


def _identity_and_politeness(c: _Checker) -> None:
    contact = c.text("OPERATOR_CONTACT")
    if not contact:
        c.fail("OPERATOR_CONTACT is empty: give a URL or e-mail address where site owners can reach you")
    elif not (contact.startswith(("http://", "https://", "mailto:")) or "@" in contact):
        c.fail(f"OPERATOR_CONTACT {contact!r} is neither a URL (https://...) nor an e-mail address")
    ua = c.text("USER_AGENT")
    if any(ch in ua for ch in "\r\n"):
        c.fail("USER_AGENT must be one line (it contains a line break)")
    for name in ("ROBOTSTXT_OBEY", "COOKIES_ENABLED", "RETRY_ENABLED", "RETRY_AFTER_ENABLED"):
        c.boolean(name, True)
    throttle = c.boolean("AUTOTHROTTLE_ENABLED", True)
    start = c.number("AUTOTHROTTLE_START_DELAY", 1.0, minimum=0)
    top = c.number("AUTOTHROTTLE_MAX_DELAY", 30.0, minimum=0)
    c.number("AUTOTHROTTLE_TARGET_CONCURRENCY", 2.0, positive=True)
    if throttle and start is not None and top is not None and top < start:
        c.fail(f"AUTOTHROTTLE_MAX_DELAY ({top}) must not be below AUTOTHROTTLE_START_DELAY ({start})")
    total = c.integer("CONCURRENT_REQUESTS", 16, minimum=1)
    per_domain = c.integer("CONCURRENT_REQUESTS_PER_DOMAIN", 8, minimum=1)
    if total is not None and per_domain is not None and per_domain > total:
        c.fail(f"CONCURRENT_REQUESTS_PER_DOMAIN ({per_domain}) must not exceed CONCURRENT_REQUESTS ({total})")
    c.number("DOWNLOAD_DELAY", 0.25, minimum=0)
    c.choice("LOG_LEVEL", _LOG_LEVELS, "INFO")
    c.text("FEED_EXPORT_ENCODING")


def _downloads(c: _Checker) -> None:
    c.number("DOWNLOAD_TIMEOUT", 180, positive=True, hint=" (seconds)")
    maxsize = c.integer("DOWNLOAD_MAXSIZE", 32 * 1024 * 1024, minimum=0, hint=" (bytes; 0 means no limit)")
    warnsize = c.integer("DOWNLOAD_WARNSIZE", 8 * 1024 * 1024, minimum=0, hint=" (bytes; 0 means no warning)")
    if maxsize and warnsize and warnsize > maxsize:
        c.fail(f"DOWNLOAD_WARNSIZE ({warnsize}) must not exceed DOWNLOAD_MAXSIZE ({maxsize})")
    c.integer("RETRY_TIMES", 2, minimum=0)
    c.int_list("RETRY_HTTP_CODES", low=100, high=599)
    if c.settings.get("RETRY_AFTER_HTTP_CODES") is not None:
        c.int_list("RETRY_AFTER_HTTP_CODES", low=100, high=599)
    c.number("RETRY_AFTER_MAX_DELAY", 300.0, minimum=0, hint=" (seconds)")
    c.integer("REDIRECT_MAX_TIMES", 20, minimum=1)
    fingerprinter = str(c.settings.get("REQUEST_FINGERPRINTER_IMPLEMENTATION") or "2.7")
    if fingerprinter != "2.7":
        c.fail(f"REQUEST_FINGERPRINTER_IMPLEMENTATION must be '2.7', got {fingerprinter!r}")


def _crawl(c: _Checker, sources: str | None) -> None:
    crawl_id = c.text("CRAWL_ID")
    if crawl_id and not _CRAWL_ID_RE.match(crawl_id):
        c.fail(f"CRAWL_ID {crawl_id!r} is not usable in file names: use letters, digits, '_', '-' or '.'")
    since = c.text("CRAWL_SINCE")
    if since:
        try:
            date.fromisoformat(since)
        except ValueError:
            c.fail(f"CRAWL_SINCE {since!r} is not a date in the form YYYY-MM-DD")
    c.integer("CRAWL_MAX_LISTING_PAGES", 50, minimum=0)
    path = sources or c.text("CRAWL_SOURCES") or str(default_sources_path())
    from crawler.sources import SourcesError, load_sources

    try:
        load_sources(path)
    except SourcesError as exc:
        c.fail(f"CRAWL_SOURCES / -a sources: {exc}")


def _storage(c: _Checker) -> None:
    uri = c.text("ARCHIVE_URI")
    if not uri:
        c.fail("ARCHIVE_URI is empty: give a directory, file:///abs/dir or s3://bucket/prefix")
    else:
        scheme = urlsplit(uri).scheme.lower()
        if scheme not in ("", "file", "s3") and not re.match(r"^[A-Za-z]:[\\/]", uri):
            c.fail(
                f"ARCHIVE_URI {uri!r}: unknown scheme {scheme!r}; use a path, file:///abs/dir or s3://bucket"
            )
        else:
            from archive.store import StoreConfigError
            from crawler.storage import ArchiveStorageConfig

            try:
                ArchiveStorageConfig.from_settings(c.settings)
            except StoreConfigError as exc:
                c.fail(f"ARCHIVE_URI / ARCHIVE_SPOOL_DIR / S3_*: {exc}")
            except (TypeError, ValueError) as exc:
                c.fail(f"storage settings (ARCHIVE_URI, AWS_*, S3_*): {exc}")
    c.text("ARCHIVE_SPOOL_DIR")
    c.number("ARCHIVE_DRAIN_TIMEOUT", 300.0, minimum=0, hint=" (seconds)")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION_NAME"):
        value = c.settings.get(name)
        if value is not None and not isinstance(value, str):
            c.fail(f"{name} must be a string")  # never echo the value: it may be a secret
    endpoint = c.settings.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(str(endpoint))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            c.fail(f"AWS_ENDPOINT_URL {endpoint!r} must be an http(s) URL such as http://127.0.0.1:8333")
    if c.settings.get("AWS_USE_SSL") is not None:
        c.boolean("AWS_USE_SSL", True)
    verify = c.settings.get("AWS_VERIFY")
    if verify is not None and not isinstance(verify, bool):
        text = str(verify)
        if text.lower() not in ("true", "false", "0", "1") and not Path(text).is_file():
            c.fail(
                f"AWS_VERIFY must be True, False or the path of a CA bundle file; {text!r} is none of them"
            )
    c.choice("S3_ADDRESSING_STYLE", ("auto", "path", "virtual"), "auto")
    c.integer("S3_MULTIPART_THRESHOLD", 64 * 1024 * 1024, minimum=S3_MIN_PART, hint=" (S3's smallest part)")
    c.integer("S3_UPLOAD_RETRIES", 5, minimum=0)


def _warc(c: _Checker) -> None:
    warc = c.boolean("WARC_ENABLED", True)
    c.boolean("WACZ_ENABLED", True)
    prefix = c.text("WARC_PREFIX") or "LIBYA"
    if not _WARC_PREFIX_RE.match(prefix):
        c.fail(f"WARC_PREFIX {prefix!r} must be letters, digits, '_' or '.' (no '-' or '/': IIPC file names)")
    size = c.integer("WARC_MAX_SIZE", 1_000_000_000, minimum=1)
    if warc and size is not None and size <= MB:
        c.fail(f"WARC_MAX_SIZE must be more than 1 MB (1000000 bytes), got {size}; 1 GB is usual")
    c.text("WARC_DIR")
    c.text("WARC_DIGEST_INDEX")


def _extraction(c: _Checker) -> None:
    c.integer("EXTRACT_WORKERS", 0, minimum=0, hint=" (0 means one per core)")
    c.boolean("RELEVANCE_KEEP_ALL", False)
    topic = c.text("RELEVANCE_TOPIC")
    from relevance import Topic, TopicError, default_topic_path

    try:
        Topic.load(Path(topic) if topic else default_topic_path())
    except (TopicError, OSError) as exc:
        c.fail(f"RELEVANCE_TOPIC: {exc}")


def _render(c: _Checker) -> None:
    path = c.text("RENDER_CHROMIUM_PATH")
    if path and not (os.path.isfile(path) and os.access(path, os.X_OK)):
        c.fail(
            f"RENDER_CHROMIUM_PATH {path!r} is not an executable file; point it at a Chromium binary or "
            "leave it empty"
        )
    c.integer("RENDER_MAX_CONTEXTS", 2, minimum=1)
    c.integer("RENDER_MAX_PAGES_PER_CONTEXT", 2, minimum=1)
    c.number("RENDER_TIMEOUT", 30.0, positive=True, hint=" (seconds)")
    c.number("RENDER_HARD_TIMEOUT", 0.0, minimum=0.0, hint=" (seconds; 0: three times RENDER_TIMEOUT)")


def _components(c: _Checker) -> None:
    stats_file = c.text("CRAWL_STATS_FILE")
    if stats_file and Path(stats_file).is_dir():
        c.fail(f"CRAWL_STATS_FILE {stats_file!r} is a directory; give a file name")
    reactor = str(c.settings.get("TWISTED_REACTOR") or "")
    if reactor != _ASYNCIO_REACTOR:
        c.fail(f"TWISTED_REACTOR must be {_ASYNCIO_REACTOR} (scrapy-playwright needs it), got {reactor!r}")
    redis_url = c.text("CRAWL_REDIS_URL")
    if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        c.fail(f"CRAWL_REDIS_URL {redis_url!r} must be a redis://, rediss:// or unix:// URL")
    c.number("CRAWL_REDIS_IDLE_CLOSE", 10.0, minimum=0)
    c.number("CRAWL_REDIS_HEARTBEAT", 5.0, positive=True)
    worker = c.text("CRAWL_WORKER_ID")
    if worker and not _CRAWL_ID_RE.match(worker):
        c.fail(f"CRAWL_WORKER_ID {worker!r} must be letters, digits, '_', '-' or '.'")
    for name in ("INCREMENTAL_ENABLED", "INCREMENTAL_SKIP_BY_DATE", "INCREMENTAL_REFETCH"):
        c.boolean(name, True)
    c.boolean("INCREMENTAL_SKIP_BY_PUBLISHED", False)
    c.boolean("RECOVERY_ENABLED", True)


class SettingsValidator:
    """Add-on and extension: validates everything in ``from_crawler``; see the module docstring."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SettingsValidator:
        try:
            spider = crawler.spider
        except (AttributeError, RuntimeError):  # built before the spider (not how we list it)
            spider = None
        config = getattr(spider, "config", None)
        sources = str(config.sources_path) if config is not None else None
        validate_settings(crawler.settings, sources=sources)
        logger.debug("settings, sources and topic file are valid")
        return cls()

    def update_settings(self, settings: BaseSettings) -> None:
        """Add-on hook: nothing to change, the checking happened in ``from_crawler``."""
