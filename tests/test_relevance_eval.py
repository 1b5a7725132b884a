"""bench/eval_relevance.py on a hand-labelled JSON-lines set: the report's numbers and misclassified ids."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "eval_relevance.py"

ROWS = [
    {
        "id": "pos-title",
        "title": "اشتباكات عنيفة جنوب طرابلس",
        "relevant": True,
        "text": "قالت قوات حكومة الوفاق إنها صدت هجوماً لقوات حفتر.\n\nوأكد المتحدث أن الوضع تحت السيطرة.",
    },
    {
        "id": "pos-lead",
        "title": "بيان عاجل",
        "relevant": True,
        "text": "أعلنت المؤسسة الوطنية للنفط في ليبيا استئناف التصدير من ميناء البريقة.\n\n"
        "وقال صنع الله إن الإنتاج سيرتفع تدريجياً.",
    },
    {
        "id": "neg-tripoli-lebanon",
        "title": "مواجهات في طرابلس",
        "relevant": False,
        "text": "شهدت طرابلس في شمال لبنان مواجهات بين محتجين والجيش اللبناني.",
    },
    {
        "id": "neg-off-topic",
        "title": "المنتخب يتأهل",
        "relevant": False,
        "text": "تأهل المنتخب المغربي إلى النهائيات بعد فوزه على منافسه.",
    },
    # labelled relevant, but its only mention is a deep passing one: the topic must say no
    {
        "id": "mislabelled",
        "title": "أسعار الذهب",
        "relevant": True,
        "text": "ارتفعت أسعار الذهب.\n\nوتراجع الدولار.\n\nوقال محلل إن الأسواق تتابع الوضع في ليبيا.",
    },
]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eval_relevance", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_eval_reports_confusion_precision_recall_and_errors(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in ROWS) + "\n", encoding="utf-8")
    assert bench.main(["--jsonl", str(path)]) == 0
    out = capsys.readouterr().out
    assert "precision 1.000   recall 0.667" in out
    assert "articles: 5" in out
    assert "mislabelled" in out and "pos-title" not in out.split("misclassified:")[1]
    assert bench.main(["--jsonl", str(path), "--min-recall", "0.95"]) == 1
