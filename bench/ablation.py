"""Ablations: where the crawl's time goes (default), and where the extraction's text goes (``extraction``).

``bench/ablation.py extraction [--sets trafilatura,arabic]``: the real sets scored for plain trafilatura
(defaults), trafilatura with ``favor_precision``, and ``extraction.extract`` with each stage switched on or off
(precision or default mode first, DOM clean-up, paragraph clean-up); one row per variant.

``bench/ablation.py [crawl options]``: the same crawl with one component taken away at a time.

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
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import SITES, Row, bigsite, crawl, table
from procstats import machine

PIPES_NO_STORE = json.dumps(
    {"crawler.pipelines.extract.ExtractPipeline": 100, "crawler.pipelines.relevance.RelevancePipeline": 200}
)


def extraction_ablation(argv: list[str]) -> int:
    import eval_extraction as ev

    from extraction.pipeline import Options

    parser = argparse.ArgumentParser(description="extraction ablation on the real sets")
    parser.add_argument("--sets", default="trafilatura,arabic")
    args = parser.parse_args(argv)
    sets = ev.load_sets(s for s in args.sets.split(",") if s)
    variants: dict[str, ev.Extractor] = {
        "plain trafilatura (defaults)": ev.plain(),
        "trafilatura favor_precision": ev.plain(favor_precision=True),
    }
    for precision in (True, False):
        for dom in (True, False):
            for para in (True, False):
                name = (
                    f"ours {'precision' if precision else 'default'} mode, DOM {'on' if dom else 'off'}, "
                    f"paragraphs {'on' if para else 'off'}"
                )
                variants[name] = ev.ours(
                    Options(favor_precision=precision, dom_cleanup=dom, paragraph_cleanup=para)
                )
    plain_hits = {
        name: [s.with_found for s in ev.run_set(pages, ev.plain())[1]] for name, pages in sets.items()
    }
    columns = [g for set_name, pages in sets.items() for g, _ in ev.groups(set_name, pages)]
    print(f"{'variant':52} " + " ".join(f"{c[:24]:>24}" for c in columns))
    for name, extractor in variants.items():
        cells = []
        for set_name, pages in sets.items():
            outs, scores = ev.run_set(pages, extractor)
            for _, idx in ev.groups(set_name, pages):
                sub = [pages[i] for i in idx]
                summary = ev.summarise(sub, [outs[i] for i in idx], [scores[i] for i in idx])
                fewer = ev.fewer_with(sub, [scores[i] for i in idx], [plain_hits[set_name][i] for i in idx])
                cells.append(f"{summary.f1:.3f} {summary.precision:.3f}/{summary.recall:.3f} {len(fewer):>3}")
        print(f"{name:52} " + " ".join(f"{c:>24}" for c in cells), flush=True)
    print("cells: F1 P/R, pages with fewer 'with' snippets than plain trafilatura")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["extraction"]:
        return extraction_ablation(argv[1:])
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
