"""The research corpus's cost in a whole crawl: interleaved A/B crawls of one bigsite, corpus on and off.

On a shared machine one pair of crawls says little about the rate (other processes come and go), so
this runs ``--pairs`` pairs of the same crawl (``bench/pipeline.py``'s ``crawl``: file store, full
pipeline), alternating which goes first, and prints per run and as medians: pages, pages/s, CPU
(user+sys of the crawl's process tree: the crawler and its extraction workers) a page, and the load
average before each run. The CPU a page is the stable number; the rate difference is reported with the
spread of the pairs; the corpus's stages (``bench/corpus_stages.py``) are timed alone over the first
corpus-on crawl's archive. ``--profile`` instead runs one corpus-on crawl under cProfile and prints where the
crawler process spent CPU in the corpus (``corpus.*``, ``crawler/corpus.py``, pyarrow)::

    .venv/bin/python bench/corpus_ab.py --articles 300 --pairs 3
    .venv/bin/python bench/corpus_ab.py --articles 300 --profile

Reads no settings; the crawls run in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import pstats
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import pipeline  # noqa: E402
from corpus_stages import StageCost, stage_costs  # noqa: E402
from crawl_settings import bench_crawl_settings  # noqa: E402


def ab(articles: int, pairs: int, concurrency: int, per_domain: int) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-corpus-ab-"))
    opts = {"concurrency": concurrency, "per_domain": per_domain}
    results: dict[str, list[tuple[int, float, float, float]]] = {"on": [], "off": []}
    stages: list[StageCost] = []
    try:
        with pipeline.bigsite(workdir, articles) as (_server, sources):
            for n in range(pairs):
                order = ("on", "off") if n % 2 == 0 else ("off", "on")
                for mode in order:
                    load = os.getloadavg()[0]
                    settings = {} if mode == "on" else {"CORPUS_ENABLED": "False"}
                    row, _ = pipeline.crawl(f"corpus {mode} {n}", sources, workdir, settings, **opts)
                    if mode == "on" and not stages:
                        stages = stage_costs(workdir / f"corpus-{mode}-{n}" / "archive")
                    shutil.rmtree(workdir / f"corpus-{mode}-{n}", ignore_errors=True)
                    per_page = 1000 * row.cpu / row.pages if row.pages else 0.0
                    results[mode].append((row.pages, row.rate, per_page, load))
                    print(
                        f"pair {n} corpus {mode:3}: {row.pages} pages, {row.rate:5.1f} pages/s, "
                        f"{per_page:5.1f} CPU ms a page, load {load:.1f}",
                        flush=True,
                    )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    med = {
        m: (statistics.median(r[1] for r in rs), statistics.median(r[2] for r in rs))
        for m, rs in results.items()
    }
    (on_rate, on_cpu), (off_rate, off_cpu) = med["on"], med["off"]
    ratios = [a[1] / b[1] - 1 for a, b in zip(results["on"], results["off"], strict=True) if b[1]]
    loads = [r[3] for rs in results.values() for r in rs]
    for cost in stages:
        print(f"{cost.name}: {cost.ms:.2f} CPU ms a page ({cost.pages} pages) {cost.note}".rstrip())
    if stages:
        print(f"corpus stages in all: {sum(c.ms for c in stages):.2f} CPU ms a page")
    print(
        f"medians over {pairs} pairs: corpus on {on_rate:.1f} pages/s, {on_cpu:.1f} CPU ms a page; off "
        f"{off_rate:.1f} pages/s, {off_cpu:.1f} CPU ms a page; CPU {on_cpu - off_cpu:+.1f} ms a page "
        f"({100 * (on_cpu / off_cpu - 1):+.1f} %); rate {100 * (on_rate / off_rate - 1):+.1f} % "
        f"(pairs {', '.join(f'{100 * r:+.0f} %' for r in ratios)}); load average {min(loads):.1f}-{max(loads):.1f}"
    )
    return 0


def profile(articles: int, concurrency: int, per_domain: int) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-corpus-profile-"))
    out = workdir / "crawl.prof"
    try:
        # the crawl's own process under cProfile (its extraction workers are not profiled)
        with pipeline.bigsite(workdir, articles) as (_server, sources):
            _crawl_profiled(sources, workdir, out, concurrency, per_domain)
        stats = pstats.Stats(str(out))
        total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
        print(f"crawler process: {total:.2f} s in functions (tottime)")
        for pattern in ("corpus/", "crawler/corpus.py", "pyarrow", "sqlite3"):
            own = sum(
                v[2]
                for k, v in stats.stats.items()  # type: ignore[attr-defined]
                if pattern in k[0] or (pattern == "sqlite3" and "sqlite3" in k[2])
            )
            print(f"  {pattern:20} {own:.3f} s tottime")
        stats.sort_stats("cumulative").print_stats(r"corpus|pyarrow", 25)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _crawl_profiled(sources: Path, workdir: Path, out: Path, concurrency: int, per_domain: int) -> None:
    import subprocess

    run_dir = workdir / "profiled"
    run_dir.mkdir()
    settings = bench_crawl_settings(
        run_dir,
        "corpus-profiled",
        concurrency=concurrency,
        per_domain=per_domain,
        contexts=pipeline.SITES,
        chromium=pipeline.CHROMIUM,
    )
    cmd = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "scrapy", "crawl", "libya"]
    cmd += ["-a", f"sources={sources}"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    subprocess.run(cmd, cwd=pipeline.REPO, env=pipeline._env(), check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--per-domain", type=int, default=16)
    parser.add_argument("--profile", action="store_true", help="one corpus-on crawl under cProfile")
    args = parser.parse_args()
    if args.profile:
        return profile(args.articles, args.concurrency, args.per_domain)
    return ab(args.articles, args.pairs, args.concurrency, args.per_domain)


if __name__ == "__main__":
    raise SystemExit(main())
