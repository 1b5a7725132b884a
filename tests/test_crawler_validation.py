"""crawler.validation: every project setting, the sources file and the topic file are checked at start-up.

Unit cases build real Scrapy ``Settings`` from ``crawler.settings`` and change one value; the subprocess
cases run ``scrapy crawl libya`` as a user would, against a live local site, and show exit status 2, one
clear ``error:`` line naming the setting, and not a single request reaching the site.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings

from crawler.config import ConfigError
from crawler.validation import validate_settings
from newsroom.faults import FaultSite
from tests.crawling import run_scrapy, scrapy_command

# The validator is listed here explicitly (ADDONS first, so it runs before RenderAddon reads RENDER_*);
# once crawler/settings.py lists it too these overrides are simply redundant.
ADDONS = {"crawler.validation.SettingsValidator": -100, "crawler.render.RenderAddon": 0}


def _settings(**values: Any) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for name, value in values.items():
        settings.set(name, value, priority="cmdline")
    return settings


def test_project_defaults_are_valid() -> None:
    validate_settings(_settings())


def test_fast_test_settings_are_valid(tmp_path: Path) -> None:
    validate_settings(
        _settings(
            DOWNLOAD_DELAY="0",
            AUTOTHROTTLE_ENABLED="False",
            DOWNLOAD_TIMEOUT="3",
            RETRY_TIMES="2",
            CONCURRENT_REQUESTS_PER_DOMAIN="8",
            ARCHIVE_URI=str(tmp_path / "archive"),
            ARCHIVE_SPOOL_DIR=str(tmp_path / "spool"),
            CRAWL_SINCE="2019-01-01",
        )
    )


BAD: list[tuple[dict[str, Any], str]] = [
    ({"CONCURRENT_REQUESTS": "0"}, "CONCURRENT_REQUESTS must be at least 1"),
    ({"CONCURRENT_REQUESTS_PER_DOMAIN": "-1"}, "CONCURRENT_REQUESTS_PER_DOMAIN must be at least 1"),
    (
        {"CONCURRENT_REQUESTS": "4", "CONCURRENT_REQUESTS_PER_DOMAIN": "8"},
        "must not exceed CONCURRENT_REQUESTS",
    ),
    ({"CONCURRENT_REQUESTS": "many"}, "CONCURRENT_REQUESTS must be a whole number, got 'many'"),
    ({"DOWNLOAD_TIMEOUT": "0"}, "DOWNLOAD_TIMEOUT must be a positive number"),
    ({"DOWNLOAD_DELAY": "-1"}, "DOWNLOAD_DELAY must be at least 0"),
    ({"DOWNLOAD_MAXSIZE": "1000", "DOWNLOAD_WARNSIZE": "5000"}, "DOWNLOAD_WARNSIZE (5000) must not exceed"),
    ({"DOWNLOAD_MAXSIZE": "-5"}, "DOWNLOAD_MAXSIZE must be at least 0"),
    ({"RETRY_TIMES": "-1"}, "RETRY_TIMES must be at least 0"),
    ({"RETRY_HTTP_CODES": "500,abc"}, "RETRY_HTTP_CODES must hold whole numbers"),
    ({"RETRY_HTTP_CODES": "500,700"}, "RETRY_HTTP_CODES: 700 is not between 100 and 599"),
    ({"RETRY_AFTER_MAX_DELAY": "-3"}, "RETRY_AFTER_MAX_DELAY must be at least 0"),
    ({"REDIRECT_MAX_TIMES": "0"}, "REDIRECT_MAX_TIMES must be at least 1"),
    (
        {"AUTOTHROTTLE_START_DELAY": "10", "AUTOTHROTTLE_MAX_DELAY": "5"},
        "AUTOTHROTTLE_MAX_DELAY (5.0) must not",
    ),
    ({"AUTOTHROTTLE_TARGET_CONCURRENCY": "0"}, "AUTOTHROTTLE_TARGET_CONCURRENCY must be a positive number"),
    ({"ROBOTSTXT_OBEY": "perhaps"}, "ROBOTSTXT_OBEY must be True or False"),
    ({"OPERATOR_CONTACT": ""}, "OPERATOR_CONTACT is empty"),
    ({"OPERATOR_CONTACT": "call me"}, "OPERATOR_CONTACT 'call me' is neither a URL"),
    ({"USER_AGENT": "bot\r\nX-Evil: 1"}, "USER_AGENT must be one line"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be one of"),
    ({"CRAWL_ID": "../etc"}, "CRAWL_ID '../etc' is not usable in file names"),
    ({"CRAWL_SINCE": "yesterday"}, "CRAWL_SINCE 'yesterday' is not a date in the form YYYY-MM-DD"),
    ({"CRAWL_SINCE": "2024-13-01"}, "CRAWL_SINCE '2024-13-01' is not a date"),
    ({"CRAWL_MAX_LISTING_PAGES": "-1"}, "CRAWL_MAX_LISTING_PAGES must be at least 0"),
    ({"CRAWL_SOURCES": "/nonexistent/sources.yaml"}, "sources file /nonexistent/sources.yaml: not found"),
    ({"ARCHIVE_URI": ""}, "ARCHIVE_URI is empty"),
    ({"ARCHIVE_URI": "ftp://host/dir"}, "ARCHIVE_URI 'ftp://host/dir': unknown scheme 'ftp'"),
    ({"ARCHIVE_URI": "file://relative/dir"}, "ARCHIVE_URI / ARCHIVE_SPOOL_DIR / S3_*"),
    ({"ARCHIVE_DRAIN_TIMEOUT": "soon"}, "ARCHIVE_DRAIN_TIMEOUT must be a number"),
    ({"AWS_ENDPOINT_URL": "localhost:8333"}, "AWS_ENDPOINT_URL 'localhost:8333' must be an http(s) URL"),
    ({"AWS_VERIFY": "/no/such/ca.pem"}, "AWS_VERIFY must be True, False or the path of a CA bundle"),
    ({"S3_ADDRESSING_STYLE": "sideways"}, "S3_ADDRESSING_STYLE must be one of auto, path, virtual"),
    ({"S3_MULTIPART_THRESHOLD": "1024"}, "S3_MULTIPART_THRESHOLD must be at least 5242880"),
    ({"S3_UPLOAD_RETRIES": "-2"}, "S3_UPLOAD_RETRIES must be at least 0"),
    ({"WARC_MAX_SIZE": "1000"}, "WARC_MAX_SIZE must be more than 1 MB"),
    ({"WARC_MAX_SIZE": "1e9"}, "WARC_MAX_SIZE must be a whole number"),
    ({"WARC_MAX_AGE": "0.5"}, "WARC_MAX_AGE must be 0 (off) or at least 1 second"),
    ({"WARC_MAX_AGE": "-3"}, "WARC_MAX_AGE must be at least 0"),
    ({"WARC_MAX_AGE": "five minutes"}, "WARC_MAX_AGE must be a number"),
    ({"ARCHIVE_UPLOAD_CONCURRENCY": "0"}, "ARCHIVE_UPLOAD_CONCURRENCY must be at least 1"),
    ({"ARCHIVE_UPLOAD_CONCURRENCY": "500"}, "ARCHIVE_UPLOAD_CONCURRENCY must be at most 32"),
    ({"WARC_PREFIX": "MY-CRAWL"}, "WARC_PREFIX 'MY-CRAWL' must be letters, digits"),
    ({"WARC_ENABLED": "yes please"}, "WARC_ENABLED must be True or False"),
    ({"EXTRACT_WORKERS": "-1"}, "EXTRACT_WORKERS must be at least 0"),
    ({"RELEVANCE_TOPIC": "/nonexistent/topic.yaml"}, "RELEVANCE_TOPIC:"),
    ({"RELEVANCE_KEEP_ALL": "sometimes"}, "RELEVANCE_KEEP_ALL must be True or False"),
    ({"RENDER_MAX_CONTEXTS": "0"}, "RENDER_MAX_CONTEXTS must be at least 1"),
    ({"RENDER_MAX_PAGES_PER_CONTEXT": "0"}, "RENDER_MAX_PAGES_PER_CONTEXT must be at least 1"),
    ({"RENDER_TIMEOUT": "-1"}, "RENDER_TIMEOUT must be a positive number"),
    ({"RENDER_TIMEOUT": "nan"}, "RENDER_TIMEOUT must be a finite number"),
    ({"RENDER_HARD_TIMEOUT": "-1"}, "RENDER_HARD_TIMEOUT must be at least 0"),
    (
        {"RENDER_CHROMIUM_PATH": "/nonexistent/chromium"},
        "RENDER_CHROMIUM_PATH '/nonexistent/chromium' is not",
    ),
    ({"TWISTED_REACTOR": "twisted.internet.epollreactor.EPollReactor"}, "TWISTED_REACTOR must be"),
    (
        {"CRAWL_REDIS_URL": "http://localhost:6379"},
        "CRAWL_REDIS_URL 'http://localhost:6379' must be a redis://",
    ),
    ({"CRAWL_WORKER_ID": "a/b"}, "CRAWL_WORKER_ID 'a/b' must be letters"),
    ({"CRAWL_STATS_FILE": "/tmp"}, "CRAWL_STATS_FILE '/tmp' is a directory"),
]


@pytest.mark.parametrize(
    ("values", "message"), BAD, ids=[next(iter(v)) + "=" + str(next(iter(v.values()))) for v, _ in BAD]
)
def test_bad_value_is_named_with_what_to_fix(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_settings(_settings(**values))
    assert message in str(info.value)
    assert "\n" not in str(info.value)  # one line for the crawl command


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        validate_settings(_settings(CONCURRENT_REQUESTS="0", WARC_MAX_SIZE="10", EXTRACT_WORKERS="-3"))
    text = str(info.value)
    assert "CONCURRENT_REQUESTS" in text and "WARC_MAX_SIZE" in text and "EXTRACT_WORKERS" in text


def test_secret_values_are_never_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        validate_settings(_settings(AWS_SECRET_ACCESS_KEY=12345678, CONCURRENT_REQUESTS="0"))
    assert "AWS_SECRET_ACCESS_KEY must be a string" in str(info.value)
    assert "12345678" not in str(info.value)


def test_bad_sources_file_content(tmp_path: Path) -> None:
    bad = tmp_path / "sources.yaml"
    bad.write_text("sites:\n  - name: Bad Name\n    home: ftp://x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="entry 1"):
        validate_settings(_settings(), sources=str(bad))


def _crawl(site: FaultSite, tmp_path: Path, settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    sources = site.write_sources(tmp_path / "sources.yaml")
    merged = {
        "ARCHIVE_URI": str(tmp_path / "archive"),
        "ARCHIVE_SPOOL_DIR": str(tmp_path / "spool"),
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        "ADDONS": json.dumps(ADDONS),
        **settings,
    }
    cmd = scrapy_command("crawl", "libya", spider_args={"sources": str(sources)}, settings=merged)
    return run_scrapy(cmd, timeout=120)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"CONCURRENT_REQUESTS": "0"}, "CONCURRENT_REQUESTS must be at least 1, got 0"),
        ({"WARC_MAX_SIZE": "1000"}, "WARC_MAX_SIZE must be more than 1 MB"),
        (
            {"DOWNLOAD_MAXSIZE": "1000", "DOWNLOAD_WARNSIZE": "2000"},
            "DOWNLOAD_WARNSIZE (2000) must not exceed",
        ),
        ({"RENDER_TIMEOUT": "-5"}, "RENDER_TIMEOUT must be a positive number"),
        ({"ARCHIVE_URI": "ftp://example/x"}, "ARCHIVE_URI 'ftp://example/x': unknown scheme"),
    ],
    ids=["concurrency", "warc-size", "maxsize-vs-warnsize", "render-timeout", "archive-uri"],
)
def test_crawl_refuses_to_start_with_exit_2_and_no_request(
    tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    with FaultSite(articles=1, faults=()) as site:
        proc = _crawl(site, tmp_path, settings)
        assert proc.returncode == 2, proc.stderr[-3000:]
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and message in errors[0], proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr
        assert site.requests == []  # not even robots.txt


def test_crawl_with_bad_since_argument_is_refused(tmp_path: Path) -> None:
    with FaultSite(articles=1, faults=()) as site:
        proc = _crawl(site, tmp_path, {"CRAWL_SINCE": "last week"})
        assert proc.returncode == 2
        assert "CRAWL_SINCE 'last week' is not a date" in proc.stderr
        assert site.requests == []


# --- one rule, one default: the configs' from_settings -------------------------------------------------------


def test_configs_take_their_defaults_from_the_project_settings() -> None:
    """Without the project module (a bare Scrapy ``Settings``), each config still has crawler/settings.py's
    defaults: nothing restates them (the validator once assumed 2 pages per browser context, the renderer 4)."""
    from crawler import settings as project
    from crawler.render import RenderConfig
    from crawler.storage import ArchiveStorageConfig
    from crawler.warc import WarcConfig

    bare = Settings({"RENDER_CHROMIUM_PATH": "", "CRAWL_ID": "c1"})
    render = RenderConfig.from_settings(bare)
    assert render.max_pages_per_context == project.RENDER_MAX_PAGES_PER_CONTEXT
    assert render.max_contexts == project.RENDER_MAX_CONTEXTS and render.timeout == project.RENDER_TIMEOUT
    warc = WarcConfig.from_settings(bare)
    assert (warc.prefix, warc.max_size) == (project.WARC_PREFIX, project.WARC_MAX_SIZE)
    storage = ArchiveStorageConfig.from_settings(bare)
    assert storage.retries == project.S3_UPLOAD_RETRIES
    assert storage.drain_timeout == project.ARCHIVE_DRAIN_TIMEOUT


CONFIG_BAD: list[tuple[str, dict[str, str], str]] = [
    ("crawler.warc.WarcConfig", {"WARC_PREFIX": "A B"}, "WARC_PREFIX 'A B' must be letters"),
    ("crawler.warc.WarcConfig", {"WARC_MAX_SIZE": "1000"}, "WARC_MAX_SIZE must be more than 1 MB"),
    ("crawler.render.RenderConfig", {"RENDER_TIMEOUT": "nan"}, "RENDER_TIMEOUT must be a finite number"),
    (
        "crawler.incremental.IncrementalConfig",
        {"INCREMENTAL_STATE_PREFIX": "../up"},
        "INCREMENTAL_STATE_PREFIX must be a relative key prefix",
    ),
    (
        "crawler.incremental.IncrementalConfig",
        {"INCREMENTAL_REFETCH": "maybe"},
        "INCREMENTAL_REFETCH must be",
    ),
    (
        "crawler.report.ReportConfig",
        {"REPORT_HISTORY_TIMEOUT": "-1"},
        "REPORT_HISTORY_TIMEOUT must be at least",
    ),
    ("crawler.metrics.MetricsConfig", {"METRICS_PORT": "70000"}, "METRICS_PORT must be at most 65535"),
    (
        "crawler.retry_after.RetryAfterConfig",
        {"RETRY_AFTER_HTTP_CODES": "429,x"},
        "RETRY_AFTER_HTTP_CODES",
    ),
    ("crawler.storage.ArchiveStorageConfig", {"S3_ADDRESSING_STYLE": "sideways"}, "S3_ADDRESSING_STYLE"),
]


@pytest.mark.parametrize(
    ("build", "values", "message"),
    CONFIG_BAD,
    ids=[f"{build.rsplit('.', 1)[-1]}-{next(iter(values))}" for build, values, _ in CONFIG_BAD],
)
def test_each_config_rejects_its_bad_values(build: str, values: dict[str, str], message: str) -> None:
    """The rule lives in the config: it raises ConfigError (never NotConfigured, never accepts the value)."""
    from scrapy.utils.misc import load_object

    config = load_object(build)
    with pytest.raises(ConfigError, match=message):
        config.from_settings(_settings(CRAWL_ID="c1", **values))


COMPONENT_ONLY = [
    ({"WARC_PREFIX": "MY-CRAWL"}, "WARC_PREFIX 'MY-CRAWL' must be letters"),
    ({"INCREMENTAL_STATE_PREFIX": "../state"}, "INCREMENTAL_STATE_PREFIX must be a relative key prefix"),
    ({"PROGRESS_BAR": "maybe"}, "PROGRESS_BAR must be one of auto, on, off"),
    ({"METRICS_PORT": "70000"}, "METRICS_PORT must be at most 65535"),
    ({"REPORT_HISTORY_TIMEOUT": "-1"}, "REPORT_HISTORY_TIMEOUT must be at least 0"),
]


@pytest.mark.parametrize(
    ("settings", "message"), COMPONENT_ONLY, ids=[next(iter(s)) for s, _ in COMPONENT_ONLY]
)
def test_a_component_stops_the_crawl_on_a_bad_value_even_without_the_validator(
    tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    """A bad value is an error, not "disabled": with the validator left out of ADDONS the component itself
    stops the crawl before its first request (it used to raise NotConfigured, and the crawl went on)."""
    addons = {"crawler.secrets.SecretsMaskAddon": -200, "crawler.render.RenderAddon": 0}
    with FaultSite(articles=1, faults=()) as site:
        proc = _crawl(site, tmp_path, {**settings, "ADDONS": json.dumps(addons)})
        assert proc.returncode == 2, proc.stderr[-3000:]
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and message in errors[0], proc.stderr[-3000:]
        assert "Disabled" not in proc.stderr
        assert site.requests == []


def test_crawl_reports_every_problem_at_once_even_from_the_spiders_own_config(tmp_path: Path) -> None:
    """The spider's config is built before the add-ons; its error still lists every other bad setting."""
    with FaultSite(articles=1, faults=()) as site:
        proc = _crawl(
            site, tmp_path, {"CRAWL_ID": "../x", "CONCURRENT_REQUESTS": "0", "PROGRESS_BAR": "maybe"}
        )
        assert proc.returncode == 2, proc.stderr[-3000:]
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, proc.stderr[-3000:]
        for name in ("CRAWL_ID", "CONCURRENT_REQUESTS", "PROGRESS_BAR"):
            assert name in errors[0], errors[0]
        assert site.requests == []
