"""The data leaves while the crawl runs: WARC files rotate by age and by size and reach S3 (SeaweedFS) with
their WACZ packages before the crawl ends; an S3 outage in the middle loses nothing; a crawl killed with
SIGKILL after some rotations and resumed stores every file once, in valid, replayable packages.

The site holds chosen articles until the test releases them, so the test decides when the crawl may end:
what is in S3 while an article is still held was uploaded while the crawl ran (no timing involved). Each
wait below polls for a state and fails with a message when it never comes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archive.collection import build_collection
from archive.wacz_verify import verify_wacz
from devtools.seaweed import SeaweedS3
from newsroom.faults import FaultSite
from tests.crawling import REPO, CrawlRun, run_crawl, scrapy_env
from tests.faults_crawl import FAULT_SETTINGS, component_settings, crawl_command

PREFIX = "libya"
WAIT = 240.0  # the longest a wait for a state may take on a loaded machine before the test fails


class HeldSite(FaultSite):
    """A ``FaultSite`` whose ``held`` articles answer only once the test sets their event; ``filler`` adds
    that many random bytes (as hex, so gzip halves them at best) to every article page."""

    def __init__(self, name: str, *, held: tuple[int, ...], filler: int = 0, **kwargs: Any) -> None:
        super().__init__(name, faults=(), **kwargs)
        self.release = {self.normal_paths[i]: threading.Event() for i in held}
        if filler:
            for path in self.normal_paths:
                page = self._pages[path]
                self._pages[path] = page.replace(
                    b"</body>", f"<!-- {os.urandom(filler).hex()} --></body>".encode()
                )

    def _answer_article(self, h: Any, path: str) -> None:
        event = self.release.get(path)
        if event is not None:
            event.wait(WAIT * 2)
        super()._answer_article(h, path)

    def release_all(self) -> None:
        for event in self.release.values():
            event.set()


def _s3_settings(seaweed: SeaweedS3, bucket: str) -> dict[str, str]:
    return {
        **FAULT_SETTINGS,
        "ARCHIVE_URI": seaweed.uri(bucket, PREFIX),
        "AWS_ENDPOINT_URL": seaweed.endpoint_url,
        "AWS_REGION_NAME": seaweed.region,
        "S3_ADDRESSING_STYLE": "path",
        "ARCHIVE_DRAIN_TIMEOUT": "120",
        "DOWNLOAD_TIMEOUT": str(int(WAIT * 3)),  # a held article is never timed out and retried
        "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
        "CORPUS_ENABLED": "False",
    }


def _env(seaweed: SeaweedS3) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": seaweed.access_key, "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}


def _start(
    site: FaultSite, workdir: Path, crawl_id: str, settings: dict[str, str], env: dict[str, str]
) -> Any:
    workdir.mkdir(parents=True, exist_ok=True)
    sources = site.write_sources(workdir / "sources.yaml")
    return subprocess.Popen(
        crawl_command(sources, workdir, crawl_id, settings),
        cwd=REPO,
        env=scrapy_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_for(what: str, proc: Any, condition: Callable[[], bool]) -> None:
    """Poll ``condition`` while the crawl runs (it cannot end: an article is held)."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert proc.poll() is None, f"the crawl ended while an article was held, before {what}"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.2)


def _finish(proc: Any, site: HeldSite, workdir: Path, crawl_id: str) -> CrawlRun:
    site.release_all()
    try:
        returncode = proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    log = (workdir / f"crawl-{crawl_id}.log").read_text(encoding="utf-8", errors="replace")
    stats = json.loads((workdir / f"stats-{crawl_id}.json").read_text(encoding="utf-8"))
    return CrawlRun(returncode, log, stats, workdir / "archive", crawl_id)


class Bucket:
    """What the crawl put in the bucket, read with the test's own S3 client."""

    def __init__(self, seaweed: SeaweedS3, bucket: str, crawl_id: str) -> None:
        self.seaweed, self.bucket, self.crawl_id = seaweed, bucket, crawl_id

    def keys(self) -> list[str]:
        return [key.removeprefix(f"{PREFIX}/") for key in self.seaweed.keys(self.bucket, f"{PREFIX}/")]

    def warcs(self) -> list[str]:
        return [k for k in self.keys() if k.startswith(f"warc/{self.crawl_id}/") and k.endswith(".warc.gz")]

    def packages(self) -> list[str]:
        return [k for k in self.keys() if k.startswith(f"wacz/{self.crawl_id}/") and k.endswith(".wacz")]

    def download(self, target: Path) -> Path:
        client = self.seaweed.client()
        for key in self.keys():
            path = target / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(client.get_object(Bucket=self.bucket, Key=f"{PREFIX}/{key}")["Body"].read())
        return target


def _spool_keys(spool: Path) -> list[str]:
    keys = []
    for meta in (spool / "objects").glob("*.json"):
        try:
            keys.append(json.loads(meta.read_text(encoding="utf-8"))["key"])
        except (OSError, ValueError, KeyError):
            continue  # being written or removed right now
    return keys


def _check_store(store: Path, crawl_id: str, run: CrawlRun) -> dict[str, list[str]]:
    """Every file once; every WARC in exactly one valid, signed package; every article a page of one.
    Returns the pages (URLs) of each package."""
    keys = [p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()]
    assert not [k for k in keys if ".1." in k.rsplit("/", 1)[-1]], (
        "an object was stored twice under two names"
    )
    warcs = sorted(
        k.rsplit("/", 1)[-1] for k in keys if k.startswith(f"warc/{crawl_id}/") and k.endswith(".gz")
    )
    for name in warcs:  # each WARC file has its index beside it
        assert f"warc/{crawl_id}/{name.removesuffix('.warc.gz')}.cdxj" in keys, name
    packages = sorted(store.glob(f"wacz/{crawl_id}/*.wacz"))
    held: Counter[str] = Counter()
    pages: dict[str, list[str]] = {}
    for package in packages:
        verification = verify_wacz(package)
        assert verification.ok, (package.name, verification.problems)
        with zipfile.ZipFile(package) as zf:
            members = [n.removeprefix("archive/") for n in zf.namelist() if n.startswith("archive/")]
            held.update(members)
            text = zf.read("pages/pages.jsonl").decode() if "pages/pages.jsonl" in zf.namelist() else ""
        pages[package.name] = [json.loads(line)["url"] for line in text.splitlines()[1:]]
        # Named after the one WARC file it holds.
        assert members == [package.name.removesuffix(".wacz") + ".warc.gz"]
    assert sorted(held) == warcs and set(held.values()) == {1}, "each WARC file in exactly one package"
    manifest = [
        json.loads(line) for line in (store / "manifests" / f"{crawl_id}.jsonl").read_text().splitlines()
    ]
    urls = Counter(url for listed in pages.values() for url in listed)
    for line in manifest:
        assert line["warc"]["filename"] in warcs, line["url"]
        assert urls[line["warc"]["target_uri"]] >= 1, f"{line['url']} is a page of no package"
    return pages


def _replay_every_article(store: Path, crawl_id: str, pywb_in: Callable[[Path, str], Any]) -> None:
    collection = build_collection(store)
    description = json.loads(collection.description.read_text(encoding="utf-8"))
    listed = [r for r in description["resources"] if r["crawlId"] == crawl_id]
    assert len(listed) == len(list(store.glob(f"wacz/{crawl_id}/*.wacz"))) > 1
    assert all((collection.directory / r["path"]).is_file() for r in listed)
    server = pywb_in(collection.directory, collection.name)
    manifest = [
        json.loads(line) for line in (store / "manifests" / f"{crawl_id}.jsonl").read_text().splitlines()
    ]
    for line in manifest:
        ts = "".join(ch for ch in line["warc"]["warc_date"] if ch.isdigit())[:14]
        with urllib.request.urlopen(
            server.url(ts, "id_", line["warc"]["target_uri"]), timeout=60
        ) as response:
            assert response.status == 200, line["url"]
            assert b"<article>" in response.read()


@pytest.mark.timeout(900)
@pytest.mark.parametrize("by", ["age", "size"])
def test_warcs_rotate_and_reach_s3_while_the_crawl_runs(
    by: str, seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path
) -> None:
    crawl_id = f"rotate-{by}"
    if by == "age":
        # Two held articles: the first file closes by age while both wait, the second once the first is
        # answered; neither needs more than a few records.
        site = HeldSite("rotate", articles=12, held=(0, 1))
        site.start()
        rotation = {"WARC_MAX_AGE": "1", "WARC_MAX_SIZE": str(10**9)}
    else:
        # ~0.6 MB of hex per article (~0.3 MB gzipped): about three articles fill each 1 MB file.
        site = HeldSite("rotate", articles=16, held=(0,), filler=300_000)
        site.start()
        rotation = {"WARC_MAX_AGE": "0", "WARC_MAX_SIZE": "1000001"}
    bucket = Bucket(seaweed, s3_bucket, crawl_id)
    proc = _start(site, tmp_path, crawl_id, {**_s3_settings(seaweed, s3_bucket), **rotation}, _env(seaweed))
    try:
        _wait_for(
            "a WARC file and its package in S3", proc, lambda: bool(bucket.warcs() and bucket.packages())
        )
        if by == "age":
            site.release[site.normal_paths[0]].set()
            _wait_for("a second WARC file in S3", proc, lambda: len(bucket.warcs()) >= 2)
        else:
            _wait_for("three WARC files in S3", proc, lambda: len(bucket.warcs()) >= 3)
        during = set(bucket.warcs())
        assert proc.poll() is None  # still crawling: an article is held
    finally:
        run = _finish(proc, site, tmp_path, crawl_id)
        site.stop()
    assert run.returncode == 0, run.log[-3000:]
    assert run.stat("warc/files") > len(during) >= 2
    store = bucket.download(tmp_path / "store")
    pages = _check_store(store, crawl_id, run)
    # The report's stats are written after the last package (the crawl's own stats file may be earlier).
    final = json.loads((store / "reports" / crawl_id / "stats.json").read_text(encoding="utf-8"))
    assert len(pages) == len(bucket.warcs()) == final["warc/files"] == final["wacz/packages"]
    # Uploaded while the crawl ran, and never again: the files seen then are the same objects now.
    assert during <= set(bucket.warcs())
    assert final["storage/backlog_peak_bytes"] > 0
    assert "upload backlog at the end" in (store / "reports" / crawl_id / "report.md").read_text(
        encoding="utf-8"
    )


@pytest.mark.timeout(900)
def test_s3_down_during_the_crawl_loses_nothing(seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path) -> None:
    crawl_id = "outage"
    site = HeldSite("outage", articles=12, held=(0, 1))
    site.start()
    bucket = Bucket(seaweed, s3_bucket, crawl_id)
    settings = {**_s3_settings(seaweed, s3_bucket), "WARC_MAX_AGE": "1"}
    proc = _start(site, tmp_path, crawl_id, settings, _env(seaweed))
    spool = tmp_path / "spool"
    try:
        _wait_for("a WARC file in S3", proc, lambda: bool(bucket.warcs()))
        first = set(bucket.warcs())
        seaweed.stop()
        try:
            site.release[site.normal_paths[0]].set()
            # The next file closes by age during the outage: it waits in the spool.
            _wait_for(
                "a WARC file waiting in the spool",
                proc,
                lambda: (
                    any(
                        k.startswith(f"warc/{crawl_id}/") and k.endswith(".warc.gz")
                        for k in _spool_keys(spool)
                    )
                    and any(k.startswith(f"wacz/{crawl_id}/") for k in _spool_keys(spool))
                ),
            )
        finally:
            seaweed.start()
        _wait_for("the outage's WARC file in S3", proc, lambda: len(set(bucket.warcs()) - first) >= 1)
        assert proc.poll() is None
    finally:
        run = _finish(proc, site, tmp_path, crawl_id)
        site.stop()
    assert run.returncode == 0, run.log[-3000:]
    assert not list((spool / "objects").glob("*.data")), "everything reached S3"
    assert (
        run.stat("storage/upload_failed/unreachable", 0) + run.stat("storage/upload_failed/server_error", 0)
        > 0
    )
    store = bucket.download(tmp_path / "store")
    _check_store(store, crawl_id, run)
    assert len(bucket.warcs()) == run.stat("warc/files")


@pytest.mark.timeout(1200)
def test_killed_after_rotations_and_resumed_stores_each_file_once(
    seaweed: SeaweedS3, s3_bucket: str, tmp_path: Path, pywb_in: Callable[[Path, str], Any]
) -> None:
    crawl_id = "killed"
    site = HeldSite("killed", articles=12, held=(0,))
    site.start()
    bucket = Bucket(seaweed, s3_bucket, crawl_id)
    settings = {**_s3_settings(seaweed, s3_bucket), **component_settings(), "WARC_MAX_AGE": "1"}
    try:
        proc = _start(site, tmp_path, crawl_id, settings, _env(seaweed))
        try:
            _wait_for(
                "a WARC file and its package in S3", proc, lambda: bool(bucket.warcs() and bucket.packages())
            )
        finally:
            os.kill(proc.pid, signal.SIGKILL)  # the main process alone, as the OOM killer does
            proc.wait(timeout=60)
        site.release_all()
        run = run_crawl(
            site.write_sources(tmp_path / "sources.yaml"),
            tmp_path,
            crawl_id=crawl_id,
            settings=settings,
            env=_env(seaweed),
        )
    finally:
        site.release_all()
        site.stop()
    assert run.returncode == 0, run.log[-3000:]
    assert not list((tmp_path / "spool" / "objects").glob("*.data"))
    store = bucket.download(tmp_path / "store")
    _check_store(store, crawl_id, run)
    manifest = (store / "manifests" / f"{crawl_id}.jsonl").read_text().splitlines()
    assert len(manifest) == len(site.normal_paths)
    _replay_every_article(store, crawl_id, pywb_in)
