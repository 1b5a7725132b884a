"""CPU cost of the research corpus's stages, a page at a time, over the articles a crawl stored.

``bench/pipeline.py`` calls :func:`stage_costs` on the full pipeline's archive: every stored record (the
crawl manifests) and its text go through what the extraction worker adds (entity tags and the
near-duplicate signature, ``corpus.worker``), the near-duplicate index (LSH buckets and checks in SQLite) and the dataset writer (row, journal, Parquet
parts into a file store), each timed alone with ``time.process_time`` (this process's CPU), and the
start-up the corpus adds to a crawl and to each extraction worker is timed in a fresh process. The interface::

    stage_costs(archive: Path) -> list[StageCost]
    StageCost(name: str, pages: int, cpu: float seconds, note: str); .ms = 1000 * cpu / pages

Names start with ``stage: ``. Run alone it prints the same numbers for any archive::

    .venv/bin/python bench/corpus_stages.py ARCHIVE_DIR

Reads no settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from procstats import cpu_seconds  # noqa: E402
from stages import StageCost  # noqa: E402  (bench/stages.py: one stage's CPU over its pages)

from archive.store import open_store  # noqa: E402
from corpus.annotate import record_version_key  # noqa: E402
from corpus.dataset import DatasetWriter, row_from_record  # noqa: E402
from corpus.neardup import NearDupConfig, Signature  # noqa: E402
from corpus.worker import corpus_features, features_signature  # noqa: E402
from crawler.corpus import COMMIT_EVERY  # noqa: E402
from crawler.corpus_index import IndexProcess  # noqa: E402
from relevance import Topic, default_topic_path, tokenize_parts  # noqa: E402


def stored_articles(archive: Path) -> list[tuple[dict[str, Any], str]]:
    """(record, text) of every article the crawl manifests name."""
    out = []
    for manifest in sorted((archive / "manifests").glob("*.jsonl")):
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                text = (archive / record["text_key"]).read_text(encoding="utf-8")
                out.append((record, text))
    return out


def _timed(fn: Any) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


_STARTUP = """
import resource, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import crawler.corpus  # Scrapy imports it with the corpus on or off (settings name its classes)
from archive.store import open_store
from corpus.dataset import encode_part
from corpus.neardup import NearDupConfig, NearDupIndex
from crawler.corpus import load_tagger
from crawler.corpus_index import IndexProcess
from relevance import default_topic_path
started = time.process_time()
load_tagger(default_topic_path())
with tempfile.TemporaryDirectory() as tmp:
    NearDupIndex(state_path=Path(tmp) / "neardup.sqlite").close()  # the store's segments applied
    store = open_store(str(Path(tmp) / "archive"))
    IndexProcess(NearDupConfig(), Path(tmp) / "neardup.sqlite", Path(tmp) / "work", "s", store).close()
encode_part([{"record_key": "k", "places": []}])  # the first part: pyarrow's import
child = resource.getrusage(resource.RUSAGE_CHILDREN)  # the index process, started and stopped
print(time.process_time() - started + child.ru_utime + child.ru_stime)
"""


_WORKER_STARTUP = """
import sys, time
sys.path.insert(0, sys.argv[1])
import extraction  # what every extraction worker imports, corpus on or off
from relevance import Topic, default_topic_path
topic = Topic.load(default_topic_path())  # relevance's topic: loaded with the corpus off too
started = time.process_time()
from corpus.worker import corpus_features  # numpy, the MinHash tables
corpus_features(str(default_topic_path()), "", "", topic=topic)  # the entity tagger
print(time.process_time() - started)
"""


def worker_startup_cpu() -> float:
    """CPU seconds the corpus adds to the start of one extraction worker (fresh process: imports, tagger)."""
    out = subprocess.run(
        [sys.executable, "-c", _WORKER_STARTUP, str(REPO)], check=True, capture_output=True, text=True
    ).stdout
    return float(out.split()[-1])


def startup_cpu() -> float:
    """CPU seconds the corpus adds to a crawl's start when on (fresh process: tagger, index and the index's
    process, pyarrow)."""
    out = subprocess.run(
        [sys.executable, "-c", _STARTUP, str(REPO)], check=True, capture_output=True, text=True
    ).stdout
    return float(out.split()[-1])


def stage_costs(archive: Path) -> list[StageCost]:
    """The corpus's stages over the archive's stored articles, each timed alone (module docstring).

    The stages follow where a crawl runs them: the entity tags and the signature in the extraction
    workers (``corpus.worker.corpus_features``, from the tokens relevance scored: not timed, relevance
    tokenizes with the corpus on or off), the index query
    (SQLite in a file, as in the spool) in a thread of the crawler, the dataset rows and parts in the
    store's threads and the parts thread; the start-up the corpus adds (once a crawl) is spread over the
    archive's pages.
    """
    articles = stored_articles(archive)
    if not articles:
        return []
    n = len(articles)
    signatures: list[Signature] = []
    copies = 0
    topic_path = str(default_topic_path())
    topic = Topic.load(topic_path)
    corpus_features(topic_path, "", "", topic=topic)  # the worker's tagger, once a worker (not a page's)
    # The worker tokenizes each article for relevance, corpus on or off; the corpus reads those tokens.
    parts = [tokenize_parts(record.get("title") or "", text) for record, text in articles]

    def features() -> None:
        # what each extraction worker adds for the corpus: the tags and the signature, from relevance's tokens
        for (record, text), tokens in zip(articles, parts, strict=True):
            title = record.get("title") or ""
            features = corpus_features(topic_path, title, text, parts=tokens, topic=topic)
            signatures.append(features_signature(features))

    with tempfile.TemporaryDirectory(prefix="bench-dataset-") as tmp:
        # as a crawl without Redis: assignments share a transaction
        # As a crawl without Redis runs it: in a process of its own (crawler.corpus_index), assignments
        # sharing a transaction. Its CPU is the child's; the crawler's is the round trips on the pipe.
        store = open_store(str(Path(tmp) / "archive"))
        index = IndexProcess(
            NearDupConfig(),
            Path(tmp) / "neardup.sqlite",
            Path(tmp) / "neardup",
            "bench",
            store,
            commit_every=COMMIT_EVERY,
        )
        child_cpu = 0.0

        def neardup() -> None:
            nonlocal copies, child_cpu
            assert index.pid is not None
            before = cpu_seconds(index.pid)
            for (record, text), sig in zip(articles, signatures, strict=True):
                when = str(record.get("published") or record.get("fetched_at") or "")
                assignment = index.assign(record_version_key(record), text, when, signature=sig)
                copies += assignment.duplicate_of is not None
            child_cpu = cpu_seconds(index.pid) - before

        writer = DatasetWriter(store, Path(tmp) / "work", "bench", part_rows=1000)

        def dataset() -> None:
            for record, text in articles:
                writer.add(
                    row_from_record(
                        record, text, entities=record.get("entities"), cluster=record.get("cluster")
                    )
                )
                if writer.due():
                    writer.flush_due()
            writer.close()

        costs = [
            StageCost(
                "stage: entity tags + near-duplicate signature (extraction worker)", n, _timed(features)
            ),
        ]
        crawler_side = _timed(neardup)
        costs += [
            StageCost(
                "stage: near-duplicate index (its own process)",
                n,
                child_cpu,
                f"SQLite in a file; {copies} copies of an earlier article",
            ),
            StageCost(
                "stage: near-duplicate index round trips (crawler)",
                n,
                crawler_side,
                "one pipe message each way",
            ),
        ]
        index.close()
        costs.append(
            StageCost("stage: dataset rows + parts", n, _timed(dataset), f"{len(writer.parts_written)} parts")
        )
    costs.append(
        StageCost(
            "stage: corpus start-up (crawler)",
            n,
            startup_cpu(),
            f"once a crawl, over these {n} pages: tagger, index, its process, pyarrow",
        )
    )
    workers = os.cpu_count() or 1  # EXTRACT_WORKERS' default: one a core
    costs.append(
        StageCost(
            "stage: corpus start-up (extraction workers)",
            n,
            workers * worker_startup_cpu(),
            f"once a worker, {workers} workers, over these {n} pages: numpy, tagger",
        )
    )
    return costs


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: corpus_stages.py ARCHIVE_DIR", file=sys.stderr)
        return 2
    for cost in stage_costs(Path(argv[0])):
        print(f"{cost.name}: {cost.pages} pages, {cost.ms:.2f} CPU ms a page {cost.note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
