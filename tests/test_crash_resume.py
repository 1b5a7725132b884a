"""Crash safety: a crawl killed with SIGKILL and started again with the same CRAWL_ID finishes the work, with
every article archived exactly once and nothing archived fetched again; SIGTERM stops a crawl cleanly.

The site (``FaultSite`` with 24 slow articles) logs every request, so the tests can count fetches per URL
across the two runs. The kill comes after N article requests were seen by the server: early, middle, late;
it hits the whole process group, or the main process alone (what the OOM killer or ``kill -9 PID`` do). Either
way no process of the killed crawl (extraction workers, multiprocessing's resource tracker, the browser and its
driver) may be left 10 seconds later: each run's processes carry a marker in their environment, which
``/proc/<pid>/environ`` shows for every process it started, however deep.

What a restart may fetch again, by design (see crawler/recovery.py): the discovery pages (robots.txt, home,
sitemap) and the articles that were *in flight* at the kill: requested by the first run but not yet through
the item pipelines (so not in the manifest working file or the done journal). An article that the first run
finished is never requested again, and no article is requested twice within one run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsroom import Newsroom
from newsroom.faults import FaultSite
from tests.crawling import REPO, CrawlRun, crawl_settings, run_crawl, scrapy_command
from tests.faults_crawl import FAULT_SETTINGS, component_settings, crawl_command, warcio_check

ARTICLES = 24
CRAWL_ID = "resume"
# A long download timeout: on a loaded machine a 3 s timeout (the fault tests' default) let a slow answer be
# retried, which this test would count as the same article fetched twice in one run.
SETTINGS = {
    **FAULT_SETTINGS,
    **component_settings(),
    "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
    "DOWNLOAD_TIMEOUT": "60",
}


def _site() -> FaultSite:
    return FaultSite("resume", articles=ARTICLES, faults=(), article_delay=0.2)


def _article_counts(site: FaultSite) -> Counter[str]:
    return Counter(r.path for r in site.requests if r.path.startswith("/news/"))


MARKER = "CRASH_TEST_RUN"
# How long the processes of a killed crawl may outlive it (the bound).
ORPHAN_GRACE = 10.0


def _start(site: FaultSite, workdir: Path) -> subprocess.Popen[bytes]:
    sources = site.write_sources(workdir / "sources.yaml")
    return _popen(crawl_command(sources, workdir, CRAWL_ID, SETTINGS))


def _popen(cmd: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), MARKER: uuid.uuid4().hex},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, for the group kill
    )


def _marker_of(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    prefix = f"{MARKER}=".encode()
    return next((item[len(prefix) :].decode() for item in environ if item.startswith(prefix)), None)


def _kill(proc: subprocess.Popen[bytes], how: str) -> str:
    """SIGKILL the main process alone or its whole group; return the run's marker."""
    marker = _marker_of(proc.pid)
    assert marker is not None
    if how == "group":
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    return marker


def _assert_nothing_left(marker: str) -> None:
    """No process with the run's marker ORPHAN_GRACE seconds after the kill (polled, then asserted)."""
    deadline = time.monotonic() + ORPHAN_GRACE
    while True:
        left = _marked(marker)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for pid in left:  # do not leave them to the next test either
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"processes of the killed crawl still alive {ORPHAN_GRACE}s later: {left}"


def _marked(marker: str) -> dict[int, str]:
    needle = f"{MARKER}={marker}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile, or a zombie
            continue
    return found


def _wait_for_articles(site: FaultSite, proc: subprocess.Popen[bytes], count: int) -> None:
    while sum(_article_counts(site).values()) < count:
        assert proc.poll() is None, "the crawl ended before the kill point; slow the site down"
        time.sleep(0.01)


def _manifest_lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _assert_warcs_valid_and_manifest_resolves(workdir: Path, run: CrawlRun) -> None:
    assert not list(workdir.rglob("*.open")), list(workdir.rglob("*.open"))
    warcs = {p.name: p for p in workdir.rglob("*.warc.gz")}
    assert warcs
    for path in warcs.values():
        check = warcio_check(path)
        assert check.returncode == 0, (path, check.stdout, check.stderr)
    # Every manifest line (first run's included) points at its capture: file, offset, record id.
    for line in run.manifest():
        ref = line["warc"]
        assert ref["filename"] in warcs, ref
        with warcs[ref["filename"]].open("rb") as fh:
            fh.seek(ref["offset"])
            record = next(iter(ArchiveIterator(fh)))
            assert record.rec_headers.get_header("WARC-Record-ID") == ref["record_id"]


@pytest.mark.parametrize("how", ["group", "main"])
@pytest.mark.parametrize("kill_after", [3, 12, 20], ids=["early", "middle", "late"])
def test_sigkill_then_resume_archives_everything_once(tmp_path: Path, kill_after: int, how: str) -> None:
    with _site() as site:
        proc = _start(site, tmp_path)
        try:
            _wait_for_articles(site, proc, kill_after)
            if how == "main":  # the children the kill must not leave behind are running
                _wait_for_child(proc, "multiprocessing.spawn")
                _wait_for_child(proc, "multiprocessing.resource_tracker")
        finally:
            marker = _kill(proc, how)
        assert proc.returncode == -signal.SIGKILL
        # Its extraction workers and multiprocessing's resource tracker died with it.
        _assert_nothing_left(marker)
        first = _article_counts(site)
        done_first = {
            str(line["url"])
            for line in _manifest_lines(tmp_path / "spool" / "manifests-open" / f"{CRAWL_ID}.jsonl")
        }
        left_open = list((tmp_path / "spool").rglob("*.warc.gz.open"))

        run = run_crawl(
            tmp_path / "sources.yaml", tmp_path, crawl_id=CRAWL_ID, settings=SETTINGS, timeout=300
        )
        assert run.returncode == 0, run.log[-3000:]
        assert run.stats.get("finish_reason") == "finished"
        total = _article_counts(site)
        second = total - first

    # Nothing lost, nothing duplicated: every article in the final manifest exactly once.
    urls = [str(line["url"]) for line in run.manifest()]
    assert sorted(urls) == sorted(site.expected_archived)
    # No article fetched twice within a run; none the first run finished fetched again.
    assert max(first.values()) == 1 and max(second.values(), default=0) <= 1
    refetched = {site.url(p) for p in first if second[p]}
    assert not refetched & done_first, refetched & done_first
    # What was refetched is exactly what was in flight at the kill (requested, not finished).
    in_flight = {site.url(p) for p in first} - done_first
    assert refetched <= in_flight
    assert run.stat("recovery/skipped_done") >= len(done_first)
    # The WARC left open by the kill was repaired and handed over; every WARC passes `warcio check`.
    assert run.stat("recovery/warc_repaired") == len(left_open)
    _assert_warcs_valid_and_manifest_resolves(tmp_path, run)


def test_sigterm_stops_cleanly_then_resume_completes(tmp_path: Path) -> None:
    with _site() as site:
        proc = _start(site, tmp_path)
        try:
            _wait_for_articles(site, proc, 8)
            os.kill(proc.pid, signal.SIGTERM)  # what systemd, docker stop or scrapyd's cancel send
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                _kill(proc, "group")
        assert proc.returncode == 0
        stats = json.loads((tmp_path / f"stats-{CRAWL_ID}.json").read_text(encoding="utf-8"))
        assert stats["finish_reason"] == "shutdown"
        # Files closed and flushed: no .open WARC, the manifest handed over to the store.
        assert not list(tmp_path.rglob("*.open"))
        stopped = CrawlRun(0, "", stats, tmp_path / "archive", CRAWL_ID)
        first_urls = [str(line["url"]) for line in stopped.manifest()]
        assert first_urls and len(first_urls) == len(set(first_urls))
        for path in tmp_path.rglob("*.warc.gz"):
            assert warcio_check(path).returncode == 0, path
        first = _article_counts(site)

        run = run_crawl(
            tmp_path / "sources.yaml", tmp_path, crawl_id=CRAWL_ID, settings=SETTINGS, timeout=300
        )
        assert run.returncode == 0 and run.stats.get("finish_reason") == "finished"
        second = _article_counts(site) - first

    # The stopped run handed its manifest over; the resumed run's lands beside it (the store never
    # overwrites: manifests/resume.jsonl, then resume.1.jsonl). Across the two, every article exactly once.
    manifests = sorted((tmp_path / "archive" / "manifests").glob(f"{CRAWL_ID}*.jsonl"))
    urls = [str(line["url"]) for path in manifests for line in _manifest_lines(path)]
    assert sorted(urls) == sorted(site.expected_archived)
    assert not {site.url(p) for p in second} & set(first_urls)


def test_browser_and_driver_die_with_a_killed_crawl(tmp_path: Path) -> None:
    """A crawl rendering JavaScript-gated pages, killed alone: Chromium and Playwright's driver go too."""
    with Newsroom() as newsroom:
        sources = newsroom.write_sources(tmp_path / "sources.yaml")
        cmd = scrapy_command(
            "crawl",
            "libya",
            spider_args={"sources": str(sources), "sites": "gated"},
            settings=crawl_settings(tmp_path, CRAWL_ID, settings=SETTINGS),
        )
        proc = _popen(cmd)
        marker = _marker_of_soon(proc)
        try:
            _wait_for_child(proc, "--remote-debugging-pipe")  # Chromium, started by Playwright's driver
        finally:
            _kill(proc, "main")
    _assert_nothing_left(marker)


def _wait_for_child(proc: subprocess.Popen[bytes], command: str) -> None:
    """Until the run has a process whose command line contains ``command`` (an extraction worker, say)."""
    marker = _marker_of_soon(proc)
    deadline = time.monotonic() + 120
    while not any(command in line for line in _marked(marker).values()):
        assert proc.poll() is None, f"the crawl ended before a {command} process started"
        assert time.monotonic() < deadline, f"no {command} process started"
        time.sleep(0.02)


def _marker_of_soon(proc: subprocess.Popen[bytes]) -> str:
    for _ in range(100):
        marker = _marker_of(proc.pid)
        if marker:
            return marker
        time.sleep(0.01)
    raise AssertionError("the crawl's environment could not be read")
