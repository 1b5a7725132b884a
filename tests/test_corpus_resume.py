"""A crawl killed with SIGKILL and resumed with the same CRAWL_ID writes each article's dataset row once: the
rows the killed run had handed over in parts are not written again, those only in its journal are, and
articles stored again after the restart (in flight at the kill) add no second row."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from newsroom.faults import FaultSite
from tests.crawling import REPO, run_crawl
from tests.faults_crawl import FAULT_SETTINGS, component_settings, crawl_command

pytestmark = pytest.mark.slow

CRAWL_ID = "corpus-resume"
SETTINGS = {
    **FAULT_SETTINGS,
    **component_settings(),
    "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
    "DOWNLOAD_TIMEOUT": "60",
    # a part every few rows: the kill falls between parts handed over and rows only journaled
    "DATASET_PART_ROWS": "3",
}


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _dataset_keys(archive: Path) -> Counter[str]:
    keys: Counter[str] = Counter()
    for path in archive.glob("dataset/**/*.parquet"):
        keys.update(pq.read_table(path, columns=["record_key"], partitioning=None).column(0).to_pylist())
    return keys


@pytest.mark.parametrize("parts_before_kill", [1, 3], ids=["early", "late"])
def test_sigkill_then_resume_writes_each_row_once(tmp_path: Path, parts_before_kill: int) -> None:
    work = tmp_path / "spool" / "corpus" / CRAWL_ID / "dataset"
    with FaultSite("resume", articles=24, faults=(), article_delay=0.2) as site:
        sources = site.write_sources(tmp_path / "sources.yaml")
        proc = subprocess.Popen(
            crawl_command(sources, tmp_path, CRAWL_ID, SETTINGS),
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            # kill once parts were handed over and further rows are only in the journal
            while len(_lines(work / "parts.jsonl")) < parts_before_kill or not _lines(work / "rows.jsonl"):
                assert proc.poll() is None, "the crawl ended before the kill point"
                time.sleep(0.005)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        journaled = [json.loads(line)["record_key"] for line in _lines(work / "rows.jsonl")]
        before = _dataset_keys(tmp_path / "archive")

        run = run_crawl(sources, tmp_path, crawl_id=CRAWL_ID, settings=SETTINGS, timeout=300)
        assert run.returncode == 0, run.log[-3000:]

    stored = [line["json_key"] for line in run.manifest()]
    assert sorted(stored) == sorted(set(stored)) and stored
    keys = _dataset_keys(tmp_path / "archive")
    # one row per stored article version: none lost, none twice
    assert sorted(keys) == sorted(stored)
    assert max(keys.values()) == 1
    # the killed run had left both kinds behind (else this test would prove nothing)
    assert before and journaled
    assert set(before) | set(journaled) <= set(keys)
    # the near-duplicate index knows each version once too
    segments = list((tmp_path / "archive" / "state" / "neardup").glob("*.jsonl"))
    docs = Counter(
        json.loads(line)["key"]
        for path in segments
        for line in path.read_text().splitlines()
        if line.strip() and json.loads(line)["t"] == "doc"
    )
    assert docs and max(docs.values()) == 1 and sum(docs.values()) == len(stored)
