"""One crawl, two worker processes, one Redis (Debian's redis-server on 127.0.0.1): scrapy-redis mode."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from archive.store import open_store
from corpus.query import cluster_roots
from crawler import settings as project
from crawler.distributed.config import seed_messages
from crawler.sources import load_sources
from crawler.urls import canonicalize_url
from tests.crawling import FAST, REPO, run_scrapy, scrapy_command, scrapy_env
from tests.slot_log import DEFAULT_POLITENESS, MIN_SPACING, assert_slot_bounds, paced_sites

BIN = Path(sys.executable).parent
BROWSER_HEADER = "sec-fetch-mode"


def _worker(
    sources: Path,
    archive: Path,
    workdir: Path,
    redis_url: str,
    crawl_id: str,
    worker: str,
    extra: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    settings = {
        **FAST,
        "ARCHIVE_URI": str(archive),
        "ARCHIVE_SPOOL_DIR": str(workdir / f"spool-{worker}"),
        "CRAWL_ID": crawl_id,
        "CRAWL_REDIS_URL": redis_url,
        "CRAWL_WORKER_ID": worker,
        "CRAWL_REDIS_HEARTBEAT": "1",
        "CRAWL_REDIS_IDLE_CLOSE": "6",
        "CRAWL_STATS_FILE": str(workdir / f"stats-{worker}.json"),
        "LOG_FILE": str(workdir / f"{worker}.log"),
        **(extra or {}),
    }
    cmd = scrapy_command("crawl", "libya", spider_args={"sources": str(sources)}, settings=settings)
    return subprocess.Popen(cmd, cwd=REPO, env=scrapy_env())


def _seed(sources: Path, redis_url: str, crawl_id: str) -> None:
    settings = {"CRAWL_REDIS_URL": redis_url, "CRAWL_ID": crawl_id}
    run_scrapy(scrapy_command("seed", spider_args={"sources": str(sources)}, settings=settings), check=True)


def _wait_for_workers(redis_url: str, crawl_id: str, names: list[str], procs: list[Any]) -> None:
    """Wait until every worker has opened its spider (its heartbeat key is in Redis)."""
    server = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if all(server.exists(f"libya:{crawl_id}:worker:{name}") for name in names):
            return
        assert all(proc.poll() is None for proc in procs), "a worker exited before the crawl was seeded"
        time.sleep(0.1)
    raise AssertionError(f"workers {names} did not start within 180 s")


def _run_two_workers(
    sources: Path, archive: Path, workdir: Path, redis_url: str, crawl_id: str, extra: dict[str, str]
) -> None:
    """Start w1 and w2, seed the crawl once both are up, wait for both to finish, and check that each
    exited cleanly having fetched part of the crawl."""
    workers = [_worker(sources, archive, workdir, redis_url, crawl_id, name, extra) for name in ("w1", "w2")]
    try:
        _wait_for_workers(redis_url, crawl_id, ["w1", "w2"], workers)
        _seed(sources, redis_url, crawl_id)
        codes = [proc.wait(timeout=600) for proc in workers]
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
    assert codes == [0, 0], [(workdir / f"w{i}.log").read_text()[-2000:] for i in (1, 2)]
    for name in ("w1", "w2"):
        stats = json.loads((workdir / f"stats-{name}.json").read_text())
        assert stats.get("downloader/response_count", 0) > 0, name


def _manifest_lines(archive: Path) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for path in sorted((archive / "manifests").glob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines


def _relevant(newsroom: Any) -> set[str]:
    return {
        canonicalize_url(a.canonical_url)
        for a in newsroom.articles
        if a.relevant and not a.id.startswith("pub-")
    }


def _plain_requests(newsroom: Any) -> Counter[tuple[str, str]]:
    return Counter(
        (r.site, r.path)
        for r in newsroom.requests
        if BROWSER_HEADER not in {k.lower() for k in r.headers} and r.path != "/robots.txt"
    )


@pytest.mark.timeout(900)
def test_two_workers_share_one_crawl(newsroom: Any, redis_url: str, tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    newsroom.write_sources(sources)
    archive = tmp_path / "archive"
    crawl_id = "dist-two"
    newsroom.reset_requests()
    # Both workers are up before the crawl is seeded, and each host is paced (one request at a time,
    # 0.2 s apart per worker), so the crawl outlasts the few seconds a worker takes to notice new work
    # in the shared queue: on a slow machine one worker could otherwise finish it all alone.
    paced = {"CONCURRENT_REQUESTS_PER_DOMAIN": "1", "DOWNLOAD_DELAY": "0.2", "CRAWL_REDIS_IDLE_CLOSE": "15"}
    _run_two_workers(sources, archive, tmp_path, redis_url, crawl_id, paced)  # both do part of the work

    # Every relevant article archived and extracted once, across both workers.
    lines = _manifest_lines(archive)
    counts = Counter(line["canonical_url"] for line in lines)
    assert not [url for url, n in counts.items() if n > 1]
    assert _relevant(newsroom) <= set(counts)

    # No URL fetched twice (robots.txt is read by each worker's own robots middleware, by design).
    twice = {key: n for key, n in _plain_requests(newsroom).items() if n > 1}
    assert not twice, twice

    # Each worker wrote its own, valid WARC files.
    warcs = sorted((archive / "warc").rglob("*.warc.gz"))
    names = {p.name for p in warcs}
    assert any("-w1-" in n for n in names) and any("-w2-" in n for n in names), names
    assert len(names) == len(warcs)
    check = subprocess.run([str(BIN / "warcio"), "check", *map(str, warcs)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    # The revisit digest index is shared in Redis.
    assert redis.Redis.from_url(redis_url).hlen("libya:digests") > 0

    # So is the near-duplicate index: the copies of an agency story are one cluster, whichever worker
    # stored each, and some story had copies on both workers.
    story = {canonicalize_url(a.canonical_url): a.story for a in newsroom.articles}
    roots = cluster_roots(open_store(str(archive)))
    clusters: dict[str, set[str]] = {}
    workers_of: dict[str, set[str]] = {}
    for manifest in (archive / "manifests").glob("*.jsonl"):  # one per worker
        for line in manifest.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            gold = story[record["canonical_url"]]
            # as written, resolved through the merges (an earlier-published copy met later names the story)
            clusters.setdefault(gold, set()).add(roots.get(record["cluster"], record["cluster"]))
            workers_of.setdefault(gold, set()).add(manifest.name)
    syndicated = [gold for gold in clusters if gold.startswith("agency-")]
    assert len(syndicated) == 11 and all(len(clusters[gold]) == 1 for gold in syndicated)
    assert any(len(workers_of[gold]) > 1 for gold in syndicated)


@pytest.mark.timeout(900)
def test_killed_worker_loses_nothing(newsroom: Any, redis_url: str, tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    newsroom.write_sources(sources)
    archive = tmp_path / "archive"
    crawl_id = "dist-kill"
    newsroom.reset_requests()
    _seed(sources, redis_url, crawl_id)
    doomed = _worker(sources, archive, tmp_path, redis_url, crawl_id, "w1")
    survivor = _worker(sources, archive, tmp_path, redis_url, crawl_id, "w2")
    # Kill w1 once the crawl is well under way and w1 holds requests in flight.
    server = redis.Redis.from_url(redis_url)
    inflight = f"libya:{crawl_id}:inflight:w1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and doomed.poll() is None:
        if len(newsroom.requests) >= 60 and server.hlen(inflight) >= 2:
            break
        time.sleep(0.01)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=30)
    try:
        code = survivor.wait(timeout=600)
    finally:
        if survivor.poll() is None:
            survivor.kill()
    assert code == 0, (tmp_path / "w2.log").read_text()[-3000:]

    # The killed worker's spool still holds what it had not uploaded: a restart (or `scrapy upload`)
    # drains it. Nothing it had archived is lost.
    settings = {"ARCHIVE_URI": str(archive), "ARCHIVE_SPOOL_DIR": str(tmp_path / "spool-w1")}
    upload = run_scrapy(scrapy_command("upload", settings=settings))
    assert upload.returncode == 0, upload.stdout + upload.stderr

    stored = {line["canonical_url"] for line in _manifest_lines(archive)}
    texts = list((archive / "text").rglob("*.json"))
    stored |= {json.loads(p.read_text(encoding="utf-8"))["canonical_url"] for p in texts}
    missing = _relevant(newsroom) - stored
    assert not missing, missing
    w2 = (tmp_path / "w2.log").read_text()
    stats = json.loads((tmp_path / "stats-w2.json").read_text())
    # Requests w1 had in flight were requeued by w2 (fetched again: documented in crawler/distributed/__init__.py).
    assert stats.get("redis/requeued", 0) >= 1, stats
    assert "Traceback" not in w2


def _coordinator() -> tuple[Any, list[str]]:
    """A ``RedisCoordinator`` whose Redis only records the in-flight fields taken out (HDEL)."""
    from types import SimpleNamespace

    from crawler.distributed.config import RedisConfig
    from crawler.distributed.coordinator import RedisCoordinator

    config = RedisConfig(url="redis://127.0.0.1:1/0", crawl_id="c", worker_id="w", idle_close=1, heartbeat=1)
    coordinator = RedisCoordinator(SimpleNamespace(), config)  # type: ignore[arg-type]
    taken_out: list[str] = []
    coordinator.server = SimpleNamespace(hdel=lambda key, *fields: taken_out.extend(fields))
    return coordinator, taken_out


def test_a_page_is_done_once_the_requests_it_yielded_are_queued() -> None:
    """Scrapy queues a callback's requests after the spider middlewares' output has ended: the page stays
    in flight until the scheduler has taken the last of them (else a kill in between lost them)."""
    from scrapy import Request
    from scrapy.http import HtmlResponse

    coordinator, taken_out = _coordinator()
    sitemap = Request("http://site.test/sitemap.xml")
    links = [Request(f"http://site.test/{n}") for n in range(3)]
    output = coordinator.output_started(sitemap)
    for link in links:
        coordinator.output_item(output, link)
    coordinator.output_ended(output)
    coordinator.scheduled(links[0])
    coordinator.scheduled(links[2])
    assert taken_out == []
    coordinator.scheduled(links[1])
    assert taken_out == ["GET http://site.test/sitemap.xml"]
    # A page that yielded nothing is done when its output ends; one whose callback raised before any output,
    # at once.
    empty = Request("http://site.test/empty")
    coordinator.output_ended(coordinator.output_started(empty))
    failed = Request("http://site.test/failed")
    coordinator.output_failed(HtmlResponse(failed.url, request=failed))
    assert taken_out[1:] == ["GET http://site.test/empty", "GET http://site.test/failed"]


def test_an_article_page_is_done_once_its_article_is_stored_and_its_requisites_queued() -> None:
    from scrapy import Request
    from scrapy.http import HtmlResponse

    from crawler.items import ArticlePage

    coordinator, taken_out = _coordinator()
    page = Request("http://site.test/article")
    response = HtmlResponse(page.url, request=page)
    article = ArticlePage(
        url=page.url, response_url=page.url, site="s", status=200, headers={}, body=b"", fetched_at=""
    )
    requisite = Request("http://site.test/style.css")
    output = coordinator.output_started(page)
    coordinator.output_item(output, article)
    coordinator.output_item(output, requisite)
    coordinator.item_done(article, response=response)  # stored before its page's output has ended
    coordinator.output_ended(output)
    assert taken_out == []
    coordinator.scheduled(requisite)
    assert taken_out == ["GET http://site.test/article"]


def _article_fingerprints(newsroom: Any) -> set[bytes]:
    """The duplicate filter's fingerprints of the relevant articles' requests (scrapy-redis computes them
    from the method and the canonicalised URL)."""
    from scrapy import Request
    from scrapy_redis.dupefilter import RFPDupeFilter

    dupefilter = RFPDupeFilter(server=None, key="unused")
    return {
        dupefilter.request_fingerprint(Request(a.url)).encode()
        for a in newsroom.articles
        if a.relevant and not a.id.startswith("pub-")
    }


def _marked_seen(fingerprints: set[bytes]) -> Any:
    """The reply to the command that first marks a relevant article seen in the duplicate filter."""
    return lambda sent, answer: answer.startswith(b":1\r\n") and any(fp in sent for fp in fingerprints)


def _taken_from_queue(queue_key: bytes, urls: set[bytes]) -> Any:
    """The reply that hands the worker a relevant article's request from the shared queue."""
    return lambda sent, answer: queue_key in sent and any(url in answer for url in urls)


def _page_done(inflight_key: bytes, fields: set[bytes]) -> Any:
    """The reply to the command that takes one of the given pages (a sitemap or feed) out of the worker's
    in-flight hash: the page is done, and what it listed must be queued by then."""
    return lambda sent, answer: (
        b"HDEL" in sent
        and inflight_key in sent
        and answer.startswith(b":1\r\n")
        and any(field in sent for field in fields)
    )


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _seed_taken(seeds_key: bytes) -> Any:
    """The reply that hands the worker one of the crawl's seeds."""
    return lambda sent, answer: (
        seeds_key in sent and answer.startswith(b"$") and not answer.startswith(b"$-1")
    )


@pytest.mark.parametrize("moment", ["seed-taken", "marked-seen", "taken-from-queue", "sitemap-or-feed-done"])
@pytest.mark.timeout(900)
def test_worker_killed_between_two_redis_steps_loses_nothing(
    moment: str, newsroom: Any, redis_url: str, tmp_path: Path
) -> None:
    """A worker killed right after Redis has handed it a seed, marked an article seen, handed it the
    article's request or taken a sitemap or feed out of its in-flight hash, and before the worker hears the
    answer: the survivor still fetches and stores every relevant article. (Each of the first three steps took
    two round trips; a kill between them lost what it moved. A sitemap or feed was marked done before the
    requests it yielded were queued: Scrapy hands a callback's output to the scheduler from tasks that run
    after the output is exhausted, so a kill then lost the articles it listed.)"""
    from w3lib.url import safe_url_string

    from tests.redis_tap import RedisTap

    sources = tmp_path / "sources.yaml"
    newsroom.write_sources(sources)
    archive = tmp_path / "archive"
    crawl_id = f"dist-tap-{moment}"
    newsroom.reset_requests()
    urls = {
        safe_url_string(a.url).encode()
        for a in newsroom.articles
        if a.relevant and not a.id.startswith("pub-")
    }
    seeds = [json.loads(m) for m in seed_messages(load_sources(sources), obey_robots=True)]
    if moment == "seed-taken":
        armed = _seed_taken(f"libya:{crawl_id}:seeds".encode())  # seeds are taken before any page
    elif moment == "sitemap-or-feed-done":
        # The sitemaps and feeds of the site where some relevant articles are listed there and nowhere else
        # (newsroom.catalog.assign_discovery): a sitemap index lists the sitemaps, they list the articles.
        exclusive = {a.site for a in newsroom.articles if a.relevant and len(a.discovery) == 1}
        pages = [s["url"] for s in seeds if s["site"] in exclusive and s["kind"] in ("sitemap", "feed")]
        assert pages
        fields = {b"GET " + safe_url_string(url).encode() + b"\r\n" for url in pages}
        armed = _page_done(f"libya:{crawl_id}:inflight:w1".encode(), fields)
    else:
        queue_key = f"libya:{crawl_id}:requests".encode()
        fingerprints = _article_fingerprints(newsroom)
        trigger = (
            _marked_seen(fingerprints) if moment == "marked-seen" else _taken_from_queue(queue_key, urls)
        )
        # Armed once the crawl is under way (the seeds and some listings fetched): the kill lands mid-crawl.
        armed = lambda sent, answer: len(newsroom.requests) >= 20 and trigger(sent, answer)  # noqa: E731
    tap = RedisTap(int(redis_url.rsplit(":", 1)[1].split("/")[0]), armed)
    try:
        _seed(sources, redis_url, crawl_id)
        doomed = _worker(sources, archive, tmp_path, tap.url, crawl_id, "w1")
        tap.victim = doomed.pid
        # Else the survivor, starting as fast, may take every seed (or fetch every sitemap) itself.
        if moment in ("seed-taken", "sitemap-or-feed-done"):
            tap.fired.wait(timeout=180)
        survivor = _worker(sources, archive, tmp_path, redis_url, crawl_id, "w2")
        try:
            code = survivor.wait(timeout=600)
            doomed.wait(timeout=30)
        finally:
            for proc in (doomed, survivor):
                if proc.poll() is None:
                    proc.kill()
    finally:
        tap.close()
    assert tap.fired.is_set(), "the worker never reached the chosen moment"
    assert doomed.returncode == -signal.SIGKILL
    assert code == 0, (tmp_path / "w2.log").read_text()[-3000:]
    upload = run_scrapy(
        scrapy_command(
            "upload", settings={"ARCHIVE_URI": str(archive), "ARCHIVE_SPOOL_DIR": str(tmp_path / "spool-w1")}
        )
    )
    assert upload.returncode == 0, upload.stdout + upload.stderr
    stored = {line["canonical_url"] for line in _manifest_lines(archive)}
    stored |= {
        json.loads(p.read_text(encoding="utf-8"))["canonical_url"] for p in (archive / "text").rglob("*.json")
    }
    missing = _relevant(newsroom) - stored
    assert not missing, missing
    # Every seed was fetched too (a site's home page, sitemaps and feeds each lead to its articles).
    fetched = {(r.site, r.path) for r in newsroom.requests}
    unfetched = [s["url"] for s in seeds if (s["site"], _path(s["url"])) not in fetched]
    assert not unfetched, unfetched


@pytest.mark.timeout(900)
def test_two_workers_keep_the_per_slot_bounds(redis_url: str, tmp_path: Path) -> None:
    """With the project's politeness, two workers together keep one worker's per-slot spacing and
    concurrency: the host gate holds each slot's delay and concurrency in Redis for the whole cluster."""
    crawl_id = "dist-polite"
    archive = tmp_path / "archive"
    # Answers of 1 s make AutoThrottle space each site's requests by at least 0.5 s (latency / target
    # concurrency 2), so there is more work than one worker can take before the other asks for some.
    with paced_sites(articles=20, answer=1.0) as sites:
        sources = sites[0].write_sources(tmp_path / "sources.yaml", *sites[1:])
        # Per-slot politeness at the project's defaults; each worker takes at most 8 requests at a time
        # (CONCURRENT_REQUESTS, not a per-slot limit), so neither can take the whole crawl alone.
        polite = {**DEFAULT_POLITENESS, "CONCURRENT_REQUESTS": "8", "CRAWL_REDIS_IDLE_CLOSE": "8"}
        _run_two_workers(sources, archive, tmp_path, redis_url, crawl_id, polite)
    stored = Counter(line["url"] for line in _manifest_lines(archive))
    for site in sites:
        assert sorted(u for u in stored if u.startswith(site.base_url)) == sorted(site.expected_archived)
        # Each worker reads robots.txt once (in the site's slot, like its pages), if it got work there.
        assert 1 <= site.count("/robots.txt") <= 2
        assert_slot_bounds(site, spacing=MIN_SPACING, concurrency=project.CONCURRENT_REQUESTS_PER_DOMAIN)
    assert max(stored.values()) == 1


@pytest.mark.timeout(600)
def test_worker_started_before_the_seed_waits_for_it(redis_url: str, tmp_path: Path) -> None:
    """The idle countdown (CRAWL_REDIS_IDLE_CLOSE) starts once the crawl is seeded: a worker started first
    waits however long `scrapy seed` comes after it, then does the crawl."""
    crawl_id = "dist-early"
    archive = tmp_path / "archive"
    with paced_sites(count=1, articles=3, answer=0.0) as sites:
        sources = sites[0].write_sources(tmp_path / "sources.yaml")
        worker = _worker(
            sources, archive, tmp_path, redis_url, crawl_id, "w1", {"CRAWL_REDIS_IDLE_CLOSE": "1"}
        )
        try:
            _wait_for_workers(redis_url, crawl_id, ["w1"], [worker])
            log = tmp_path / "w1.log"
            deadline = time.monotonic() + 120
            while "waiting for `scrapy seed`" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            # Two of the engine's idle rounds (5 s apart) beyond the 1 s countdown: a worker that counted
            # from its start would have stopped by now.
            time.sleep(11)
            assert worker.poll() is None, log.read_text()[-2000:]
            _seed(sources, redis_url, crawl_id)
            code = worker.wait(timeout=300)
        finally:
            if worker.poll() is None:
                worker.kill()
        assert code == 0
        stored = {line["url"] for line in _manifest_lines(archive)}
        assert sorted(stored) == sorted(sites[0].expected_archived)
