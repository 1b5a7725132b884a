"""Main-process peak RSS of whole-site crawls of generated pan-Arab sites of different sizes.

The issue's bound: the peak RSS (the kernel's VmHWM of the ``scrapy crawl`` process; the extraction workers
are separate processes and not counted) of a whole-site crawl of 100,000 articles within 10 % of that of
20,000. Each size is served by its own ``newsroom.bigsite serve --libya-percent P`` and crawled with
``CRAWL_FOCUS=prioritise``, no budget, so every article is fetched, extracted, judged and archived. The
frontier, the seen-set, the incremental state, the revisit index and the recovery journal are on disk
(``crawler/frontier/``, ``archive/diskmap.py``), so memory should not grow with the site.

Disk: the WARC files of a 100,000-article site take several GB (pages of 30-150 KB, gzip); the bench
prints what it expects to need and refuses to start without it, and removes its work directory at the end
(``--keep`` keeps it). ``--no-requisites`` and ``--no-corpus`` switch page requisites and the research
corpus off (fewer fetches and less CPU on a shared machine). At the default ``--libya-percent 4`` only that
share of the articles is stored, so whatever the main process keeps per *stored* article (the corpus's
queued dataset rows, the report's lines) hardly shows; ``--libya-percent 85`` stores as many as the
``newsroom.bigsite`` of ``bench/pipeline.py`` does. Run it under ``nice``::

    nice .venv/bin/python bench/memory.py --articles 20000 100000 --no-requisites --no-corpus
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

from focus import measure, panarab_server  # noqa: E402

from newsroom.panarab import PanArabSite  # noqa: E402

# Bytes of disk per article: its WARC records (gzip) in the WARC directory, plus the spool's links and the
# store's copy, with room to spare.
DISK_PER_ARTICLE = 120_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, nargs="+", default=[20000, 100000])
    parser.add_argument("--libya-percent", type=float, default=4.0)
    parser.add_argument("--no-requisites", action="store_true", help="CRAWL_REQUISITES=False")
    parser.add_argument("--no-corpus", action="store_true", help="CORPUS_ENABLED=False")
    parser.add_argument("--max-growth", type=float, default=0.10, help="exit 1 above this (default 0.10)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the crawls write (default: /tmp)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    base = args.workdir or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    need = max(args.articles) * DISK_PER_ARTICLE
    free = shutil.disk_usage(base).free
    print(
        f"disk: needs about {need / 2**30:.1f} GiB in {base} for the largest site; {free / 2**30:.1f} GiB free"
    )
    if free < need:
        print("FAIL: not enough disk")
        return 2
    settings = {"CRAWL_FOCUS": "prioritise"}
    if args.no_requisites:
        settings["CRAWL_REQUISITES"] = "False"
    if args.no_corpus:
        settings["CORPUS_ENABLED"] = "False"
    print("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), flush=True)
    rows = []
    for articles in args.articles:
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-memory-{articles}-", dir=base))
        try:
            with panarab_server(workdir, articles, args.libya_percent) as (sources, url):
                site = PanArabSite("big01", 0, articles, libya_percent=args.libya_percent, base_url=url)
                gold = {site.article_url(n) for n in site.libya_numbers()}
                row = measure(f"whole-{articles}", sources, workdir, gold, settings, timeout=4 * 3600)
                row["articles"] = articles
                row["gold"] = len(gold)
                rows.append(row)
                print(
                    f"{articles} articles: {row['pages']} pages, {row['stored_libya']}/{len(gold)} Libya stored "
                    f"({row['duplicates']} twice), {row['seconds']:.0f} s, main peak RSS "
                    f"{(row['peak_rss'] or 0) / 2**20:.0f} MiB",
                    flush=True,
                )
        finally:
            if args.keep:
                print(f"work directory kept: {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"{'articles':>9} {'pages':>8} {'Libya stored':>13} {'dupes':>6} {'seconds':>8} {'main peak RSS MiB':>18}"
    )
    for r in rows:
        print(
            f"{r['articles']:>9} {r['pages']:>8} {r['stored_libya']:>8}/{r['gold']:<4} {r['duplicates']:>6} "
            f"{r['seconds']:>8.0f} {(r['peak_rss'] or 0) / 2**20:>18.0f}"
        )
    peaks = [r["peak_rss"] or 0 for r in rows]
    if len(peaks) > 1 and min(peaks):
        growth = max(peaks) / min(peaks) - 1
        print(f"peak RSS growth from the smallest to the largest site: {growth:+.1%}")
        if growth > args.max_growth:
            print(f"FAIL: more than {args.max_growth:.0%}")
            return 1
    if any(r["stored_libya"] != r["gold"] or r["duplicates"] for r in rows):
        print("FAIL: a whole-site crawl did not store every Libya article exactly once")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
