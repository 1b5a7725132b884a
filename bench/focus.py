"""``make bench`` (focus rows): how much of a large pan-Arab site's Libya coverage a budgeted crawl finds.

Serves one ``newsroom.panarab`` site (``--articles`` articles, ``--libya-percent`` of them about Libya,
Libya section and tag in the menu, monthly sitemaps without titles, a news sitemap with titles, RSS) and
crawls it with ``CLOSESPIDER_PAGECOUNT`` at ``--budget`` (default 10 %) of the site's pages (every response
counts: robots.txt, sitemaps, listings and articles), once with ``CRAWL_FOCUS=off`` and once with
``CRAWL_FOCUS=prioritise``. Prints, per run: pages fetched, Libya articles stored, recall (stored Libya
articles / Libya articles on the site) and harvest rate (stored Libya articles per page fetched).
``--whole`` adds a whole-site crawl with focus on, which must store every Libya article exactly once.
``--min-recall R`` exits 1 when the prioritised run's recall is below R.

    .venv/bin/python bench/focus.py --articles 20000 --min-recall 0.95
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(REPO), str(BENCH)]

from pipeline import PY, _env, crawl  # noqa: E402

from newsroom.panarab import PanArabSite  # noqa: E402
from tests.crawling import CrawlRun  # noqa: E402


@contextlib.contextmanager
def panarab_server(workdir: Path, articles: int, libya_percent: float) -> Iterator[tuple[Path, str]]:
    """``python -m newsroom.bigsite serve --sites 1 --libya-percent P``; yields (sources file, base URL)."""
    sources = workdir / "sources.yaml"
    log = (workdir / "server.log").open("wb")
    cmd = [PY, "-m", "newsroom.bigsite", "serve", "--articles", str(articles), "--sites", "1"]
    cmd += ["--gated-share", "0", "--libya-percent", str(libya_percent), "--sources-out", str(sources)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=log, env=_env())
    try:
        assert proc.stdout is not None
        base = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline().decode()
            if not line:
                raise RuntimeError(f"the pan-Arab site did not start; see {log.name}")
            if line.startswith("big01 "):
                base = line.split()[1]
            if line.strip() == "READY":
                break
        yield sources, base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def measure(
    name: str,
    sources: Path,
    workdir: Path,
    gold: set[str],
    settings: dict[str, str],
    timeout: float = 3600,
) -> dict[str, Any]:
    row, stats = crawl(name, sources, workdir, settings, concurrency=16, per_domain=16, timeout=timeout)
    run_dir = workdir / name  # names are already slugs: pipeline.crawl's run directory and crawl id
    run = CrawlRun(0, "", stats, run_dir / "archive", name)
    stored = [line["url"] for line in run.manifest() if (line.get("relevance") or {}).get("relevant")]
    libya = [url for url in stored if url in gold]
    pages = int(stats.get("response_received_count", 0))
    return {
        "name": name,
        "pages": pages,
        "stored_libya": len(set(libya)),
        "duplicates": len(libya) - len(set(libya)),
        "recall": len(set(libya)) / len(gold) if gold else 0.0,
        "harvest": len(set(libya)) / pages if pages else 0.0,
        "peak_rss": row.hwm_sum,  # the Scrapy process's own VmHWM
        "seconds": row.seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=20000)
    parser.add_argument("--libya-percent", type=float, default=4.0)
    parser.add_argument("--budget", type=float, default=0.10, help="share of the site's pages (default 0.10)")
    parser.add_argument("--whole", action="store_true", help="also crawl the whole site with focus on")
    parser.add_argument("--min-recall", type=float, default=0.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-focus-"))
    results = []
    try:
        with panarab_server(workdir, args.articles, args.libya_percent) as (sources, base):
            site = PanArabSite("big01", 0, args.articles, libya_percent=args.libya_percent, base_url=base)
            gold = {site.article_url(n) for n in site.libya_numbers()}
            budget = max(1, round(site.page_count() * args.budget))
            print(
                f"pan-Arab site: {args.articles} articles, {len(gold)} about Libya "
                f"({sum(site.is_quiet(n) for n in site.libya_numbers())} with no Libya word in title or slug), "
                f"{site.page_count()} pages; budget {budget} responses ({args.budget:.0%})",
                flush=True,
            )
            for mode in ("off", "prioritise"):
                settings = {"CRAWL_FOCUS": mode, "CLOSESPIDER_PAGECOUNT": str(budget)}
                results.append(measure(f"focus-{mode}", sources, workdir, gold, settings))
            if args.whole:
                results.append(measure("whole-site", sources, workdir, gold, {"CRAWL_FOCUS": "prioritise"}))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work directory kept: {workdir}")
    print(
        f"{'run':<18} {'pages':>7} {'Libya stored':>13} {'recall':>7} {'harvest':>8} {'dupes':>6} {'seconds':>8} "
        f"{'main peak RSS MiB':>18}"
    )
    for r in results:
        print(
            f"{r['name']:<18} {r['pages']:>7} {r['stored_libya']:>13} {r['recall']:>7.1%} "
            f"{r['harvest']:>8.3f} {r['duplicates']:>6} {r['seconds']:>8.0f} "
            f"{(r['peak_rss'] or 0) / 2**20:>18.0f}"
        )
    focused = next(r for r in results if r["name"] == "focus-prioritise")
    if focused["recall"] < args.min_recall:
        print(f"FAIL: recall with focus {focused['recall']:.1%} < {args.min_recall:.0%}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
