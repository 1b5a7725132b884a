"""Precision and recall of near-duplicate clustering on the newsroom's syndication gold (prints numbers).

Every newsroom article (all five sites: agency copies as sent, edited and shortened, stories on one site,
near misses sharing their first paragraph, and the rest of the corpus) goes through ``corpus.neardup``
in publication order, as a crawl would meet them. Counted over pairs of articles: a pair is positive when
both are in the same gold cluster (``ArticleSpec.story``), predicted positive when both end in the same
cluster (after merges). Prints the pair counts, precision, recall and the pairs it got wrong.

    .venv/bin/python bench/eval_neardup.py
    .venv/bin/python bench/eval_neardup.py --min-precision 0.95 --min-recall 0.95   # exit 1 below
    .venv/bin/python bench/eval_neardup.py --real DIR         # real pages elsewhere

With ``--real DIR`` (default ``<repo>/../shared/evaldata/arabic``, skipped with a note when absent) (a folder with ``INDEX.json`` and ``html/``: real Arabic news pages, for evaluation
only), each page is extracted as the crawler would, and given two copies made here in memory (the site's
own intro line with the last paragraph dropped; the first half with a closing line): the same pair
counting over pages and copies, where each page and its copies are one gold cluster.

Reads no settings.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# Real Arabic news pages, evaluation only (never copied into the project), as bench/eval_extraction.py.
REAL = REPO.parent / "shared" / "evaldata" / "arabic"

from corpus.neardup import NearDupConfig, NearDupIndex  # noqa: E402
from newsroom.catalog import load_catalog  # noqa: E402


def newsroom_items() -> list[tuple[str, str, str, str]]:
    """(id, gold cluster, when, text) of every newsroom article, in publication order."""
    specs = sorted((s for site in load_catalog().values() for s in site), key=lambda s: (s.published, s.id))
    return [(s.id, s.story or s.id, s.published.isoformat(), "\n\n".join(s.paragraphs)) for s in specs]


def real_items(folder: Path) -> list[tuple[str, str, str, str]]:
    """Real pages (extracted) and two copies of each made in memory; see the module docstring."""
    from extraction import Article, extract

    items = []
    for entry in json.loads((folder / "INDEX.json").read_text(encoding="utf-8")):
        result = extract((folder / entry["html"]).read_bytes(), entry["url"])
        if not isinstance(result, Article) or len(result.paragraphs) < 2:
            continue
        paragraphs = list(result.paragraphs)
        page = entry["id"]
        half = max(1, len(paragraphs) // 2)
        items += [
            (page, page, "1", "\n\n".join(paragraphs)),
            (f"{page}~edited", page, "2", "\n\n".join(["نقلاً عن الوكالة:", *paragraphs[:-1]])),
            (f"{page}~short", page, "3", "\n\n".join([*paragraphs[:half], "وسنوافيكم بالتفاصيل لاحقاً."])),
        ]
    return items


def evaluate(name: str, items: list[tuple[str, str, str, str]]) -> tuple[float, float]:
    """Cluster ``items`` in order and print the pair counts; return (precision, recall)."""
    index = NearDupIndex(NearDupConfig())
    started = time.process_time()
    assigned = {}
    for key, _, when, text in items:
        assigned[key] = index.assign(key, text, when).cluster
    cpu_ms = (time.process_time() - started) * 1000
    predicted = {key: index.root(cluster) for key, cluster in assigned.items()}
    gold = {key: cluster for key, cluster, _, _ in items}

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
    clusters = len(set(gold.values()))
    print(
        f"near-duplicates, {name}: {len(items)} articles, {clusters} gold clusters, {tp + fn} positive pairs"
    )
    print(f"  pairs: tp={tp} fp={fp} fn={fn}")
    print(f"  precision {precision:.3f}  recall {recall:.3f}")
    print(f"  CPU {cpu_ms / max(1, len(items)):.2f} ms an article (signature + LSH + checks)")
    for line in wrong[:30]:
        print(line)
    return precision, recall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-precision", type=float, default=0.0)
    parser.add_argument("--min-recall", type=float, default=0.0)
    parser.add_argument("--real", type=Path, default=REAL, help="a folder of real pages (INDEX.json, html/)")
    args = parser.parse_args(argv)
    precision, recall = evaluate("newsroom syndication gold", newsroom_items())
    if (args.real / "INDEX.json").exists():
        evaluate(f"real pages in {args.real} and copies made of them", real_items(args.real))
    else:
        print(f"(no real pages at {args.real}: that part skipped)")
    if precision < args.min_precision or recall < args.min_recall:
        print(f"FAIL: below --min-precision {args.min_precision} / --min-recall {args.min_recall}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
