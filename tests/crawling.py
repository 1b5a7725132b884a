"""Runs ``scrapy crawl libya`` in a child process, as a user would, and collects what it left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# Politeness delays off for the local newsroom; everything else stays at the project defaults.
FAST = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "LOG_LEVEL": "INFO",
}


@dataclass
class CrawlRun:
    returncode: int
    log: str
    stats: dict[str, Any]
    archive: Path
    crawl_id: str
    # What the server saw, when the caller records it (the newsroom's request log).
    requests: list[Any] = field(default_factory=list)

    def manifest(self) -> list[dict[str, Any]]:
        path = self.archive / "manifests" / f"{self.crawl_id}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def stat(self, key: str, default: int = 0) -> Any:
        return self.stats.get(key, default)


def scrapy_command(
    command: str,
    *args: str,
    settings: dict[str, str] | None = None,
    spider_args: dict[str, str] | None = None,
) -> list[str]:
    """``python -m scrapy <command> <args> -a k=v ... -s K=V ...``, for ``run_scrapy`` or ``subprocess.Popen``."""
    cmd = [sys.executable, "-m", "scrapy", command, *args]
    for key, value in (spider_args or {}).items():
        cmd += ["-a", f"{key}={value}"]
    for key, value in (settings or {}).items():
        cmd += ["-s", f"{key}={value}"]
    return cmd


def scrapy_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a scrapy command runs in: this one, with the project importable."""
    return {**os.environ, "PYTHONPATH": str(REPO), **(extra or {})}


def run_scrapy(
    cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 300, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a ``scrapy_command`` from the project directory and capture its output."""
    return subprocess.run(
        cmd, cwd=REPO, env=scrapy_env(env), capture_output=True, text=True, timeout=timeout, check=check
    )


def crawl_settings(
    workdir: Path, crawl_id: str, *, archive_uri: str | None = None, settings: dict[str, str] | None = None
) -> dict[str, str]:
    """The ``-s`` settings of a test crawl: politeness off, everything it writes under ``workdir``."""
    return {
        **FAST,
        "ARCHIVE_URI": archive_uri or str(workdir / "archive"),
        "ARCHIVE_SPOOL_DIR": str(workdir / "spool"),
        "CRAWL_ID": crawl_id,
        "CRAWL_STATS_FILE": str(workdir / f"stats-{crawl_id}.json"),
        "LOG_FILE": str(workdir / f"crawl-{crawl_id}.log"),
        **(settings or {}),
    }


def run_crawl(
    sources: Path,
    workdir: Path,
    *,
    crawl_id: str = "test-crawl",
    settings: dict[str, str] | None = None,
    spider_args: dict[str, str] | None = None,
    archive_uri: str | None = None,
    timeout: float = 600,
    env: dict[str, str] | None = None,
) -> CrawlRun:
    workdir.mkdir(parents=True, exist_ok=True)
    archive = workdir / "archive"
    stats_file = workdir / f"stats-{crawl_id}.json"
    log_file = workdir / f"crawl-{crawl_id}.log"
    merged = crawl_settings(workdir, crawl_id, archive_uri=archive_uri, settings=settings)
    cmd = scrapy_command(
        "crawl", "libya", spider_args={"sources": str(sources), **(spider_args or {})}, settings=merged
    )
    proc = run_scrapy(cmd, env=env, timeout=timeout)
    log = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
    log += proc.stdout + proc.stderr
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    return CrawlRun(proc.returncode, log, stats, archive, crawl_id)
