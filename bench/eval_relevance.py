"""Precision and recall of the relevance topic on a labelled set of articles (prints numbers; not a test).

The labelled set is the offline newsroom's gold (``newsroom.Newsroom().articles``: title, clean main text,
``relevant``, ``relevance_case``), or a JSON-lines file of ``{"title", "text", "relevant"}`` objects
(optional ``"id"`` and ``"case"``). Each article's title + text is scored with the topic; the script prints
per-case counts, the confusion matrix, precision, recall, the score margin between the classes, and the
misclassified ids.

    .venv/bin/python bench/eval_relevance.py                      # newsroom gold, default topic
    .venv/bin/python bench/eval_relevance.py --jsonl labelled.jsonl --topic relevance/topics/libya.yaml
    .venv/bin/python bench/eval_relevance.py --min-precision 0.95 --min-recall 0.95   # exit 1 below

Reads no settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from relevance import Relevance, Topic, default_topic_path


@dataclass(frozen=True)
class Labelled:
    """One labelled article."""

    id: str
    case: str
    title: str
    text: str
    relevant: bool


def load_jsonl(path: Path) -> list[Labelled]:
    """Read ``{"title", "text", "relevant"[, "id", "case"]}`` lines; blank lines are skipped."""
    items: list[Labelled] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row.get("relevant"), bool):
                raise SystemExit(f"{path}:{number}: 'relevant' must be true or false")
            items.append(
                Labelled(
                    id=str(row.get("id", f"{path.name}:{number}")),
                    case=str(row.get("case", "relevant" if row["relevant"] else "not_relevant")),
                    title=str(row.get("title", "")),
                    text=str(row.get("text", "")),
                    relevant=row["relevant"],
                )
            )
    return items


def load_newsroom() -> list[Labelled]:
    """The newsroom's gold articles; no server is started, only the article list is read.

    Falls back to the newsroom's corpus catalogue (``newsroom.catalog.load_catalog``) while the
    ``Newsroom`` class is not importable.
    """
    from newsroom import Newsroom

    # The gold carries URLs with the sites' ports, so the newsroom is started (on free ports) to read it.
    with Newsroom() as newsroom:
        articles: list[Any] = list(newsroom.articles)
    return [
        Labelled(
            id=str(a.id),
            case=str(getattr(a, "relevance_case", None) or a.case),
            title=a.title,
            text="\n\n".join(a.paragraphs),
            relevant=bool(a.relevant),
        )
        for a in articles
    ]


def evaluate(topic: Topic, items: list[Labelled], *, show_all: bool = False) -> tuple[float, float]:
    """Score every item, print the report, return (precision, recall)."""
    verdicts: list[tuple[Labelled, Relevance]] = [
        (item, topic.score(item.title, item.text)) for item in items
    ]
    tp = sum(1 for item, r in verdicts if item.relevant and r.relevant)
    fp = sum(1 for item, r in verdicts if not item.relevant and r.relevant)
    fn = sum(1 for item, r in verdicts if item.relevant and not r.relevant)
    tn = sum(1 for item, r in verdicts if not item.relevant and not r.relevant)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0

    print(f"topic: {topic.name} ({topic.source}), threshold {topic.threshold:g}; articles: {len(items)}")
    print()
    by_case: dict[str, list[tuple[Labelled, Relevance]]] = defaultdict(list)
    for item, r in verdicts:
        by_case[item.case].append((item, r))
    print(f"{'case':<32} {'n':>4} {'gold+':>6} {'pred+':>6} {'correct':>8} {'min':>8} {'max':>8}")
    for case in sorted(by_case):
        rows = by_case[case]
        scores = [r.score for _, r in rows]
        print(
            f"{case:<32} {len(rows):>4} {sum(i.relevant for i, _ in rows):>6} "
            f"{sum(r.relevant for _, r in rows):>6} {sum(i.relevant == r.relevant for i, r in rows):>8} "
            f"{min(scores):>8.2f} {max(scores):>8.2f}"
        )
    print()
    print("confusion matrix      predicted relevant   predicted not")
    print(f"  gold relevant       {tp:>18}   {fn:>13}")
    print(f"  gold not relevant   {fp:>18}   {tn:>13}")
    print()
    print(f"precision {precision:.3f}   recall {recall:.3f}   accuracy {(tp + tn) / max(len(items), 1):.3f}")
    positives = [r.score for i, r in verdicts if i.relevant]
    negatives = [r.score for i, r in verdicts if not i.relevant]
    if positives and negatives:
        print(f"lowest relevant score {min(positives):.2f}; highest not-relevant score {max(negatives):.2f}")

    wrong = [(i, r) for i, r in verdicts if i.relevant != r.relevant]
    shown = verdicts if show_all else wrong
    if shown:
        print()
        print("all articles:" if show_all else "misclassified:")
        for item, r in sorted(shown, key=lambda v: (v[0].case, v[1].score)):
            mark = " " if item.relevant == r.relevant else "!"
            terms = ", ".join(f"{t}×{n}" for t, n in list(r.matched.items())[:6])
            print(
                f" {mark} {item.id:<28} {item.case:<30} gold={item.relevant!s:<5} score={r.score:7.2f}  {terms}"
            )
            print(f"     {item.title[:100]}")
    return precision, recall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--topic", type=Path, default=default_topic_path(), help="topic YAML (default: libya)"
    )
    parser.add_argument("--jsonl", type=Path, help="labelled JSON lines instead of the newsroom gold")
    parser.add_argument("--show-all", action="store_true", help="list every article, not only the errors")
    parser.add_argument("--min-precision", type=float, default=0.0, help="exit 1 if precision is lower")
    parser.add_argument("--min-recall", type=float, default=0.0, help="exit 1 if recall is lower")
    args = parser.parse_args(argv)

    topic = Topic.load(args.topic)
    items = load_jsonl(args.jsonl) if args.jsonl else load_newsroom()
    if not items:
        print("no labelled articles", file=sys.stderr)
        return 1
    precision, recall = evaluate(topic, items, show_all=args.show_all)
    return 0 if precision >= args.min_precision and recall >= args.min_recall else 1


if __name__ == "__main__":
    raise SystemExit(main())
