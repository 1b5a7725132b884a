"""Score ``extraction.extract`` on real pages and the newsroom, side by side with plain trafilatura.

Run from the repository root (``make eval``)::

    .venv/bin/python bench/eval_extraction.py [--sets trafilatura,arabic,newsroom] [--json PATH]
    .venv/bin/python bench/eval_extraction.py --gate      # the quality gate `make test` runs
    .venv/bin/python bench/eval_extraction.py --pin       # rewrite bench/eval_baseline.json from this run
    .venv/bin/python bench/eval_extraction.py --cost      # CPU-ms a page, ours vs plain (`make bench`)

Plain trafilatura is ``trafilatura.extract(body, url=url)`` with its default settings, the installed version,
given the same raw bytes and URL as ours. Sets (see ``bench/evalsets.py``): the trafilatura evaluation set
(snippet precision/recall/F1/accuracy, overall as trafilatura computes it: summed over pages; reported for the
tuning half, the held-out half and all), the Arabic dev set (token F1 where there is full-text gold, snippet
F1 otherwise; titles, dates) and the newsroom gold (token F1, boilerplate leaks). One table is printed and
every page's result is written as JSON (``--json``, default ``.eval-cache/eval-pages.json``) so a
regression names its pages.

The gate (``--gate``) fails when a set's score drops below its pinned floor in ``bench/eval_baseline.json``,
when more pages than the pinned allowance find fewer "with" snippets than plain trafilatura finds on them
(plain's per-page hits are pinned there, for the trafilatura version they were measured with), or when
``extract`` raises. Without ``../shared/evaldata`` it says the gate was not run and exits 0, except under
``CI=true``, where a missing folder is an error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import trafilatura  # noqa: E402
from evalsets import (  # noqa: E402
    CACHE,
    SHARED,
    Page,
    arabic_pages,
    newsroom_pages,
    shared_present,
    trafilatura_pages,
)

from extraction import Article, extract  # noqa: E402
from extraction.models import REASON_INTERNAL_ERROR  # noqa: E402
from extraction.pipeline import Options  # noqa: E402

logger = logging.getLogger("eval_extraction")

BASELINE = REPO / "bench" / "eval_baseline.json"
_PUNCT = "\"'.,:;!?()[]{}<>«»“”‘’„…–—-_*/\\|،؛؟٪#@&%+=~`^"

# The defect strings an older pipeline let through (../shared/seeds) and common template boilerplate.
LEAK_STRINGS = (
    "Sorry, you need to enable JavaScript",
    "enable JavaScript",
    "يرجى تفعيل جافا سكريبت",
    "تفعيل الجافا سكريبت",
    "الرئيسية »",
    "الرئيسية /",
    "الرئيسية >",
    "شاهد أيضاً",
    "شاهد أيضا",
    "اقرأ أيضاً",
    "اقرأ أيضا",
    "مواضيع ذات صلة",
    "أخبار ذات صلة",
    "اترك تعليقاً",
    "اترك تعليقا",
    "لن يتم نشر عنوان بريدك الإلكتروني",
    "الحقول الإلزامية",
    "عن الكاتب",
    "شارك على فيسبوك",
    "شارك على تويتر",
    "<p>",
    "</p>",
    "&lt;",
    "&gt;",
    'class="',
    "ملفات تعريف الارتباط",
    "إضافة تعليق جديد",
    "جميع الحقوق محفوظة",
)


@dataclass
class Output:
    text: str = ""
    title: str | None = None
    date: str | None = None
    cpu_ms: float = 0.0
    error: str | None = None
    cleanup: str | None = None


@dataclass
class Score:
    with_found: int = 0
    without_found: int = 0
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    leaks: list[str] = field(default_factory=list)
    date_ok: bool | None = None
    title_ok: bool | None = None


Extractor = Callable[[Page], Output]


# --- extractors -----------------------------------------------------------------------------------------


def ours(options: Options | None = None) -> Extractor:
    def run(page: Page) -> Output:
        start = time.process_time()
        try:
            result = (
                extract(page.body, page.url, page.headers, options)
                if options
                else extract(page.body, page.url, page.headers)
            )
        except Exception as error:  # the eval counts exceptions; extract() must never raise
            logger.exception("extract raised on %s", page.page_id)
            return Output(error=f"{type(error).__name__}: {error}")
        cpu = 1000 * (time.process_time() - start)
        if isinstance(result, Article):
            return Output(result.text, result.title, result.published, cpu, cleanup=result.cleanup)
        if result.reason == REASON_INTERNAL_ERROR:  # extract() caught a bug: as bad as an exception
            return Output(cpu_ms=cpu, error=REASON_INTERNAL_ERROR, cleanup=result.reason)
        return Output(cpu_ms=cpu, cleanup=result.reason)

    return run


def plain(**kwargs: Any) -> Extractor:
    """``trafilatura.extract`` with its defaults (plus ``kwargs``, for the ablation)."""

    def run(page: Page) -> Output:
        start = time.process_time()
        try:
            text = trafilatura.extract(page.body, url=page.url, **kwargs) or ""
        except Exception as error:
            return Output(error=f"{type(error).__name__}: {error}")
        cpu = 1000 * (time.process_time() - start)
        title = date = None
        if page.title or page.date:
            meta = trafilatura.extract_metadata(page.body, default_url=page.url)
            title, date = (meta.title, meta.date) if meta is not None else (None, None)
        return Output(text, title, date, cpu)

    return run


# --- scoring --------------------------------------------------------------------------------------------


def tokens(text: str) -> Counter[str]:
    """Whitespace tokens with punctuation stripped from both ends; empty tokens dropped."""
    counted: Counter[str] = Counter()
    for raw in text.split():
        token = raw.strip(_PUNCT)
        if token:
            counted[token] += 1
    return counted


def prf(output: str, gold: str) -> tuple[float, float, float]:
    out, ref = tokens(output), tokens(gold)
    overlap = sum((out & ref).values())
    precision = overlap / max(sum(out.values()), 1)
    recall = overlap / max(sum(ref.values()), 1)
    return precision, recall, _f1(precision, recall)


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def leaks(text: str, extra: Iterable[str] = ()) -> list[str]:
    """Each leaked boilerplate string (once per occurrence) and each repeated paragraph."""
    found: list[str] = []
    for needle in (*LEAK_STRINGS, *extra):
        found.extend([needle] * text.count(needle))
    paragraphs = [p.strip() for p in text.split("\n") if len(p.strip()) >= 30]
    found.extend(f"repeated: {p[:40]}" for p, n in Counter(paragraphs).items() if n > 1 for _ in range(n - 1))
    return found


def _norm_title(title: str | None) -> str:
    return " ".join((title or "").replace('"', "").split())


def score(page: Page, out: Output) -> Score:
    result = Score()
    text = out.text
    result.with_found = sum(1 for s in page.with_snippets if s in text)
    result.without_found = sum(1 for s in page.without_snippets if s in text)
    if page.text is not None:
        result.precision, result.recall, result.f1 = prf(text, page.text)
    elif page.with_snippets:
        found = result.with_found + result.without_found
        result.precision = result.with_found / found if found else 0.0
        result.recall = result.with_found / len(page.with_snippets)
        result.f1 = _f1(result.precision, result.recall)
    if page.set_name != "trafilatura":
        result.leaks = leaks(text, (*page.extra_leaks, *page.without_snippets))
    if page.date:
        result.date_ok = (out.date or "")[:10] == page.date[:10]
    if page.title:
        result.title_ok = _norm_title(out.title) == _norm_title(page.title)
    return result


@dataclass
class Summary:
    """One set (or half) for one extractor."""

    pages: int
    precision: float
    recall: float
    f1: float
    accuracy: float | None
    errors: int
    leaks: int
    cpu_ms: float
    dates: str
    titles: str


def summarise(pages: list[Page], outs: list[Output], scores: list[Score]) -> Summary:
    errors = sum(1 for o in outs if o.error)
    cpu = statistics.mean(o.cpu_ms for o in outs) if outs else 0.0
    dates = [s.date_ok for s in scores if s.date_ok is not None]
    titles = [s.title_ok for s in scores if s.title_ok is not None]
    common = {
        "pages": len(pages),
        "errors": errors,
        "leaks": sum(len(s.leaks) for s in scores),
        "cpu_ms": cpu,
        "dates": f"{sum(dates)}/{len(dates)}",
        "titles": f"{sum(titles)}/{len(titles)}",
    }
    if pages and pages[0].set_name == "trafilatura":
        # trafilatura's own evaluation: counts summed over all pages.
        tp = sum(s.with_found for s in scores)
        fn = sum(len(p.with_snippets) for p in pages) - tp
        fp = sum(s.without_found for s in scores)
        tn = sum(len(p.without_snippets) for p in pages) - fp
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        accuracy = (tp + tn) / max(tp + fn + fp + tn, 1)
        return Summary(
            precision=precision, recall=recall, f1=_f1(precision, recall), accuracy=accuracy, **common
        )
    rated = [s for s in scores if s.f1 is not None]
    return Summary(
        precision=statistics.mean(s.precision or 0.0 for s in rated) if rated else 0.0,
        recall=statistics.mean(s.recall or 0.0 for s in rated) if rated else 0.0,
        f1=statistics.mean(s.f1 or 0.0 for s in rated) if rated else 0.0,
        accuracy=None,
        **common,
    )


# --- running --------------------------------------------------------------------------------------------


def load_sets(names: Iterable[str]) -> dict[str, list[Page]]:
    sets: dict[str, list[Page]] = {}
    for name in names:
        if name == "trafilatura":
            sets[name] = trafilatura_pages()
        elif name == "arabic":
            sets[name] = arabic_pages()
        elif name == "newsroom":
            with newsroom_pages() as pages:
                sets[name] = pages
        if not sets.get(name):
            print(f"note: set {name!r} not available; skipped")
            sets.pop(name, None)
    return sets


def groups(set_name: str, pages: list[Page]) -> list[tuple[str, list[int]]]:
    """Row groups of a set: the trafilatura set by half, then all; every other set whole."""
    every = list(range(len(pages)))
    if set_name != "trafilatura":
        return [(set_name, every)]
    return [
        ("trafilatura tune half", [i for i in every if pages[i].half == "tune"]),
        ("trafilatura held-out half", [i for i in every if pages[i].half == "held"]),
        ("trafilatura all", every),
    ]


def run_set(pages: list[Page], extractor: Extractor) -> tuple[list[Output], list[Score]]:
    outs = [extractor(page) for page in pages]
    return outs, [score(page, out) for page, out in zip(pages, outs, strict=True)]


def fewer_with(pages: list[Page], ours_scores: list[Score], plain_hits: list[int]) -> list[str]:
    return [
        p.page_id for p, s, hits in zip(pages, ours_scores, plain_hits, strict=True) if s.with_found < hits
    ]


def _fmt(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def table(rows: list[tuple[str, Summary, Summary, int]]) -> str:
    head = (
        f"{'set':28} {'pages':>5} | {'P':>6} {'R':>6} {'F1':>6} {'acc':>6} | "
        f"{'plain P':>7} {'R':>6} {'F1':>6} {'acc':>6} | {'fewer':>5} {'exc':>3} {'leaks':>9} "
        f"{'dates':>7} {'titles':>7} | {'CPU-ms ours/plain':>17}"
    )
    lines = [head, "-" * len(head)]
    for name, o, b, fewer in rows:
        lines.append(
            f"{name:28} {o.pages:>5} | {_fmt(o.precision)} {_fmt(o.recall)} {_fmt(o.f1)} {_fmt(o.accuracy)} | "
            f"{_fmt(b.precision):>7} {_fmt(b.recall)} {_fmt(b.f1)} {_fmt(b.accuracy)} | {fewer:>5} "
            f"{o.errors:>3} {o.leaks:>4}/{b.leaks:<4} {o.dates:>7} {o.titles:>7} | "
            f"{o.cpu_ms:8.1f}/{b.cpu_ms:<8.1f}"
        )
    return "\n".join(lines)


def evaluate(
    sets: dict[str, list[Page]], json_path: Path | None
) -> tuple[list[tuple[str, Summary, Summary, int]], dict[str, Any]]:
    rows: list[tuple[str, Summary, Summary, int]] = []
    per_page: dict[str, Any] = {}
    for set_name, pages in sets.items():
        o_outs, o_scores = run_set(pages, ours())
        b_outs, b_scores = run_set(pages, plain())
        plain_hits = [s.with_found for s in b_scores]
        for name, idx in groups(set_name, pages):
            sub = [pages[i] for i in idx]
            fewer = fewer_with(sub, [o_scores[i] for i in idx], [plain_hits[i] for i in idx])
            rows.append(
                (
                    name,
                    summarise(sub, [o_outs[i] for i in idx], [o_scores[i] for i in idx]),
                    summarise(sub, [b_outs[i] for i in idx], [b_scores[i] for i in idx]),
                    len(fewer),
                )
            )
        per_page[set_name] = [
            {
                "page": p.page_id,
                "url": p.url,
                "half": p.half or None,
                "ours": {**asdict(s), "error": o.error, "cleanup": o.cleanup, "cpu_ms": round(o.cpu_ms, 2)},
                "plain": {**asdict(bs), "error": bo.error, "cpu_ms": round(bo.cpu_ms, 2)},
                "fewer_with_than_plain": s.with_found < bs.with_found,
                "f1_below_plain": s.f1 is not None and bs.f1 is not None and s.f1 < bs.f1 - 1e-9,
            }
            for p, o, s, bo, bs in zip(pages, o_outs, o_scores, b_outs, b_scores, strict=True)
        ]
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(per_page, ensure_ascii=False, indent=1), encoding="utf-8")
    return rows, per_page


# --- the gate -------------------------------------------------------------------------------------------


def pin(rows: list[tuple[str, Summary, Summary, int]], per_page: dict[str, Any]) -> None:
    """Write the baseline: floors a little under today's scores, plain trafilatura's per-page hits."""
    baseline = {
        "trafilatura_version": trafilatura.__version__,
        "floors": {name: {"f1": _floor(o.f1), "precision": _floor(o.precision)} for name, o, _, _ in rows},
        "fewer_with_allowance": {name: fewer for name, _, _, fewer in rows},
        "plain_with_hits": {
            set_name: {row["page"]: row["plain"]["with_found"] for row in pages if row["plain"]["with_found"]}
            for set_name, pages in per_page.items()
        },
    }
    BASELINE.write_text(json.dumps(baseline, ensure_ascii=False, indent=1, sort_keys=True) + "\n", "utf-8")
    print(f"pinned {BASELINE.relative_to(REPO)}")


def _floor(value: float) -> float:
    return round(max(0.0, int(value * 1000) / 1000 - 0.003), 3)


def gate() -> int:
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if not shared_present():
        if ci:
            print(
                f"real-page gate: {SHARED} is missing and CI=true: the gate must run under CI",
                file=sys.stderr,
            )
            return 1
        print(f"real-page gate NOT RUN: {SHARED} is not present (a clone without ../shared)")
        return 0
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    same_version = baseline["trafilatura_version"] == trafilatura.__version__
    sets = load_sets(("trafilatura", "arabic", "newsroom"))
    failures: list[str] = []
    report: list[tuple[str, Summary, Summary, int]] = []
    for set_name, pages in sets.items():
        o_outs, o_scores = run_set(pages, ours())
        if same_version:
            pinned = baseline["plain_with_hits"].get(set_name, {})
            plain_hits = [pinned.get(p.page_id, 0) for p in pages]
        else:  # plain trafilatura's hits are only comparable for the version they were measured with
            plain_hits = [s.with_found for s in run_set(pages, plain())[1]]
        failures.extend(
            f"{set_name}: {p.page_id}: {o.error}" for p, o in zip(pages, o_outs, strict=True) if o.error
        )
        for name, idx in groups(set_name, pages):
            sub = [pages[i] for i in idx]
            summary = summarise(sub, [o_outs[i] for i in idx], [o_scores[i] for i in idx])
            fewer = fewer_with(sub, [o_scores[i] for i in idx], [plain_hits[i] for i in idx])
            report.append((name, summary, summary, len(fewer)))
            floor = baseline["floors"].get(name)
            if floor is None:
                failures.append(f"{name}: no pinned floor in {BASELINE.name} (run --pin)")
                continue
            for measure in ("f1", "precision"):
                if getattr(summary, measure) < floor[measure]:
                    failures.append(
                        f"{name}: {measure} {getattr(summary, measure):.3f} < pinned floor {floor[measure]:.3f}"
                    )
            allowance = baseline["fewer_with_allowance"].get(name, 0)
            if len(fewer) > allowance:
                failures.append(
                    f"{name}: {len(fewer)} pages find fewer 'with' snippets than plain trafilatura "
                    f"(allowance {allowance}): {', '.join(fewer[:20])}"
                )
            if name == "newsroom" and summary.leaks:
                failures.append(f"newsroom: {summary.leaks} boilerplate leaks")
    for name, summary, _, fewer in report:
        print(
            f"gate {name:28} F1 {summary.f1:.3f} P {summary.precision:.3f} R {summary.recall:.3f} "
            f"fewer-than-plain {fewer} exceptions {summary.errors}"
        )
    if failures:
        print("real-page gate FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("real-page gate passed")
    return 0


# --- cost -----------------------------------------------------------------------------------------------


def cost(limit: int) -> int:
    """CPU-ms a page, ours and plain trafilatura, on the same pages in the same run."""
    sets = load_sets(("trafilatura",)) if shared_present() else {}
    pages = sets.get("trafilatura", [])
    if not pages:
        with newsroom_pages() as room_pages:
            pages = room_pages
    pages = sorted(pages, key=lambda p: p.page_id)[:limit]
    for page in pages[:20]:  # warm-up for both: imports, regex compilation, date-parser locales
        ours()(page)
        plain()(page)
    ours_ms: list[float] = []
    plain_ms: list[float] = []
    for page in pages:  # interleaved, so machine load falls on both alike
        ours_ms.append(ours()(page).cpu_ms)
        plain_ms.append(plain()(page).cpu_ms)
    o, b = statistics.mean(ours_ms), statistics.mean(plain_ms)
    print(
        f"extraction cost on {len(pages)} pages ({pages[0].set_name} set): ours {o:.1f} CPU-ms/page, "
        f"plain trafilatura {trafilatura.__version__} {b:.1f} CPU-ms/page, ratio {o / b:.2f} (target <= 1.5)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default="trafilatura,arabic,newsroom", help="comma-separated set names")
    parser.add_argument("--json", type=Path, default=CACHE / "eval-pages.json", help="per-page results")
    parser.add_argument("--gate", action="store_true", help="check the pinned baseline (make test)")
    parser.add_argument("--pin", action="store_true", help="rewrite the pinned baseline from this run")
    parser.add_argument(
        "--cost", type=int, nargs="?", const=200, help="CPU-ms a page on N pages (make bench)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    if args.gate:
        return gate()
    if args.cost:
        return cost(args.cost)
    sets = load_sets(s for s in args.sets.split(",") if s)
    if not sets:
        print("no gold set available")
        return 0
    rows, per_page = evaluate(sets, args.json)
    print(f"ours vs plain trafilatura {trafilatura.__version__} (defaults, same bytes and URL)")
    print(table(rows))
    print(f"per-page results: {args.json}")
    if args.pin:
        pin(rows, per_page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
