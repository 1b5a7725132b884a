"""Where the full pipeline's time goes: the same crawl with one component taken away at a time.

Runs ``scrapy crawl libya`` (file store) against ``newsroom.bigsite`` and prints one row per variant:
everything; no gated pages (no rendering); then, without rendering, no WARC; no store pipeline; no
extraction/relevance/store (fetch + WARC + gate detection only). The difference between two rows is the
cost of what was removed. ``--articles N`` (default 2000), ``--set NAME=VALUE`` for every crawl.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import SITES, Row, bigsite, crawl, table
from procstats import machine

PIPES_NO_STORE = json.dumps(
    {"crawler.pipelines.extract.ExtractPipeline": 100, "crawler.pipelines.relevance.RelevancePipeline": 200}
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--per-domain", type=int, default=16)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.set)
    opts = {"concurrency": args.concurrency, "per_domain": args.per_domain}
    workdir = Path(tempfile.mkdtemp(prefix="bench-ablation-"))
    rows: list[Row] = []
    try:
        with bigsite(workdir, args.articles) as (_, sources):
            rows.append(crawl("everything (5 % gated)", sources, workdir, extra, **opts)[0])
        with bigsite(workdir, args.articles, gated_share=0.0) as (_, sources):
            variants = {
                "no gated pages": {},
                "no gated pages, no WARC": {"WARC_ENABLED": "False", "WACZ_ENABLED": "False"},
                "no gated pages, no store pipeline": {"ITEM_PIPELINES": PIPES_NO_STORE},
                "no gated pages, no item pipelines": {"ITEM_PIPELINES": "{}"},
            }
            for name, settings in variants.items():
                rows.append(crawl(name, sources, workdir, {**extra, **settings}, **opts)[0])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{args.articles:,} articles over {SITES} sites; {machine()['cpu']}")
    print("\n".join(table(rows, int(machine()["cores"]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
