"""Near-duplicate clusters (corpus.neardup): the duplicate test, the cluster rules, persistence in the store
and in a real Redis shared by two indexes (two workers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.store import open_store
from corpus.minhash import BandIndex
from corpus.neardup import (
    LSH_BANDS,
    LSH_ROWS,
    NearDupConfig,
    NearDupIndex,
    RedisEventLog,
    StoreEventLog,
    signature,
)
from newsroom.catalog import syndicated_specs

SPECS = syndicated_specs()


def _text(key: str) -> str:
    for _, spec in SPECS:
        if spec.key == key:
            return "\n\n".join(spec.paragraphs)
    raise KeyError(key)


SENT = _text("agency-derna-flood-aid-sent")
EDITED = _text("agency-derna-flood-aid-edited")
SHORT = _text("agency-derna-flood-aid-short")
OTHER = _text("agency-kufra-border-smuggling-sent")
MISS_A = _text("nearmiss-abusalim-clashes-casualties")
MISS_B = _text("nearmiss-abusalim-clashes-government")


def test_shortened_copy_is_contained_not_resembling() -> None:
    index = NearDupIndex()
    # a third of the story and a closing line of the site's own
    third = "\n\n".join([*SENT.split("\n\n")[:2], "تابعوا صفحتنا لمعرفة آخر المستجدات."])
    jaccard, contained = index.similarity(index.signature(third), index.signature(SENT))
    # It shares too little of the whole story for resemblance; containment catches it.
    assert jaccard < 0.45
    assert contained >= 0.7
    assert (
        index.assign("sent", SENT, "2020-03-02").cluster == index.assign("third", third, "2020-03-03").cluster
    )


def test_copies_join_the_first_cluster_and_different_stories_do_not() -> None:
    index = NearDupIndex()
    first = index.assign("sent", SENT, "2020-03-02T08:00:00+02:00")
    assert first.cluster == "sent" and first.duplicate_of is None
    assert index.assign("edited", EDITED, "2020-03-02T11:00:00+02:00").cluster == "sent"
    short = index.assign("short", SHORT, "2020-03-02T14:00:00+02:00")
    assert short.cluster == "sent" and short.duplicate_of in {"sent", "edited"}
    assert index.assign("other", OTHER, "2020-03-05").cluster == "other"


def test_near_misses_sharing_only_the_first_paragraph_stay_apart() -> None:
    index = NearDupIndex()
    a = index.assign("a", MISS_A, "2020-03-13")
    b = index.assign("b", MISS_B, "2020-03-13")
    assert a.cluster != b.cluster
    _, contained = index.similarity(index.signature(MISS_A), index.signature(MISS_B))
    assert contained < 0.5


def test_a_bridge_merges_clusters_into_the_earliest_without_changing_written_ones() -> None:
    # The short copy and a second, unrelated-looking half of the story first found two clusters; the full
    # story then matches both: it joins the one whose member was published first, the other is merged.
    paragraphs = SENT.split("\n\n")
    head, tail = "\n\n".join(paragraphs[:3]), "\n\n".join(paragraphs[3:])
    index = NearDupIndex()
    assert index.assign("tail", tail, "2020-03-01").cluster == "tail"
    assert index.assign("head", head, "2020-03-03").cluster == "head"
    whole = index.assign("whole", SENT, "2020-03-04")
    assert whole.cluster == "tail"
    assert [(m.cluster, m.into) for m in whole.merges] == [("head", "tail")]
    assert index.cluster_of("head") == "head"  # as written: fixed
    assert index.root("head") == "tail"


def test_reassigning_a_known_version_changes_nothing() -> None:
    index = NearDupIndex()
    index.assign("sent", SENT, "2020-03-02")
    again = index.assign("sent", SENT, "2020-03-02")
    assert again.known and again.cluster == "sent" and len(index) == 1


def test_too_short_texts_are_their_own_cluster() -> None:
    index = NearDupIndex(NearDupConfig(min_shingles=12))
    index.assign("a", "خبر قصير جداً عن ليبيا", "2020-01-01")
    assert index.assign("b", "خبر قصير جداً عن ليبيا", "2020-01-02").cluster == "b"


def test_bad_thresholds_are_refused() -> None:
    with pytest.raises(ValueError, match="containment"):
        NearDupConfig(containment=1.5)


def test_index_persists_in_store_segments_so_a_later_crawl_joins(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "archive"))
    log = StoreEventLog(store, store, tmp_path / "work1", "crawl-1")
    index = NearDupIndex(log=log)
    index.assign("sent", SENT, "2020-03-02")
    index.flush()
    segments = list(store.list("state/neardup/"))
    assert len(segments) == 1 and segments[0].startswith("state/neardup/crawl-1-")

    later = NearDupIndex(log=StoreEventLog(store, store, tmp_path / "work2", "crawl-2"))
    assert len(later) == 1
    assert later.assign("short", SHORT, "2020-03-09").cluster == "sent"


def test_a_killed_run_keeps_its_journal_and_hands_it_over_next_time(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "archive"))
    work = tmp_path / "work"
    index = NearDupIndex(log=StoreEventLog(store, store, work, "crawl-1"))
    index.assign("sent", SENT, "2020-03-02")
    # no flush: the process "dies"; the journal stays in the spool directory
    resumed = NearDupIndex(log=StoreEventLog(store, store, work, "crawl-1"))
    assert resumed.cluster_of("sent") == "sent"
    resumed.flush()
    assert len(list(store.list("state/neardup/"))) == 1
    assert not list(work.glob("journal-*"))


def test_two_workers_share_clusters_through_redis(redis_url: str, tmp_path: Path) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    namespace = f"test-{tmp_path.name}"
    worker_a = NearDupIndex(
        log=RedisEventLog(client, namespace, StoreEventLog(None, None, tmp_path / "a", "a"))
    )
    worker_b = NearDupIndex(
        log=RedisEventLog(client, namespace, StoreEventLog(None, None, tmp_path / "b", "b"))
    )
    assert worker_a.assign("sent", SENT, "2020-03-02").cluster == "sent"
    # worker B never saw the story itself: the copy it fetched joins A's cluster
    assert worker_b.assign("edited", EDITED, "2020-03-02T11:00").cluster == "sent"
    assert worker_a.assign("short", SHORT, "2020-03-02T14:00").cluster == "sent"
    late = NearDupIndex(log=RedisEventLog(client, namespace, StoreEventLog(None, None, tmp_path / "c", "c")))
    assert len(late) == 3


def test_band_index_finds_entries_before_and_after_its_buffer_is_merged() -> None:
    texts = [f"{SENT} {n}" if n % 2 else f"{OTHER} إضافة {n}" for n in range(11)]
    signatures = [signature(t).values for t in texts]
    bands = BandIndex(LSH_BANDS, LSH_ROWS, buffer=4)
    for doc, values in enumerate(signatures):
        bands.insert(doc, values)
    assert len(bands) == 11
    for doc, values in enumerate(signatures):
        found = bands.query(values)
        assert doc in found
        # the near-identical texts find each other, not the other story's
        assert {d % 2 for d in found} == {doc % 2}
    assert bands.query(signature("نص مختلف تماما عن كل ما سبق ولا يشبه شيئا منه").values) == set()
