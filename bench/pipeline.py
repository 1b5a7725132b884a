"""``make bench``: how fast the whole pipeline runs on this machine, and where the ceiling is.

Starts ``newsroom.bigsite`` (``--articles`` articles over four sites, 5 % JavaScript-gated) in its own
process and measures, in one run, one table:

- server alone: an aiohttp fetch loop over every article (the server must not be the bottleneck);
- bare fetch: ``scrapy crawl libya`` with no pipelines, extensions, add-ons or project middlewares,
  politeness off (the fetch ceiling);
- extraction capacity: ``extraction.extract`` over the same HTML on all cores (the CPU ceiling);
- full pipeline: ``scrapy crawl libya`` with everything, file store and SeaweedFS S3, and on the file store
  once more with the research corpus off, beside its stages (near-duplicates, entity tags, dataset) timed
  alone over the stored articles (``bench/corpus_stages.py``);
- rendering: a site where every article is gated, through Chromium;
- the full pipeline at 4x the articles, for memory growth.

"seconds" is Scrapy's ``elapsed_time_seconds`` (spider open to the last page) for crawls, the timed loop
otherwise; "wall s" is the whole crawl process (start-up, the closing WACZ build and storage drain).
CPU is user+sys of the measured process tree over its wall time (``RUSAGE_CHILDREN`` deltas, or /proc for the server);
peak RSS is the largest simultaneous sum of PSS over the tree (Chromium's processes share pages), sampled
every 0.25 s, with the main process's own VmHWM beside it (the extraction row: sum over the pool). The table is printed and written to ``bench/results.md``.

Options: ``--articles N`` (default 5000), ``--skip-4x``, ``--quick`` (500 articles, smoke run),
``--skip-s3``, ``--keep`` (keep the work directory), ``--concurrency`` / ``--per-domain`` for the crawls.
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

from procstats import (  # noqa: E402
    TreeMonitor,
    TreeUsage,
    children_cpu,
    cpu_seconds,
    machine,
    self_cpu,
)
from serverload import extract_capacity, fetch_all  # noqa: E402

from crawler.render import find_chromium  # noqa: E402
from newsroom.bigsite import gated_count  # noqa: E402

PY = sys.executable
SITES = 4
CHROMIUM = os.environ.get("CRAWL_CHROMIUM_PATH") or find_chromium() or "/usr/bin/chromium"
MiB = 1024 * 1024
CORES = len(os.sched_getaffinity(0))


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
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        "CONCURRENT_REQUESTS": str(concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": str(per_domain),
        "LOG_LEVEL": "INFO",
        "LOG_FILE": str(run_dir / "crawl.log"),
        "CRAWL_STATS_FILE": str(stats_file),
        "CRAWL_ID": slug,
        "ARCHIVE_URI": str(run_dir / "archive"),
        "ARCHIVE_SPOOL_DIR": str(run_dir / "spool"),
        "RENDER_CHROMIUM_PATH": CHROMIUM,
        "TELNETCONSOLE_ENABLED": "False",
        # One browser context per site: with fewer contexts than gated sites the render queue deadlocks
        # (crawler.render + scrapy-playwright wait for a context slot that is never freed).
        "RENDER_MAX_CONTEXTS": str(SITES),
        **settings,
    }
    cmd = [PY, "-m", "scrapy", "crawl", "libya", "-a", f"sources={sources}"]
    for key, value in merged.items():
        cmd += ["-s", f"{key}={value}"]
    cpu0 = children_cpu()
    started = time.perf_counter()
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
    cpu = children_cpu() - cpu0
    stats: dict[str, Any] = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    busy = _busy(stats, monitor.usage, [m.usage for m in servers])
    if proc.returncode != 0 or not stats:
        print(f"!! {name}: exit {proc.returncode}; see {run_dir}/crawl.log and stderr.log", file=sys.stderr)
    failed = sum(v for k, v in stats.items() if k.startswith("crawl/failed_kind/article"))
    pages = int(stats.get("discovery/requests/article", 0)) - int(failed)
    seconds = float(stats.get("elapsed_time_seconds") or wall)
    # The Scrapy process's own peak (its ru_maxrss): where dupefilter, digest index and queues live.
    row = Row(name, pages, seconds, cpu, monitor.usage.peak_rss, monitor.usage.hwm.get(proc.pid))
    row.extra.update(wall=wall, returncode=proc.returncode, stats=stats, processes=monitor.usage.processes)
    row.extra.update(busy)
    return row, stats


def _busy(stats: dict[str, Any], crawl: TreeUsage, servers: list[TreeUsage]) -> dict[str, float]:
    """The cores' busy share while the crawl ran (spider open to close, not start-up or the drain).

    ``busy``: CPU the crawl tree and its servers used over that window, of all cores; ``asked``: the mean
    of min(cores, their runnable threads) / cores, which other load on the machine does not lower.
    """
    from datetime import datetime

    try:
        start = datetime.fromisoformat(str(stats["start_time"])).timestamp()
        end = datetime.fromisoformat(str(stats["finish_time"])).timestamp()
    except (KeyError, ValueError):
        return {}
    cores = CORES
    used = asked = 0.0
    for usage in [crawl, *servers]:
        cpu, demand = usage.window(start, end, cores)
        used += cpu
        asked += demand
    return {"busy": used, "asked": min(1.0, asked), "window": end - start}


CORPUS_OFF = "full pipeline, file store, corpus off"


def corpus_stage_rows(archive: Path) -> list[Row]:
    """The corpus stages' CPU cost over the articles a crawl stored (seconds = CPU seconds: timed alone)."""
    from corpus_stages import stage_costs

    return [
        Row(c.name, c.pages, c.cpu, c.cpu, None, None, f"{c.ms_per_page:.2f} CPU ms a page {c.note}".strip())
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
        f"{cores} cores | peak RSS MiB (tree, PSS) | peak RSS MiB (main process) | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        wall = float(r.extra.get("wall", r.seconds))
        pct = 100 * r.cpu / (wall * cores) if wall else 0.0
        lines.append(
            f"| {r.name} | {r.pages:,} | {r.seconds:.1f} | {r.rate:.1f} | {r.extra.get('wall', r.seconds):.1f} | "
            f"{r.cpu:.1f} | {pct:.0f} % | "
            f"{fmt_mib(r.peak_rss)} | {fmt_mib(r.hwm_sum)} | {r.note} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="500 articles, a smoke run")
    parser.add_argument("--skip-4x", action="store_true", help="skip the 4x-articles memory run")
    parser.add_argument("--skip-s3", action="store_true", help="skip the SeaweedFS S3 run")
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
    crawl_opts = {"concurrency": args.concurrency, "per_domain": args.per_domain}
    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    print(
        f"machine: {info['cores']} cores, {info['ram']}, {info['cpu']}, {info['python']}; work dir {workdir}"
    )
    rows: list[Row] = []
    memory: dict[int, Row] = {}
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
            rows.append(row)
            print("extraction capacity ...", flush=True)
            rows.append(extraction_row(spool, fetched.index, cores))
            spool.unlink()
            print("bare fetch ...", flush=True)
            server_cpu = cpu_seconds(server.pid)
            row, stats = crawl("bare fetch (Scrapy, no pipelines)", sources, workdir, BARE, **crawl_opts)
            row.note = (
                f"our spider via sitemaps; server used {cpu_seconds(server.pid) - server_cpu:.1f} CPU s"
            )
            rows.append(row)
            print("full pipeline, file store ...", flush=True)
            server_cpu = cpu_seconds(server.pid)
            row, stats = crawl("full pipeline, file store", sources, workdir, extra, **crawl_opts)
            gated = gated_count(articles, SITES)
            row.note = (
                full_note(stats, gated) + f"; server used {cpu_seconds(server.pid) - server_cpu:.1f} CPU s"
            )
            rows.append(row)
            memory[articles] = row
            requisites = int(stats.get("requisites/fetched", 0))
            print("full pipeline, file store, requisites off ...", flush=True)
            no_requisites = {**extra, "CRAWL_REQUISITES": "False"}
            row, stats = crawl(
                "full pipeline, file store, requisites off", sources, workdir, no_requisites, **crawl_opts
            )
            row.note = full_note(stats, gated)
            row.extra["requisites"] = requisites
            rows.append(row)
            # The research corpus (entity tags, near-duplicates, dataset parts): the same crawl without it,
            # and its stages timed alone over what the crawl stored (bench/corpus_stages.py).
            print("full pipeline, file store, corpus off ...", flush=True)
            off, off_stats = crawl(
                CORPUS_OFF, sources, workdir, {**extra, "CORPUS_ENABLED": "False"}, **crawl_opts
            )
            off.note = full_note(off_stats, gated) + "; CORPUS_ENABLED=False"
            rows.append(off)
            rows += corpus_stage_rows(workdir / "full-pipeline-file-store" / "archive")
            if not args.skip_s3:
                print("full pipeline, SeaweedFS S3 ...", flush=True)
                with seaweedfs(workdir) as s3:
                    bucket = s3.create_bucket("bench")
                    s3_settings = {
                        **extra,
                        "ARCHIVE_URI": f"s3://{bucket}/archive",
                        "AWS_ENDPOINT_URL": s3.endpoint_url,
                        "AWS_REGION_NAME": s3.region,
                        "S3_ADDRESSING_STYLE": "path",
                    }
                    s3_env = {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}
                    weed_cpu = cpu_seconds(s3.process.pid) if s3.process else 0.0
                    row, stats = crawl(
                        "full pipeline, S3 (SeaweedFS)",
                        sources,
                        workdir,
                        s3_settings,
                        env=s3_env,
                        **crawl_opts,
                    )
                    weed_used = (cpu_seconds(s3.process.pid) if s3.process else 0.0) - weed_cpu
                    row.note = (
                        full_note(stats, gated) + f"; SeaweedFS used {weed_used:.1f} CPU s (not counted)"
                    )
                    rows.append(row)
        print(f"rendering ({render_articles} all-gated articles) ...", flush=True)
        with bigsite(workdir, render_articles, gated_share=1.0, sites=2) as (server, sources):
            row, stats = crawl("rendering (every article gated)", sources, workdir, extra, **crawl_opts)
            rendered = int(stats.get("render/pages", 0))
            row.pages = rendered
            row.note = (
                f"{rendered} pages through Chromium, {stats.get('render/seconds', 0):.0f} browser-seconds, "
                f"stored {stats.get('store/articles', 0)}; includes browser start"
            )
            rows.append(row)
        if not args.skip_4x:
            print(f"full pipeline at 4x ({4 * articles} articles) ...", flush=True)
            with bigsite(workdir, 4 * articles) as (server, sources):
                row, stats = crawl(
                    f"full pipeline, file store, 4x ({4 * articles:,})", sources, workdir, extra, **crawl_opts
                )
                row.note = full_note(stats, gated_count(4 * articles, SITES))
                rows.append(row)
                memory[4 * articles] = row
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    by_name = {r.name: r for r in rows}
    fetch = by_name.get("bare fetch (Scrapy, no pipelines)")
    capacity = by_name.get("extraction capacity")
    full = by_name.get("full pipeline, file store")
    lines = [
        f"Machine: {info['cores']} cores, {info['ram']} RAM, {info['cpu']}, {info['python']}, Linux {info['kernel']}.",
        f"Articles: {articles:,} over {SITES} bigsite sites (5 % JavaScript-gated), crawls with "
        f"CONCURRENT_REQUESTS={args.concurrency}, CONCURRENT_REQUESTS_PER_DOMAIN={args.per_domain}, "
        "DOWNLOAD_DELAY=0, AutoThrottle off" + (f", {' '.join(args.set)}" if args.set else "") + ".",
        "",
        *table(rows, cores),
        "",
    ]
    if fetch and capacity and full:
        ceiling = min(fetch.rate, capacity.rate)
        ratio = full.rate / ceiling if ceiling else 0.0
        lines.append(
            f"Full pipeline / min(bare fetch, extraction capacity) = {full.rate:.1f} / {ceiling:.1f} = "
            f"**{ratio:.2f}** (target ≥ 0.80)."
        )
        server = by_name.get("server alone (bigsite)")
        per_page = (
            fetch.cpu / fetch.pages + capacity.cpu / capacity.pages if fetch.pages and capacity.pages else 0
        )
        server_per_page = server.cpu / server.pages if server and server.pages else 0.0
        if per_page:
            # Both ceilings ran alone; the pipeline does both jobs on the same cores, next to the server.
            shared = cores / (per_page + server_per_page)
            lines.append(
                f"Both jobs on the same {cores} cores: fetching ({1000 * fetch.cpu / fetch.pages:.1f} CPU ms a page) + "
                f"extracting ({1000 * capacity.cpu / capacity.pages:.1f}) + serving "
                f"({1000 * server_per_page:.1f}) cap the pipeline at {cores} / "
                f"{1000 * (per_page + server_per_page):.1f} ms = {shared:.1f} pages/s before any WARC, store or "
                f"rendering work: full pipeline / that = **{full.rate / shared:.2f}**."
            )
    req_off = by_name.get("full pipeline, file store, requisites off")
    if full and req_off and full.pages and req_off.pages:
        fetched = int(req_off.extra.get("requisites", 0))
        lines.append(
            f"Page requisites (CSS, scripts, images, fonts): {fetched:,} fetched for {full.pages:,} pages "
            f"({fetched / full.pages:.2f} a page); CPU {1000 * full.cpu / full.pages:.1f} ms a page with them, "
            f"{1000 * req_off.cpu / req_off.pages:.1f} without: **{1000 * (full.cpu / full.pages - req_off.cpu / req_off.pages):+.1f} "
            f"ms a page**; rate {full.rate:.1f} vs {req_off.rate:.1f} pages/s."
        )
    off = by_name.get(CORPUS_OFF)
    if full and off and off.rate:
        stages = [r for r in rows if r.name.startswith("stage: ")]
        cost = " + ".join(f"{r.name[7:]} {1000 * r.cpu / r.pages:.2f}" for r in stages if r.pages)
        lines.append(
            f"Research corpus: {cost} CPU ms a page; full pipeline {full.rate:.1f} pages/s with it, "
            f"{off.rate:.1f} without: **{100 * (full.rate - off.rate) / off.rate:+.1f} %** (target: at most 5 % lower)."
        )
    if len(memory) == 2:
        small, large = (memory[k] for k in sorted(memory))
        if small.peak_rss and large.peak_rss:
            growth = 100 * (large.peak_rss - small.peak_rss) / small.peak_rss
            lines.append(
                f"Peak RSS of the full pipeline: {fmt_mib(small.peak_rss)} MiB at {small.pages:,} pages, "
                f"{fmt_mib(large.peak_rss)} MiB at {large.pages:,} pages: **{growth:+.1f} %** (target within 10 %)."
            )
    load = os.getloadavg()
    lines.append(
        f"Load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min); anything else "
        "running on the machine during the bench shows up as lost throughput."
    )
    text = "\n".join(lines)
    print()
    print(text)
    args.out.write_text("# Benchmark results (`make bench`)\n\n" + text + "\n", encoding="utf-8")
    print(f"\n(written to {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
