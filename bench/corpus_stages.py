"""CPU cost of the research corpus's stages, a page at a time, over the articles a crawl stored.

``bench/pipeline.py`` calls :func:`stage_costs` on the full pipeline's archive: every stored record (the
crawl manifests) and its text go through the near-duplicate index (signature, LSH, checks), the entity
tagger, and the dataset writer (row, journal, Parquet parts into a file store), each timed alone with
``time.process_time`` (this process's CPU). Run alone it prints the same numbers for any archive::

    .venv/bin/python bench/corpus_stages.py ARCHIVE_DIR

Reads no settings.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archive.store import open_store  # noqa: E402
from corpus.annotate import record_version_key  # noqa: E402
from corpus.dataset import DatasetWriter, row_from_record  # noqa: E402
from corpus.entities import EntityTagger  # noqa: E402
from corpus.neardup import NearDupIndex  # noqa: E402
from relevance import default_topic_path  # noqa: E402


@dataclass(frozen=True)
class StageCost:
    name: str
    pages: int
    cpu: float  # seconds
    note: str = ""

    @property
    def ms_per_page(self) -> float:
        return 1000 * self.cpu / self.pages if self.pages else 0.0


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


def stage_costs(archive: Path) -> list[StageCost]:
    """The three stages over the archive's stored articles (see the module docstring)."""
    articles = stored_articles(archive)
    if not articles:
        return []
    n = len(articles)
    index = NearDupIndex()
    copies = 0

    def neardup() -> None:
        nonlocal copies
        for record, text in articles:
            when = record.get("published") or record.get("fetched_at") or ""
            copies += index.assign(record_version_key(record), text, str(when)).duplicate_of is not None

    tagger = EntityTagger.load(default_topic_path())

    def entities() -> None:
        for record, text in articles:
            tagger.tag(record.get("title") or "", text)

    with tempfile.TemporaryDirectory(prefix="bench-dataset-") as tmp:
        store = open_store(str(Path(tmp) / "archive"))
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
            StageCost("stage: near-duplicates", n, _timed(neardup), f"{copies} copies of an earlier article"),
            StageCost("stage: entity tags", n, _timed(entities)),
            StageCost(
                "stage: dataset rows + parts", n, _timed(dataset), f"{len(writer.parts_written)} parts"
            ),
        ]
    return costs


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: corpus_stages.py ARCHIVE_DIR", file=sys.stderr)
        return 2
    for cost in stage_costs(Path(argv[0])):
        print(f"{cost.name}: {cost.pages} pages, {cost.ms_per_page:.2f} CPU ms a page {cost.note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
