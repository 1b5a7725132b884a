"""The Parquet dataset (corpus.dataset, corpus.build, corpus.query) on a real file store: partitions, parts
never rewritten, each row once across an interrupted run, build over stored records, compaction that
readers follow."""

from __future__ import annotations

import gc
import json
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from archive.keys import article_id, text_key
from archive.store import FileStore, S3Store, StoreConfig, open_store
from corpus.annotate import Annotator, record_version_key
from corpus.build import build, compact
from corpus.dataset import UNKNOWN_MONTH, DatasetWriter, _content_name, month_of, part_key, row_from_record
from corpus.entities import EntityTagger
from corpus.neardup import NearDupIndex
from corpus.query import live_parts, open_dataset
from newsroom.catalog import syndicated_specs
from relevance import default_topic_path
from tests.test_corpus_duckdb import readme_queries


def _record(
    n: int, *, site: str = "wahaa", published: str | None = "2020-06-03T10:00:00+02:00"
) -> dict[str, Any]:
    url = f"http://127.0.0.1:1/news/{n}"
    aid = article_id(url)
    return {
        "id": aid,
        "crawl_id": "c1",
        "url": url,
        "canonical_url": url,
        "site": site,
        "title": f"خبر {n}",
        "published": published,
        "language": "ar",
        "relevance": {"relevant": True, "score": 20.0 + n},
        "text_key": text_key(site, published, aid, "txt"),
        "json_key": text_key(site, published, aid, "json"),
        "text_sha256": f"{n:064x}",
        "version": 1,
        "warc": {
            "filename": "C1-00000.warc.gz",
            "offset": 100 * n,
            "length": 90,
            "record_id": f"<urn:uuid:{n}>",
            "warc_date": "2026-11-30T10:00:00Z",
        },
    }


def _row(n: int, **kw: Any) -> dict[str, Any]:
    return row_from_record(
        _record(n, **kw), f"نص الخبر رقم {n}", entities={"places": ["سرت"]}, cluster=f"k{n}"
    )


def _all_rows(root: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(root.glob("dataset/**/*.parquet")):
        rows += pq.read_table(path, partitioning=None).to_pylist()
    return rows


def test_month_partition() -> None:
    assert month_of("2020-06-03T10:00:00+02:00") == "2020-06"
    assert month_of("2020-06-03") == "2020-06"
    assert month_of(None) == UNKNOWN_MONTH
    assert month_of("يونيو 2020") == UNKNOWN_MONTH


def test_rows_go_to_site_and_month_partitions(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "archive"))
    writer = DatasetWriter(store, tmp_path / "work", "c1", crawl_id="c1")
    writer.add(_row(1))
    writer.add(_row(2, site="feeds", published=None))
    parts = sorted(writer.close(), key=lambda p: p.key)
    assert [p.key.rsplit("/", 1)[0] for p in parts] == [
        "dataset/site=feeds/month=unknown",
        "dataset/site=wahaa/month=2020-06",
    ]
    assert all(re.fullmatch(r"c1-[0-9a-f]{16}\.parquet", p.key.rsplit("/", 1)[1]) for p in parts)
    (row,) = pq.read_table(tmp_path / "archive" / parts[1].key, partitioning=None).to_pylist()
    assert row["relevance_score"] == 21.0 and row["places"] == ["سرت"] and row["warc_offset"] == 100
    assert "site" not in row  # the partition is the path


def test_full_partitions_go_first_small_ones_wait(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "archive"))
    writer = DatasetWriter(store, tmp_path / "work", "c1", part_rows=3, part_seconds=3600)
    for n in range(3):
        writer.add(_row(n))
    writer.add(_row(9, site="feeds"))
    assert writer.due()
    (part,) = writer.flush_due()
    assert part.rows == 3 and "site=wahaa" in part.key
    assert not writer.due()
    (rest,) = writer.close()
    assert "site=feeds" in rest.key


def _reachable_strings(root: object) -> Iterator[str]:
    """Every str reachable from ``root`` through containers and objects (not through modules or types)."""
    seen: set[int] = set()
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, type | types.ModuleType):
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            yield obj
            continue
        todo.extend(gc.get_referents(obj))


def test_queued_rows_wait_in_the_journal_not_in_memory(tmp_path: Path) -> None:
    # A row holds the article's text: rows waiting for their partition to fill (up to part_seconds of a
    # crawl's articles) would make the crawl's memory grow with what it stored; they wait on disk.
    store = open_store(str(tmp_path / "archive"))
    writer = DatasetWriter(store, tmp_path / "work", "c1", part_rows=1000, part_seconds=3600)
    rows = [_row(n, published=f"2020-{1 + n % 3:02d}-03T10:00:00+02:00") for n in range(30)]
    for row in rows:
        row["text"] = f"نص طويل للخبر {row['id']} " * 50
        assert writer.add(row)
    assert not writer.due()
    held = [s for s in _reachable_strings(writer) if "نص طويل" in s]
    assert held == [], "the writer holds queued rows' text in memory"
    parts = writer.close()
    assert sorted(p.rows for p in parts) == [10, 10, 10]
    # Read back from the journal, the rows are what was added (dates, lists, floats included).
    written = {r["record_key"]: r for r in _all_rows(tmp_path / "archive")}
    for row in rows:
        got = written[row["record_key"]]
        assert {k: v for k, v in row.items() if k not in ("site", "month")} == got


def test_parts_are_never_rewritten(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "archive"))
    row = _row(1)
    # Something else already holds the name this part would take: it is kept, the part goes beside it.
    taken = part_key("wahaa", "2020-06", f"c1-{_content_name([row['record_key']])}")
    store.put_bytes(taken, b"not ours")
    writer = DatasetWriter(store, tmp_path / "w1", "c1")
    writer.add(row)
    writer.close()
    assert (tmp_path / "archive" / taken).read_bytes() == b"not ours"
    (mine,) = [k for k in store.list("dataset/") if k != taken]
    assert mine == taken.replace(".parquet", ".1.parquet")
    assert pq.read_table(tmp_path / "archive" / mine, partitioning=None).column("id").to_pylist() == [
        row["id"]
    ]


def test_an_interrupted_run_writes_each_row_once(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "archive"))
    work = tmp_path / "work"
    writer = DatasetWriter(store, work, "c1")
    for n in (1, 2, 3):
        writer.add(_row(n))
    writer.flush()
    writer.add(_row(4))
    writer.add(_row(5))
    # killed here: rows 4 and 5 are only in the journal
    resumed = DatasetWriter(store, work, "c1")
    for n in (1, 2, 3, 4, 5):  # the resumed crawl stores some of them again
        assert not resumed.add(_row(n))
    assert resumed.add(_row(6))
    resumed.close()
    ids = [r["id"] for r in _all_rows(tmp_path / "archive")]
    assert sorted(ids) == sorted(_row(n)["id"] for n in range(1, 7))


class _DiesAfterPut:
    """A sink whose process dies right after the store took the part (before the journal says so)."""

    def __init__(self, store: FileStore | S3Store) -> None:
        self.store = store

    def put_bytes(self, key: str, data: bytes, content_type: str = "") -> object:
        self.store.put_bytes(key, data, content_type=content_type)
        raise SystemExit("killed")


def test_a_part_stored_just_before_the_kill_is_not_written_twice(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "archive"))
    work = tmp_path / "work"
    writer = DatasetWriter(_DiesAfterPut(store), work, "c1")
    writer.add(_row(1))
    writer.add(_row(2))
    with pytest.raises(SystemExit):
        writer.flush()
    DatasetWriter(store, work, "c1").close()
    assert len(list(store.list("dataset/"))) == 1
    assert len(_all_rows(tmp_path / "archive")) == 2


def _store_syndicated(store: FileStore | S3Store) -> list[dict[str, Any]]:
    """The syndication corpus as stored records (text + manifest line), as a crawl leaves them."""
    records = []
    for n, (site, spec) in enumerate(syndicated_specs()):
        record = _record(n, site=site, published=spec.published.isoformat())
        record["title"] = spec.title
        text = "\n\n".join(spec.paragraphs)
        store.put_bytes(record["text_key"], text.encode())
        record["story"] = spec.story  # gold, for the test only
        records.append(record)
    lines = "".join(
        json.dumps({k: v for k, v in r.items() if k != "story"}, ensure_ascii=False) + "\n" for r in records
    )
    store.put_bytes("manifests/c1.jsonl", lines.encode())
    return records


def test_build_over_stored_records_then_again_adds_nothing(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "archive"))
    records = _store_syndicated(store)
    annotator = Annotator(NearDupIndex(), EntityTagger.load(default_topic_path()))
    first = build(store, store, annotator, tmp_path / "work")
    assert first.rows == len(records) and first.already == 0
    again = build(store, store, Annotator(NearDupIndex()), tmp_path / "work")
    assert again.rows == 0 and again.already == len(records)

    con = open_dataset(StoreConfig.from_uri(store.uri), store)
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (len(records),)
    by_key = {r["json_key"]: r["story"] for r in records}
    clusters: dict[str, set[str]] = {}
    for key, cluster in con.execute("SELECT record_key, cluster FROM articles").fetchall():
        clusters.setdefault(by_key[key], set()).add(cluster)
    # every gold story is one cluster, and no two stories share one
    assert all(len(c) == 1 for c in clusters.values())
    assert len({next(iter(c)) for c in clusters.values()}) == len(clusters)
    places = con.execute("SELECT places FROM articles WHERE title LIKE '%درنة%' LIMIT 1").fetchone()
    assert places is not None and "درنة" in places[0]


def test_compaction_supersedes_parts_and_readers_follow_the_manifest(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "archive"))
    for run in range(3):
        writer = DatasetWriter(store, tmp_path / f"w{run}", f"c{run}")
        writer.add(_row(run))
        writer.add(_row(10 + run, site="feeds"))
        writer.close()
    before = live_parts(store)
    assert len(before) == 6
    result = compact(store, store)
    assert result.manifest is not None and result.manifest.startswith("dataset-manifests/")
    after = live_parts(store)
    assert len(after) == 2 and all("/compact-" in key for key in after)
    # nothing deleted: the superseded parts are still there, only skipped
    assert all((tmp_path / "archive" / key).exists() for key in before)
    con = open_dataset(StoreConfig.from_uri(store.uri), store)
    assert con.execute("SELECT count(*), count(DISTINCT record_key) FROM articles").fetchone() == (6, 6)
    assert compact(store, store).manifest is None  # one part per partition: nothing to do


def test_a_row_that_does_not_fit_is_refused_and_nothing_is_queued(tmp_path: Path) -> None:
    writer = DatasetWriter(open_store(str(tmp_path / "archive")), tmp_path / "work", "c1")
    bad = {**_row(1), "warc_offset": "not a number"}
    with pytest.raises(ValueError, match="does not fit the schema"):
        writer.add(bad)
    assert _row(1)["record_key"] not in writer
    assert writer.add(_row(1))


def test_previous_version_names_the_earlier_record() -> None:
    record = {**_record(1), "version": 2, "previous_version": {"version": 1, "json_key": "text/a/1.json"}}
    assert row_from_record(record, "")["previous_version"] == "text/a/1.json"


def test_a_story_crawled_out_of_order_is_named_by_its_earliest_version_in_latest_and_readme_4(
    tmp_path: Path,
) -> None:
    # The crawl meets every story's copies latest-published first (an archive crawled backwards): rows
    # keep the cluster they were written with; the merges go to the mapping table, and the views resolve
    # every copy to the earliest published version's key.
    store = open_store(str(tmp_path / "archive"))
    records = _store_syndicated(store)
    annotator = Annotator(NearDupIndex())
    writer = DatasetWriter(store, tmp_path / "work", "c1", crawl_id="c1")
    for record in sorted(records, key=lambda r: r["published"], reverse=True):
        text = (tmp_path / "archive" / record["text_key"]).read_text(encoding="utf-8")
        note = annotator.annotate(record, text)
        writer.add(
            row_from_record({k: v for k, v in record.items() if k != "story"}, text, cluster=note.cluster)
        )
        for merge in note.merges:
            writer.add_merge(merge.cluster, merge.into, merge.at)
    writer.close()

    con = open_dataset(StoreConfig.from_uri(store.uri), store)
    resolved = dict(con.execute("SELECT record_key, cluster FROM latest").fetchall())
    written = dict(con.execute("SELECT record_key, cluster_as_written FROM latest").fetchall())
    stories: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        stories.setdefault(record["story"], []).append(record)
    agency = {s: rs for s, rs in stories.items() if s.startswith("agency-")}
    assert len(agency) == 11
    for copies in agency.values():
        first = min(copies, key=lambda r: r["published"])
        name = record_version_key(first)
        assert {resolved[r["json_key"]] for r in copies} == {name}
        # written before the earliest copy arrived: the other copies' rows name a cluster of their own
        assert {written[r["json_key"]] for r in copies if r is not first} != {name}
    rows = con.execute(readme_queries()[4]).fetchall()
    three = {row[0] for row in rows if row[2] == ["drupal", "feeds", "legacy"]}
    assert three == {record_version_key(min(rs, key=lambda r: r["published"])) for rs in agency.values()}
