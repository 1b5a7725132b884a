"""``make bench``: how fast the whole pipeline runs on this machine, against the bound its stages set.

Starts ``newsroom.bigsite`` (``--articles`` articles over four sites, 5 % JavaScript-gated) in its own
process and measures, in one run:

- server alone: an aiohttp fetch loop over every article (the site server's CPU a page);
- every per-page stage alone on the same pages (``bench/stages.py``: gate detection, requisite discovery,
  the hand-over to the extraction workers and back, extraction, relevance, URL canonicalisation, WARC
  writing, CDXJ/WACZ, store writes to a file store and, in the S3 part, the S3 client and the S3 server,
  state and manifest), the research corpus's stages over what the full crawl stored
  (``bench/corpus_stages.py``), and rendering per gated page (``bench/render.py`` when present, else an
  all-gated crawl);
- extraction capacity: ``extraction.extract`` over the same HTML on all cores;
- bare fetch: ``scrapy crawl libya`` with no pipelines, extensions, add-ons or project middlewares
  (the Scrapy engine's CPU a response);
- full pipeline: ``scrapy crawl libya`` with everything, file store and SeaweedFS S3, and (unless
  ``--skip-ablations``) with requisites off and with the research corpus off (on, off, off, on);
- the peer: a Scrapy ``SitemapSpider`` + trafilatura + keyword filter + scrapy-webarchive WACZ export in
  its own venv (``bench/peer/``), on the same sites;
- the full pipeline at 4x the articles, for memory growth.

The **stage bound** is cores / (sum of the stages' CPU-ms a crawled article, each scaled by how often the
full crawl did it: responses, WARC records, stored articles, the gated share for rendering); what the full
crawl used beyond that sum is printed as overhead. Each full-pipeline row is divided by its bound, and the
cores' busy share while it crawled (spider open to close) is printed beside it: the CPU its tree and the
servers used, and how many cores they asked for (runnable threads: not lowered by other load on the
machine, though raised by it, since a thread waiting for a core stays runnable longer). "seconds" is
Scrapy's ``elapsed_time_seconds``; "wall s" the whole process (start-up, the closing WACZ build and the
storage drain). CPU is user+sys of the measured process tree (``RUSAGE_CHILDREN`` deltas, or /proc for the servers); peak RSS is the largest simultaneous sum of PSS
over the tree, with the main process's own VmHWM beside it; "load" is the 1-minute load average at the
end of the row. Every full crawl also samples, every 0.5 s, what it waits on (``bench/timeline.py``: requests
in the downloader and how many are browser renders, the scheduler, the scraper, the extraction pool's
queue, the reactor's lag); the bound lines say how long only renders were in flight and how long the
scraper or the downloader was full. The crawls rotate WARC files at 10 MB (``WARC_MAX_SIZE``; the default
100 MB would make a bench crawl one file, packaged only at close). The tables are printed and written to ``bench/results.md``.

Options: ``--articles N`` (default 5000), ``--stage-pages N`` (pages the stages are timed on, default
1000), ``--skip-4x``, ``--skip-s3``, ``--skip-ablations``, ``--skip-peer``, ``--quick`` (500 articles),
``--keep`` (keep the work directory), ``--concurrency`` / ``--per-domain`` for the crawls.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(REPO), str(BENCH)]

from crawl_settings import bench_crawl_settings  # noqa: E402
from procstats import (  # noqa: E402
    TreeMonitor,
    TreeUsage,
    children_cpu,
    cpu_seconds,
    machine,
    self_cpu,
)
from serverload import extract_capacity, fetch_all  # noqa: E402
from timeline import summary as timeline_summary  # noqa: E402
from timeline import summary_line  # noqa: E402

from crawler import settings as project_settings  # noqa: E402
from crawler.render import find_chromium  # noqa: E402
from newsroom.bigsite import gated_count  # noqa: E402

PY = sys.executable
SITES = 4
CHROMIUM = os.environ.get("CRAWL_CHROMIUM_PATH") or find_chromium() or "/usr/bin/chromium"
MiB = 1024 * 1024
CORES = len(os.sched_getaffinity(0))
# What the crawl waits on, sampled every 0.5 s (bench/timeline.py; PYTHONPATH is the repository).
TIMELINE = "bench.timeline.TimelineExtension"
BENCH_WARC_MAX_SIZE = 10_000_000


@dataclass
class Row:
    name: str
    pages: int
    seconds: float
    cpu: float
    peak_rss: int | None
    hwm_sum: int | None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


# ---- the server --------------------------------------------------------------------------------------
@contextlib.contextmanager
def bigsite(workdir: Path, articles: int, *, gated_share: float = 0.05, sites: int = SITES) -> Iterator[Any]:
    """Run ``python -m newsroom.bigsite serve`` until the block ends; yields (process, sources path)."""
    workdir.mkdir(parents=True, exist_ok=True)
    sources = workdir / f"sources-{articles}-{gated_share}.yaml"
    log = (workdir / f"bigsite-{articles}-{gated_share}.log").open("wb")
    cmd = [PY, "-m", "newsroom.bigsite", "serve", "--articles", str(articles), "--sites", str(sites)]
    cmd += ["--gated-share", str(gated_share), "--sources-out", str(sources)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=_env())
    try:
        deadline = time.monotonic() + 60
        while not sources.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bigsite did not start; see {log.name}")
            time.sleep(0.1)
        yield proc, sources
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "CRAWL_CHROMIUM_PATH": CHROMIUM}


def article_urls(sources: Path) -> list[str]:
    """Every article URL, read from the sites' sitemaps as a crawler would find them."""
    import yaml

    urls: list[str] = []
    for site in yaml.safe_load(sources.read_text(encoding="utf-8"))["sites"]:
        for index_url in site["sitemaps"]:
            index = urllib.request.urlopen(index_url, timeout=30).read().decode()
            for sitemap in re.findall(r"<loc>([^<]+)</loc>", index):
                body = urllib.request.urlopen(sitemap, timeout=60).read().decode()
                urls += re.findall(r"<loc>([^<]+)</loc>", body)
    return urls


def server_row(server: subprocess.Popen[bytes], urls: list[str], spool: Path) -> tuple[Row, Any]:
    before = cpu_seconds(server.pid)
    with TreeMonitor(server.pid) as monitor:
        result = fetch_all(urls, concurrency=32, spool=spool)
    used = cpu_seconds(server.pid) - before
    note = f"aiohttp, 32 connections; {result.bytes / MiB:.0f} MiB on the wire (gzip); server CPU only"
    row = Row(
        "server alone (bigsite)", result.pages, result.seconds, used, monitor.usage.peak_rss, None, note
    )
    row.extra["capacity"] = result.pages / used if used else 0.0
    return row, result


def extraction_row(spool: Path, index: list[tuple[str, int, int]], workers: int) -> Row:
    cpu0 = children_cpu() + self_cpu()
    # The pool's workers are this process's children; the servers it started are left out.
    with TreeMonitor(os.getpid(), exclude=_other_children(), include_root=False) as monitor:
        result = extract_capacity(spool, index, workers)
    cpu = children_cpu() + self_cpu() - cpu0
    note = f"{workers} spawn workers, {result.articles}/{result.pages} pages gave an article"
    return Row(
        "extraction capacity",
        result.pages,
        result.seconds,
        cpu,
        monitor.usage.peak_rss,
        monitor.usage.hwm_sum,
        note,
    )


_SERVER_PIDS: set[int] = set()


def _other_children() -> frozenset[int]:
    return frozenset(_SERVER_PIDS)


# ---- crawls ------------------------------------------------------------------------------------------
def crawl(
    name: str,
    sources: Path,
    workdir: Path,
    settings: dict[str, str],
    *,
    concurrency: int,
    per_domain: int,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
    server_pids: tuple[int, ...] = (),
) -> tuple[Row, dict[str, Any]]:
    """Run ``scrapy crawl libya`` in a child process, measure its tree, return the row and its stats."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    run_dir = workdir / slug
    run_dir.mkdir(parents=True, exist_ok=True)
    stats_file = run_dir / "stats.json"
    merged = {
        **bench_crawl_settings(
            run_dir, slug, concurrency=concurrency, per_domain=per_domain, contexts=SITES, chromium=CHROMIUM
        ),
        # A bench crawl lasts minutes and writes 40-100 MB: at the default 100 MB / 5 minutes it would be one
        # WARC file, packaged (and uploaded) only at close. 10 MB makes it rotate as an hours-long crawl
        # does, so the time after close is the last file's, as in production (--set overrides it).
        "WARC_MAX_SIZE": str(BENCH_WARC_MAX_SIZE),
        **settings,
    }
    timeline = run_dir / "timeline.jsonl"
    if "EXTENSIONS" not in merged:  # the bare crawl names its own; every other crawl gets the sampler
        merged["EXTENSIONS"] = json.dumps({**project_settings.EXTENSIONS, TIMELINE: 950})
        merged["BENCH_TIMELINE_FILE"] = str(timeline)
    cmd = [PY, "-m", "scrapy", "crawl", "libya", "-a", f"sources={sources}"]
    for key, value in merged.items():
        cmd += ["-s", f"{key}={value}"]
    cpu0 = children_cpu()
    started = time.perf_counter()
    launched = time.time()
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env={**_env(), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=(run_dir / "stderr.log").open("wb"),
    )
    servers = [TreeMonitor(pid, timeline=True) for pid in server_pids]
    for server in servers:
        server.__enter__()
    with TreeMonitor(proc.pid, timeline=True) as monitor:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            print(
                f"!! {name}: no end after {timeout:.0f} s; stopping it (see {run_dir}/crawl.log)",
                file=sys.stderr,
            )
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    for server in servers:
        server.__exit__(None, None, None)
    wall = time.perf_counter() - started
    exited = time.time()
    cpu = children_cpu() - cpu0
    stats: dict[str, Any] = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    busy = _busy(stats, monitor.usage, [m.usage for m in servers])
    window = _spider_window(stats)
    if proc.returncode != 0 or not stats:
        print(f"!! {name}: exit {proc.returncode}; see {run_dir}/crawl.log and stderr.log", file=sys.stderr)
    failed = sum(v for k, v in stats.items() if k.startswith("crawl/failed_kind/article"))
    pages = int(stats.get("discovery/requests/article", 0)) - int(failed)
    seconds = float(stats.get("elapsed_time_seconds") or wall)
    # The Scrapy process's own peak (its ru_maxrss): where dupefilter, digest index and queues live.
    row = Row(name, pages, seconds, cpu, monitor.usage.peak_rss, monitor.usage.hwm.get(proc.pid))
    row.extra.update(wall=wall, returncode=proc.returncode, stats=stats, processes=monitor.usage.processes)
    row.extra.update(busy)
    if window:
        # Before the spider opened (imports, settings, add-ons) and after it closed (WACZ, upload drain).
        row.extra.update(startup=window[0] - launched, after_close=exited - window[1])
    row.extra["timeline"] = timeline_summary(timeline)
    return row, stats


def _spider_window(stats: dict[str, Any]) -> tuple[float, float] | None:
    """Scrapy's start_time and finish_time (spider open and close) as epoch seconds."""
    from datetime import datetime

    try:
        start = datetime.fromisoformat(str(stats["start_time"])).timestamp()
        end = datetime.fromisoformat(str(stats["finish_time"])).timestamp()
    except (KeyError, ValueError):
        return None
    return start, end


def _busy(stats: dict[str, Any], crawl: TreeUsage, servers: list[TreeUsage]) -> dict[str, float]:
    """The cores' busy share while the crawl ran (spider open to close, not start-up or the drain).

    ``busy``: CPU the crawl tree and its servers used over that window, of all cores; ``asked``: the mean
    of min(cores, their runnable threads) / cores. Other load on the machine does not lower ``asked`` (a
    thread waiting for a core still counts) but can raise it (work that would take 1 ms stays runnable
    while it waits): low ``asked`` means the pipeline waits on itself, high means it had work for the
    cores, whoever got them.
    """
    window = _spider_window(stats)
    if window is None:
        return {}
    start, end = window
    cores = CORES
    used = asked = 0.0
    for usage in [crawl, *servers]:
        cpu, demand = usage.window(start, end, cores)
        used += cpu
        asked += demand
    return {"busy": used, "asked": min(1.0, asked), "window": end - start}


CORPUS_OFF = "full pipeline, file store, corpus off"
CORPUS_OFF_2 = "full pipeline, file store, corpus off (second)"
CORPUS_ON_2 = "full pipeline, file store (second, for the corpus A/B)"


def corpus_stage_rows(archive: Path) -> list[Row]:
    """The corpus stages' CPU cost over the articles a crawl stored (seconds = CPU seconds: timed alone)."""
    from corpus_stages import stage_costs

    return [
        Row(c.name, c.pages, c.cpu, c.cpu, None, None, f"{c.ms:.2f} CPU ms a page {c.note}".strip())
        for c in stage_costs(archive)
    ]


BARE = {
    "ITEM_PIPELINES": "{}",
    "EXTENSIONS": json.dumps({"crawler.statsfile.StatsFileExtension": 900}),
    "DOWNLOADER_MIDDLEWARES": "{}",
    "ADDONS": "{}",
    "WARC_ENABLED": "False",
}


def full_note(stats: dict[str, Any], gated: int | None = None) -> str:
    of = f" (gated articles: {gated})" if gated is not None else ""
    return (
        f"stored {stats.get('store/articles', 0)}, irrelevant {stats.get('relevance/irrelevant', 0)}, "
        f"rendered {stats.get('render/pages', 0)}{of}, WARC records {stats.get('warc/records', '?')}, "
        f"requisites fetched {stats.get('requisites/fetched', 0)}"
    )


@contextlib.contextmanager
def seaweedfs(workdir: Path) -> Iterator[Any]:
    from devtools.seaweed import SeaweedS3

    server = SeaweedS3(workdir / "seaweedfs")
    server.start()
    assert server.process is not None
    _SERVER_PIDS.add(server.process.pid)
    try:
        yield server
    finally:
        server.stop()


# ---- output ------------------------------------------------------------------------------------------
def fmt_mib(value: int | None) -> str:
    return f"{value / MiB:,.0f}" if value else "–"


def table(rows: list[Row], cores: int) -> list[str]:
    lines = [
        "| run | pages | seconds | pages/s | wall s | CPU s (user+sys) | CPU % of "
        f"{cores} cores | peak RSS MiB (tree, PSS) | peak RSS MiB (main process) | load | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        wall = float(r.extra.get("wall", r.seconds))
        pct = 100 * r.cpu / (wall * cores) if wall else 0.0
        lines.append(
            f"| {r.name} | {r.pages:,} | {r.seconds:.1f} | {r.rate:.1f} | {r.extra.get('wall', r.seconds):.1f} | "
            f"{r.cpu:.1f} | {pct:.0f} % | "
            f"{fmt_mib(r.peak_rss)} | {fmt_mib(r.hwm_sum)} | {float(r.extra.get('load', 0)):.1f} | {r.note} |"
        )
    return lines


def peer_row(sources: Path, workdir: Path, server_pid: int) -> Row | None:
    """The peer pipeline (``bench/peer/spider.py`` in ``.peer-venv``) over the same sites."""
    import yaml

    python = REPO / ".peer-venv" / "bin" / "python"
    if not python.exists():
        print("!! no .peer-venv (make bench builds it): peer row skipped", file=sys.stderr)
        return None
    run_dir = workdir / "peer"
    run_dir.mkdir(parents=True, exist_ok=True)
    sitemaps = [u for site in yaml.safe_load(sources.read_text())["sites"] for u in site["sitemaps"]]
    cmd = [str(python), "-m", "scrapy", "runspider", str(BENCH / "peer" / "spider.py")]
    cmd += ["-a", "robots=" + ",".join(sitemaps), "-a", f"out={run_dir}"]
    cmd += ["-s", f"SW_EXPORT_URI={run_dir}/wacz/", "-s", f"LOG_FILE={run_dir}/crawl.log"]
    cmd += ["-s", "CONCURRENT_REQUESTS=64", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16"]
    cpu0, server0 = children_cpu(), cpu_seconds(server_pid)
    started = time.perf_counter()
    # Outside the repository (no scrapy.cfg found) and without its PYTHONPATH: nothing of ours is loaded.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    proc = subprocess.Popen(cmd, cwd=run_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with TreeMonitor(proc.pid, timeline=True) as monitor:
        proc.wait(3600)
    wall = time.perf_counter() - started
    cpu = children_cpu() - cpu0
    stats_file = run_dir / "stats.json"
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    pages = int(stats.get("peer/pages", 0))
    if proc.returncode != 0 or not pages:
        print(f"!! peer: exit {proc.returncode}; see {run_dir}/crawl.log", file=sys.stderr)
    from datetime import datetime

    start = datetime.fromisoformat(str(stats.get("start_time", "1970-01-01 00:00:00+00:00"))).timestamp()
    seconds = float(stats.get("closed_at", start)) - start
    articles = (
        sum(1 for _ in (run_dir / "articles.jsonl").open()) if (run_dir / "articles.jsonl").exists() else 0
    )
    note = (
        f"SitemapSpider + trafilatura + keyword filter + scrapy-webarchive 0.5.3 WACZ (Scrapy 2.11); kept "
        f"{articles}; server used {cpu_seconds(server_pid) - server0:.1f} CPU s"
    )
    row = Row(
        "peer (Scrapy SitemapSpider, own venv)",
        pages,
        seconds or wall,
        cpu,
        monitor.usage.peak_rss,
        monitor.usage.hwm.get(proc.pid),
        note,
    )
    row.extra.update(wall=wall, stats=stats, load=os.getloadavg()[0])
    return row


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """A part of the bench that fails is reported and skipped: the rows already measured are kept."""
    try:
        yield
    except Exception:  # a broken part must not lose a run of many minutes
        import traceback

        print(
            f"!! {name} failed; its rows are missing:\n{traceback.format_exc()}", file=sys.stderr, flush=True
        )


@dataclass
class Bound:
    stages: list[tuple[str, float, str]]  # (stage, CPU-ms a page, how it was measured)
    total: float
    full_ms: float  # the full pipeline's CPU-ms a page (crawl tree + servers)

    def pages_per_s(self, cores: int) -> float:
        return 1000 * cores / self.total if self.total else 0.0


def stage_bound(
    run: Any,
    full: Row,
    bare: Row,
    server: Row,
    corpus: list[Row],
    render_ms: float | None,
    *,
    s3: list[Any] | None = None,
) -> Bound:
    """Every stage's CPU-ms per crawled article of ``full``, scaled by how often ``full`` did it."""
    stats = full.extra.get("stats", {})
    pages = full.pages or 1
    costs = {c.name: c for c in run.costs}
    responses = float(stats.get("downloader/response_count", pages))
    bare_responses = float(bare.extra.get("stats", {}).get("downloader/response_count", bare.pages or 1))
    records = float(stats.get("warc/records", 3 * pages)) / pages
    stored = float(stats.get("store/articles", pages)) / pages
    gated = float(stats.get("render/pages", 0)) / pages
    rows: list[tuple[str, float, str]] = [
        (
            "site server",
            1000 * server.cpu / server.pages,
            "bigsite's CPU serving the aiohttp fetch, per article",
        ),
        (
            "fetch (Scrapy engine, no pipelines)",
            1000 * bare.cpu / bare_responses * responses / pages,
            f"bare crawl per response × {responses / pages:.2f} responses an article (requisites, sitemaps)",
        ),
    ]
    for name, scale, how in [
        ("gate detection", 1.0, ""),
        ("requisite discovery", 1.0, ""),
        ("hand-over to the extraction workers and back", 1.0, ""),
        ("extraction", 1.0, ""),
        ("relevance", 1.0, ""),
        ("URL canonicalisation", 1.0, ""),
        ("WARC writing", records / 3, f" × {records:.2f} records an article / 3"),
        ("CDXJ and WACZ", records / 3, f" × {records:.2f} records an article / 3"),
        *(
            [
                ("store writes, S3 client", stored, f" × {stored:.2f} stored"),
                ("S3 server (SeaweedFS)", stored, f" × {stored:.2f} stored"),
            ]
            if s3
            else [("store writes, file", stored, f" × {stored:.2f} stored")]
        ),
        ("state and manifest", stored, f" × {stored:.2f} stored"),
    ]:
        cost = costs.get(name) or next((c for c in s3 or [] if c.name == name), None)
        if cost is not None:
            rows.append((name, cost.ms * scale, (cost.note + how).strip()))
    for row in corpus:
        rows.append(
            (f"corpus: {row.name[7:]}", 1000 * row.cpu / pages, f"{row.pages} stored articles, timed alone")
        )
    plain = sum(ms for _, ms, _ in rows)
    if render_ms is not None and gated:
        extra = max(0.0, render_ms - plain)
        rows.append(
            (
                "render per gated page",
                gated * extra,
                f"{render_ms:.0f} CPU-ms a rendered page less the plain stages ({plain:.1f}) × {100 * gated:.1f} % gated",
            )
        )
    total = sum(ms for _, ms, _ in rows)
    full_ms = 1000 * (full.cpu + float(full.extra.get("server_cpu", 0.0))) / pages
    return Bound(rows, total, full_ms)


def bound_lines(
    name: str, label: str, bound: Bound, full: Row, cores: int, *, end_to_end: bool = False
) -> list[str]:
    """The stage table and the ratio; ``end_to_end``: the run's rate over its whole wall time (drain too)."""
    rate = bound.pages_per_s(cores)
    measured = full.pages / float(full.extra.get("wall", full.seconds)) if end_to_end else full.rate
    ratio = measured / rate if rate else 0.0
    lines = [f"| stage ({name}) | CPU-ms a page | how |", "|---|---:|---|"]
    lines += [f"| {stage} | {ms:.2f} | {how} |" for stage, ms, how in bound.stages]
    lines += [
        f"| **sum of the stages** | **{bound.total:.2f}** | stage bound = {cores} cores / {bound.total:.2f} ms = {rate:.1f} pages/s |",
        f"| overhead (full pipeline {bound.full_ms:.2f} − sum) | {bound.full_ms - bound.total:.2f} | what no stage measured alone accounts for |",
        "",
        f"{label} = **{ratio:.2f}** ({measured:.1f} / {rate:.1f} pages/s; target ≥ 0.80); cores busy while crawling: "
        f"{100 * float(full.extra.get('busy', 0)):.0f} % used by the crawl and its servers, "
        f"{100 * float(full.extra.get('asked', 0)):.0f} % asked for (runnable threads, capped at {cores}); "
        f"load average {float(full.extra.get('load', 0)):.1f} at the end of the crawl.",
        "",
    ]
    waits = summary_line(full.extra.get("timeline") or {})
    if waits:
        lines += [f"What the crawl waited on ({name}): {waits}.", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="500 articles, a smoke run")
    parser.add_argument("--skip-4x", action="store_true", help="skip the 4x-articles memory run")
    parser.add_argument("--skip-s3", action="store_true", help="skip the SeaweedFS S3 run")
    parser.add_argument(
        "--skip-ablations", action="store_true", help="skip the requisites-off and corpus-off runs"
    )
    parser.add_argument("--skip-peer", action="store_true", help="skip the peer row")
    parser.add_argument(
        "--stage-pages", type=int, default=1000, help="pages the stages are timed on (spread)"
    )
    parser.add_argument("--render-articles", type=int, default=0, help="all-gated articles (default N/25)")
    parser.add_argument("--concurrency", type=int, default=64, help="CONCURRENT_REQUESTS of the crawls")
    parser.add_argument("--per-domain", type=int, default=16, help="CONCURRENT_REQUESTS_PER_DOMAIN")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="extra -s for full runs"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--out", type=Path, default=BENCH / "results.md")
    args = parser.parse_args(argv)
    articles = 500 if args.quick else args.articles
    render_articles = args.render_articles or max(40, articles // 25)
    extra = dict(item.split("=", 1) for item in args.set)
    info = machine()
    cores = int(info["cores"])
    crawl_opts: dict[str, Any] = {"concurrency": args.concurrency, "per_domain": args.per_domain}
    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    print(
        f"machine: {info['cores']} cores, {info['ram']}, {info['cpu']}, {info['python']}; work dir {workdir}"
    )
    rows: list[Row] = []
    memory: dict[int, Row] = {}
    stage_run: Any = None
    s3_costs: list[Any] = []
    corpus_rows: list[Row] = []
    render_ms: float | None = None

    def add(row: Row) -> Row:
        row.extra.setdefault("load", os.getloadavg()[0])
        rows.append(row)
        return row

    try:
        with bigsite(workdir, articles) as (server, sources):
            _SERVER_PIDS.add(server.pid)
            urls = article_urls(sources)
            print(
                f"bigsite: {len(urls)} articles on {SITES} sites; fetching once with aiohttp ...", flush=True
            )
            spool = workdir / "bodies.bin"
            row, fetched = server_row(server, urls, spool)
            row.note += f"; single-core capacity ≈ {row.extra['capacity']:.0f} pages/s"
            add(row)
            print(f"stages alone ({args.stage_pages} of the pages) ...", flush=True)
            from stages import measure_stages, read_spool, s3_stages

            stage_run = measure_stages(
                read_spool(spool, fetched.index, args.stage_pages), workdir / "stages", workers=cores
            )
            print("extraction capacity ...", flush=True)
            add(extraction_row(spool, fetched.index, cores))
            spool.unlink()
            print("bare fetch ...", flush=True)
            server_cpu = cpu_seconds(server.pid)
            row, stats = crawl("bare fetch (Scrapy, no pipelines)", sources, workdir, BARE, **crawl_opts)
            row.extra["server_cpu"] = cpu_seconds(server.pid) - server_cpu
            row.note = f"our spider via sitemaps; server used {row.extra['server_cpu']:.1f} CPU s"
            add(row)
            print("full pipeline, file store ...", flush=True)
            server_cpu = cpu_seconds(server.pid)
            row, stats = crawl(
                "full pipeline, file store", sources, workdir, extra, server_pids=(server.pid,), **crawl_opts
            )
            row.extra["server_cpu"] = cpu_seconds(server.pid) - server_cpu
            gated = gated_count(articles, SITES)
            row.note = full_note(stats, gated) + f"; server used {row.extra['server_cpu']:.1f} CPU s"
            add(row)
            memory[articles] = row
            requisites = int(stats.get("requisites/fetched", 0))
            corpus_rows = corpus_stage_rows(workdir / "full-pipeline-file-store" / "archive")
            rows.extend(corpus_rows)
            if not args.skip_ablations:
                print("full pipeline, file store, requisites off ...", flush=True)
                no_requisites = {**extra, "CRAWL_REQUISITES": "False"}
                row, stats = crawl(
                    "full pipeline, file store, requisites off", sources, workdir, no_requisites, **crawl_opts
                )
                row.note = full_note(stats, gated)
                row.extra["requisites"] = requisites
                add(row)
                # The research corpus (entity tags, near-duplicates, dataset parts): the same crawl without it,
                # twice, then with it once more: on (the full pipeline row above), off, off, on. The ABBA order
                # cancels a load that rises or falls through the runs; one pair on a shared machine is noise.
                for name, corpus in ((CORPUS_OFF, False), (CORPUS_OFF_2, False), (CORPUS_ON_2, True)):
                    print(f"{name} ...", flush=True)
                    settings = extra if corpus else {**extra, "CORPUS_ENABLED": "False"}
                    row, stats = crawl(name, sources, workdir, settings, **crawl_opts)
                    row.note = full_note(stats, gated) + ("" if corpus else "; CORPUS_ENABLED=False")
                    add(row)
            if not args.skip_peer:
                print("peer pipeline (its own venv) ...", flush=True)
                with phase("peer"):
                    peer = peer_row(sources, workdir, server.pid)
                    if peer is not None:
                        add(peer)
            if not args.skip_s3:
                print("full pipeline, SeaweedFS S3 ...", flush=True)
                with phase("S3"), seaweedfs(workdir) as s3:
                    assert s3.process is not None
                    s3_costs = s3_stages(stage_run, s3, s3.create_bucket("stages"))
                    bucket = s3.create_bucket("bench")
                    s3_settings = {
                        **extra,
                        "ARCHIVE_URI": f"s3://{bucket}/archive",
                        "AWS_ENDPOINT_URL": s3.endpoint_url,
                        "AWS_REGION_NAME": s3.region,
                        "S3_ADDRESSING_STYLE": "path",
                    }
                    s3_env = {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}
                    weed_cpu, server_cpu = cpu_seconds(s3.process.pid), cpu_seconds(server.pid)
                    row, stats = crawl(
                        "full pipeline, S3 (SeaweedFS)",
                        sources,
                        workdir,
                        s3_settings,
                        env=s3_env,
                        server_pids=(server.pid, s3.process.pid),
                        **crawl_opts,
                    )
                    weed_used = cpu_seconds(s3.process.pid) - weed_cpu
                    row.extra["server_cpu"] = weed_used + cpu_seconds(server.pid) - server_cpu
                    drain = float(row.extra.get("after_close", float(row.extra["wall"]) - row.seconds))
                    row.note = full_note(stats, gated) + (
                        f"; SeaweedFS used {weed_used:.1f} CPU s (counted in the ratio); "
                        f"{drain:.0f} s after the spider closed (WACZ, drain)"
                    )
                    add(row)
        render_script = BENCH / "render.py"
        if render_script.exists():
            with phase("render"):
                # The render engineer's own measurement (bench/render.py), in this run.
                print(f"rendering via bench/render.py ({render_articles} all-gated articles) ...", flush=True)
                import render

                result = render.measure(render_articles, workdir=workdir / "render", settings=extra)
                render_ms = float(result.cpu_ms_per_page)
                row = Row(
                    "rendering (every article gated, bench/render.py)",
                    int(result.pages),
                    float(result.seconds),
                    float(result.cpu),
                    None,
                    None,
                    f"{render_ms:.0f} CPU-ms a gated page",
                )
                row.extra["wall"] = float(result.wall)
                add(row)
        else:
            print(f"rendering ({render_articles} all-gated articles) ...", flush=True)
            with bigsite(workdir, render_articles, gated_share=1.0, sites=2) as (server, sources):
                row, stats = crawl("rendering (every article gated)", sources, workdir, extra, **crawl_opts)
                rendered = int(stats.get("render/pages", 0))
                row.pages = rendered
                render_ms = 1000 * row.cpu / rendered if rendered else None
                row.note = (
                    f"{rendered} pages through Chromium, {stats.get('render/seconds', 0):.0f} browser-seconds, "
                    f"stored {stats.get('store/articles', 0)}; includes browser start"
                )
                add(row)
        if not args.skip_4x:
            print(f"full pipeline at 4x ({4 * articles} articles) ...", flush=True)
            with phase("4x"), bigsite(workdir, 4 * articles) as (server, sources):
                row, stats = crawl(
                    f"full pipeline, file store, 4x ({4 * articles:,})", sources, workdir, extra, **crawl_opts
                )
                row.note = full_note(stats, gated_count(4 * articles, SITES))
                add(row)
                memory[4 * articles] = row
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    by_name = {r.name: r for r in rows}
    fetch = by_name.get("bare fetch (Scrapy, no pipelines)")
    server_alone = by_name.get("server alone (bigsite)")
    full = by_name.get("full pipeline, file store")
    s3_full = by_name.get("full pipeline, S3 (SeaweedFS)")
    peer = by_name.get("peer (Scrapy SitemapSpider, own venv)")
    lines = [
        f"Machine: {info['cores']} cores, {info['ram']} RAM, {info['cpu']}, {info['python']}, Linux {info['kernel']}.",
        f"Articles: {articles:,} over {SITES} bigsite sites (5 % JavaScript-gated), crawls with "
        f"CONCURRENT_REQUESTS={args.concurrency}, CONCURRENT_REQUESTS_PER_DOMAIN={args.per_domain}, "
        f"DOWNLOAD_DELAY=0, AutoThrottle off, WARC_MAX_SIZE={BENCH_WARC_MAX_SIZE:_}"
        + (f", {' '.join(args.set)}" if args.set else "")
        + ". "
        "The machine is shared: the load average (1 min) at the end of each row is beside it.",
        "",
        *table(rows, cores),
        "",
    ]
    if stage_run is not None and full and fetch and server_alone:
        bound = stage_bound(stage_run, full, fetch, server_alone, corpus_rows, render_ms)
        lines += bound_lines("file store", "full pipeline / stage bound", bound, full, cores)
        if s3_full and s3_costs:
            s3_bound = stage_bound(
                stage_run, s3_full, fetch, server_alone, corpus_rows, render_ms, s3=s3_costs
            )
            lines += bound_lines(
                "S3", "S3 end to end / its stage bound", s3_bound, s3_full, cores, end_to_end=True
            )
            crawl_s, wall_s = s3_full.seconds, float(s3_full.extra.get("wall", s3_full.seconds))
            after = float(s3_full.extra.get("after_close", wall_s - crawl_s))
            startup = float(s3_full.extra.get("startup", 0.0))
            lines.append(
                f"S3: {crawl_s:.1f} s crawling, {wall_s:.1f} s wall; after the spider closed "
                f"{after:.1f} s = **{100 * after / crawl_s:.0f} %** of the crawl's time (target ≤ 10 %); "
                f"the process's start-up before the spider opened took {startup:.1f} s more."
            )
    if full and peer and peer.pages and full.pages:
        ours_ms, peer_ms = 1000 * full.cpu / full.pages, 1000 * peer.cpu / peer.pages
        lines.append(
            f"Against the peer (same pages, same run): {full.rate:.1f} vs {peer.rate:.1f} pages/s = "
            f"**{full.rate / peer.rate:.2f}×** (target ≥ 2×); CPU-ms a page (crawl tree, server not counted) "
            f"{ours_ms:.1f} vs {peer_ms:.1f}; peak RSS {fmt_mib(full.peak_rss)} vs {fmt_mib(peer.peak_rss)} MiB "
            f"(tree), main process {fmt_mib(full.hwm_sum)} vs {fmt_mib(peer.hwm_sum)} MiB; load average "
            f"{float(full.extra.get('load', 0)):.1f} / {float(peer.extra.get('load', 0)):.1f}."
        )
    req_off = by_name.get("full pipeline, file store, requisites off")
    if full and req_off and full.pages and req_off.pages:
        fetched_req = int(req_off.extra.get("requisites", 0))
        lines.append(
            f"Page requisites (CSS, scripts, images, fonts): {fetched_req:,} fetched for {full.pages:,} pages "
            f"({fetched_req / full.pages:.2f} a page); CPU {1000 * full.cpu / full.pages:.1f} ms a page with them, "
            f"{1000 * req_off.cpu / req_off.pages:.1f} without: **{1000 * (full.cpu / full.pages - req_off.cpu / req_off.pages):+.1f} "
            f"ms a page**; rate {full.rate:.1f} vs {req_off.rate:.1f} pages/s."
        )
    ons = [r for r in (full, by_name.get(CORPUS_ON_2)) if r and r.pages]
    offs = [r for r in (by_name.get(CORPUS_OFF), by_name.get(CORPUS_OFF_2)) if r and r.pages]
    if ons and offs:
        cost = " + ".join(f"{r.name[7:]} {1000 * r.cpu / r.pages:.2f}" for r in corpus_rows if r.pages)
        rate_on, rate_off = (sum(r.rate for r in rs) / len(rs) for rs in (ons, offs))
        cpu_on, cpu_off = (sum(1000 * r.cpu / r.pages for r in rs) / len(rs) for rs in (ons, offs))
        runs = ", ".join(f"{r.rate:.1f}" for r in (full, *offs, *ons[1:]) if r)
        lines.append(
            f"Research corpus: {cost} CPU ms a page; full pipeline {rate_on:.1f} pages/s with it, "
            f"{rate_off:.1f} without (means of {len(ons)} and {len(offs)} crawls run on, off, off, on: {runs}): "
            f"**{100 * (rate_on - rate_off) / rate_off:+.1f} %** (target: at most 5 % lower); "
            f"CPU {cpu_on:.1f} vs {cpu_off:.1f} ms a page ({cpu_on - cpu_off:+.1f})."
        )
    if len(memory) == 2:
        small, large = (memory[k] for k in sorted(memory))
        if small.peak_rss and large.peak_rss:
            growth = 100 * (large.peak_rss - small.peak_rss) / small.peak_rss
            lines.append(
                f"Peak RSS of the full pipeline: {fmt_mib(small.peak_rss)} MiB at {small.pages:,} pages, "
                f"{fmt_mib(large.peak_rss)} MiB at {large.pages:,} pages: **{growth:+.1f} %** (target within 10 %); "
                f"main process {fmt_mib(small.hwm_sum)} and {fmt_mib(large.hwm_sum)} MiB."
            )
    load = os.getloadavg()
    lines.append(
        f"Load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min); anything else "
        "running on the machine during the bench shows up as lost throughput, not as CPU-ms."
    )
    text = "\n".join(lines)
    print()
    print(text)
    args.out.write_text("# Benchmark results (`make bench`)\n\n" + text + "\n", encoding="utf-8")
    print(f"\n(written to {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
