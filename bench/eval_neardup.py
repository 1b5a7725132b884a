"""Precision and recall of near-duplicate clustering on the newsroom's syndication gold (prints numbers).

Every newsroom article (all five sites: agency copies as sent, edited and shortened, stories on one site,
near misses sharing their first paragraph, and the rest of the corpus) goes through ``corpus.neardup``
in publication order, as a crawl would meet them. Counted over pairs of articles: a pair is positive when
both are in the same gold cluster (``ArticleSpec.story``), predicted positive when both end in the same
cluster (after merges). Prints the pair counts, precision, recall and the pairs it got wrong.

    .venv/bin/python bench/eval_neardup.py
    .venv/bin/python bench/eval_neardup.py --min-precision 0.95 --min-recall 0.95   # exit 1 below

Reads no settings.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus.neardup import NearDupConfig, NearDupIndex
from newsroom.catalog import load_catalog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-precision", type=float, default=0.0)
    parser.add_argument("--min-recall", type=float, default=0.0)
    args = parser.parse_args(argv)

    specs = sorted((s for site in load_catalog().values() for s in site), key=lambda s: (s.published, s.id))
    index = NearDupIndex(NearDupConfig())
    started = time.process_time()
    assigned = {}
    for spec in specs:
        text = "\n\n".join(spec.paragraphs)
        assigned[spec.id] = index.assign(spec.id, text, spec.published.isoformat()).cluster
    cpu_ms = (time.process_time() - started) * 1000
    predicted = {aid: index.root(cluster) for aid, cluster in assigned.items()}
    gold = {s.id: s.story or s.id for s in specs}

    tp = fp = fn = 0
    wrong: list[str] = []
    for a, b in itertools.combinations(sorted(gold), 2):
        same_gold = gold[a] == gold[b]
        same_pred = predicted[a] == predicted[b]
        if same_gold and same_pred:
            tp += 1
        elif same_pred:
            fp += 1
            wrong.append(f"  false positive: {a} ~ {b}")
        elif same_gold:
            fn += 1
            wrong.append(f"  false negative: {a} / {b} (gold {gold[a]})")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    clusters = len({c for c in gold.values()})
    print(f"near-duplicates: {len(specs)} articles, {clusters} gold clusters, {tp + fn} positive pairs")
    print(f"  pairs: tp={tp} fp={fp} fn={fn}")
    print(f"  precision {precision:.3f}  recall {recall:.3f}")
    print(f"  CPU {cpu_ms / len(specs):.2f} ms an article (signature + LSH + checks)")
    for line in wrong[:30]:
        print(line)
    if precision < args.min_precision or recall < args.min_recall:
        print(f"FAIL: below --min-precision {args.min_precision} / --min-recall {args.min_recall}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
