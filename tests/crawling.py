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
    merged = {
        **FAST,
        "ARCHIVE_URI": archive_uri or str(archive),
        "ARCHIVE_SPOOL_DIR": str(workdir / "spool"),
        "CRAWL_ID": crawl_id,
        "CRAWL_STATS_FILE": str(stats_file),
        "LOG_FILE": str(log_file),
        **(settings or {}),
    }
    cmd = [sys.executable, "-m", "scrapy", "crawl", "libya", "-a", f"sources={sources}"]
    for key, value in (spider_args or {}).items():
        cmd += ["-a", f"{key}={value}"]
    for key, value in merged.items():
        cmd += ["-s", f"{key}={value}"]
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    log = log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else ""
    log += proc.stdout + proc.stderr
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    return CrawlRun(proc.returncode, log, stats, archive, crawl_id)
