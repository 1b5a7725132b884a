"""Near-duplicate clusters (corpus.neardup): the duplicate test, the cluster rules, persistence in the store
and in a real Redis shared by two indexes (two workers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from archive.store import open_store
from corpus.minhash import NUM_PERM
from corpus.neardup import (
    IndexState,
    NearDupConfig,
    NearDupIndex,
    RedisEventLog,
    StoreEventLog,
    compact_segments,
    live_segments,
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


def test_lsh_buckets_find_near_identical_texts_in_memory_and_in_a_file(tmp_path: Path) -> None:
    texts = [f"{SENT} {n}" if n % 2 else f"{OTHER} إضافة {n}" for n in range(11)]
    signatures = [signature(t) for t in texts]
    for path in (None, tmp_path / "index.sqlite"):
        state = IndexState(path)
        for n, sig in enumerate(signatures):
            assert state.add(f"d{n}", sig, f"d{n}", "2020-01-01", indexed=True)
        assert not state.add("d0", signatures[0], "d0", "2020-01-01", indexed=True)  # once per key
        assert len(state) == 11
        for n, sig in enumerate(signatures):
            docs, sigs, sizes = state.candidates(sig.values)
            names = state.names(docs)
            keys = [names[doc][0] for doc in docs]
            assert f"d{n}" in keys
            # the near-identical texts find each other, not the other story's
            assert {int(k[1:]) % 2 for k in keys} == {n % 2}
            assert sigs.shape == (len(keys), NUM_PERM) and list(sizes) == [
                signatures[int(k[1:])].size for k in keys
            ]
        assert state.candidates(signature("نص مختلف تماما عن كل ما سبق ولا يشبه شيئا منه").values)[0] == []
        state.close()


def test_candidate_signatures_are_right_whether_cached_evicted_or_read_from_a_reopened_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two cache slots for eleven versions: most lookups miss (evicted by a doc sharing the slot) and are read
    # from SQLite; a reopened file starts with an empty cache. Each way the signatures and sizes are the
    # ones added, row for row.
    import corpus.neardup as neardup

    monkeypatch.setattr(neardup, "SIG_CACHE_SLOTS", 2)
    texts = [f"{SENT} {n}" if n % 2 else f"{OTHER} إضافة {n}" for n in range(11)]
    signatures = [signature(t) for t in texts]
    path = tmp_path / "index.sqlite"
    state = IndexState(path)
    for n, sig in enumerate(signatures):
        assert state.add(f"d{n}", sig, f"d{n}", "2020-01-01", indexed=True)
    reopened = IndexState(path)
    for current in (state, reopened, state):
        for sig in signatures:
            docs, sigs, sizes = current.candidates(sig.values)
            names = current.names(docs)
            assert len(docs) > 1
            for doc, row, size in zip(docs, sigs, sizes, strict=True):
                added = signatures[int(names[doc][0][1:])]
                assert (row == added.values).all() and size == added.size
    state.close()
    reopened.close()


def test_an_earlier_published_copy_crawled_later_names_the_cluster() -> None:
    # Crawled first: the edited and the short copies (published at 11:00 and 14:00 Tripoli time); then the
    # agency's own text, published at 08:00 (06:00 UTC). Rows already written keep their cluster; the
    # merge goes to the mapping table, and resolved, the story is named by its earliest version.
    index = NearDupIndex()
    assert index.assign("edited", EDITED, "2020-03-02T11:00:00+02:00").cluster == "edited"
    assert index.assign("short", SHORT, "2020-03-02T14:00:00+02:00").cluster == "edited"
    sent = index.assign("sent", SENT, "2020-03-02T06:00:00Z")
    assert sent.cluster == "sent" and sent.duplicate_of in {"edited", "short"}
    assert [(m.cluster, m.into) for m in sent.merges] == [("edited", "sent")]
    assert index.cluster_of("edited") == index.cluster_of("short") == "edited"  # as written
    assert index.root("edited") == "sent"
    # Offsets are compared in UTC: 07:30 at +02:00 is 05:30 UTC, earlier still than the agency's 06:00.
    early = index.assign("early", EDITED + " تحديث", "2020-03-02T07:30:00+02:00")
    assert early.cluster == "early" and index.root("edited") == index.root("sent") == "early"
    # A copy published later than the founder joins; one with no date at all joins too.
    assert index.assign("late", SHORT + " تحديث", "2020-03-05").cluster == "early"
    assert index.assign("undated", SENT + " تحديث", None).cluster == "early"


def test_segments_compact_into_one_with_a_manifest_and_a_spool_state_reads_each_once(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "archive"))
    state = tmp_path / "spool" / "neardup.sqlite"
    for n, (key, text, when) in enumerate(
        [("sent", SENT, "2020-03-02"), ("edited", EDITED, "2020-03-03"), ("other", OTHER, "2020-03-04")]
    ):
        index = NearDupIndex(log=StoreEventLog(store, store, tmp_path / f"w{n}", f"crawl-{n}"))
        index.assign(key, text, when)
        index.close()
    old = sorted(store.list("state/neardup/"))
    assert len(old) == 3
    result = compact_segments(store, store)
    assert result.superseded == old and result.docs == 3 and result.segment
    # nothing deleted or rewritten; the manifest names what the new segment supersedes
    assert sorted(store.list("state/neardup/")) == sorted([*old, result.segment])
    assert live_segments(store)[0] == [result.segment]
    assert compact_segments(store, store).segment is None  # one live segment: nothing to do

    fresh = NearDupIndex(log=StoreEventLog(store, store, tmp_path / "w9", "crawl-9"), state_path=state)
    assert len(fresh) == 3 and fresh.assign("short", SHORT, "2020-03-05").cluster == "sent"
    fresh.close()
    # The state in the spool knows which segments it applied: the next crawl reads none of them again.
    reads: list[str] = []

    class Counting:
        def get_bytes(self, key: str) -> bytes | None:
            reads.append(key)
            return store.get_bytes(key)

        def list(self, prefix: str = "") -> Any:
            return store.list(prefix)

    again = NearDupIndex(log=StoreEventLog(Counting(), store, tmp_path / "w10", "crawl-10"), state_path=state)
    assert len(again) == 4 and not [k for k in reads if k.endswith(".jsonl")]
    again.close()


def test_the_redis_list_is_trimmed_of_what_every_writer_stored_and_every_reader_read(
    redis_url: str, tmp_path: Path
) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    namespace = f"test-{tmp_path.name}"
    store = open_store(str(tmp_path / "archive"))

    def worker(name: str) -> NearDupIndex:
        log = RedisEventLog(client, namespace, StoreEventLog(store, store, tmp_path / name, name))
        return NearDupIndex(log=log)

    a, b = worker("a"), worker("b")
    a.assign("sent", SENT, "2020-03-02")
    b.assign("edited", EDITED, "2020-03-03")
    key = f"{namespace}:neardup:events"
    a.flush()  # a's event is in its segment and both read it: it goes; b's is not stored yet: it stays
    assert [json.loads(e)["key"] for e in client.lrange(key, 0, -1)] == ["edited"]
    b.flush()  # b's event is stored too, but a has not read it yet
    assert client.llen(key) == 1
    # The workers go on (positions stay absolute); what one writes stays until the other has read it.
    assert a.assign("short", SHORT, "2020-03-04").cluster == "sent"
    a.flush()
    assert [json.loads(e)["key"] for e in client.lrange(key, 0, -1)] == ["short"]
    assert b.assign("other", OTHER, "2020-03-05").cluster == "other"
    b.flush()
    assert [json.loads(e)["key"] for e in client.lrange(key, 0, -1)] == ["other"]
    assert client.get(f"{namespace}:neardup:base") == b"3"
    # A worker joining later gets the trimmed events from the store's segments, the rest from the list.
    c = worker("c")
    assert len(c) == 4 and c.cluster_of("short") == "sent"
    for index in (a, b, c):
        index.close()
    assert client.llen(key) == 0 and not client.hlen(f"{namespace}:neardup:readers")


def test_the_workers_shared_tokens_give_the_same_signature_and_tags_as_each_alone() -> None:
    from corpus.entities import EntityTagger
    from corpus.worker import corpus_features, features_signature
    from relevance import default_topic_path

    tagger = EntityTagger.load(default_topic_path())
    for _, spec in SPECS[:12]:
        text = "\n\n".join(spec.paragraphs)
        features = corpus_features(str(default_topic_path()), spec.title, text)
        alone = signature(text)
        shared = features_signature(features)
        assert shared.size == alone.size and (shared.values == alone.values).all()
        assert features["entities"] == tagger.tag(spec.title, text).to_dict()


def _redis_worker(client: Any, namespace: str, reader: Any, sink: Any, work: Path, name: str) -> NearDupIndex:
    return NearDupIndex(
        log=RedisEventLog(client, namespace, StoreEventLog(reader, sink, work / name, name), lock_timeout=0.5)
    )


def test_a_worker_joining_while_another_trims_misses_no_event(redis_url: str, tmp_path: Path) -> None:
    """A joining worker lists the store's segments, then reads the Redis list: another worker that hands
    its events to a segment and trims the list between the two must not drop what the joiner needs."""
    import redis

    client = redis.Redis.from_url(redis_url)
    namespace = f"test-{tmp_path.name}"
    store = open_store(str(tmp_path / "archive"))
    a = _redis_worker(client, namespace, store, store, tmp_path, "a")
    a.assign("sent", SENT, "2020-03-02")

    class ListsBeforeTheFlush:
        """The store as the joiner sees it: its listing taken just before ``a`` flushes and trims."""

        def get_bytes(self, key: str) -> bytes | None:
            return store.get_bytes(key)

        def list(self, prefix: str = "") -> Any:
            listed = list(store.list(prefix))
            if prefix == "state/neardup/" and a is not None:
                a.assign("other", OTHER, "2020-03-03")
                a.flush()
            return iter(listed)

    c = _redis_worker(client, namespace, ListsBeforeTheFlush(), store, tmp_path, "c")
    assert c.cluster_of("sent") == "sent" and c.cluster_of("other") == "other"
    assert c.assign("edited", EDITED, "2020-03-04").cluster == "sent"
    for index in (a, c):
        index.close()


def test_events_in_a_segment_not_yet_in_the_store_stay_in_the_redis_list(
    redis_url: str, tmp_path: Path
) -> None:
    """A crawl hands its segments to the spool; the store has them only once uploaded. Until then a
    worker joining (it reads the store, then the list) needs them from the list."""
    import redis

    client = redis.Redis.from_url(redis_url)
    namespace = f"test-{tmp_path.name}"
    store = open_store(str(tmp_path / "archive"))

    class Spool:
        """Segments wait here until ``upload()`` (the crawl's storage uploads in the background)."""

        def __init__(self) -> None:
            self.waiting: dict[str, bytes] = {}

        def put_bytes(self, key: str, data: bytes, *, content_type: str = "") -> object:
            self.waiting[key] = data
            return key

        def upload(self) -> None:
            for key, data in self.waiting.items():
                store.put_bytes(key, data)
            self.waiting.clear()

    spool = Spool()
    key = f"{namespace}:neardup:events"
    a = _redis_worker(client, namespace, store, spool, tmp_path, "a")
    a.assign("sent", SENT, "2020-03-02")
    a.flush()  # in the spool only: the list keeps it
    assert spool.waiting and client.llen(key) == 1
    c = _redis_worker(client, namespace, store, store, tmp_path, "c")
    assert c.cluster_of("sent") == "sent"
    assert c.assign("edited", EDITED, "2020-03-03").cluster == "sent"
    c.flush()  # c's own event goes to the store at once; a's is still only in the spool: nothing goes
    assert [json.loads(e)["key"] for e in client.lrange(key, 0, -1)] == ["sent", "edited"]
    spool.upload()
    a.flush()  # a's segment is in the store now and both read it; c's event waits for a to read it
    assert [json.loads(e)["key"] for e in client.lrange(key, 0, -1)] == ["edited"]
    d = _redis_worker(client, namespace, store, store, tmp_path, "d")
    assert d.cluster_of("sent") == "sent" and d.cluster_of("edited") == "sent"
    for index in (a, c, d):
        index.close()


def test_a_trim_in_the_middle_of_a_read_loses_nothing(redis_url: str, tmp_path: Path) -> None:
    """A reader's read of the list and another worker's trim may meet (its lock expired: a worker stalled
    while holding it): the reader still gets every event after its position, once."""
    import redis

    namespace = f"test-{tmp_path.name}"
    store = open_store(str(tmp_path / "archive"))

    class Interleaved(redis.Redis):
        """A Redis client that runs ``hook`` (once) right before it reads the list."""

        hook: Any = None

        def execute_command(self, *args: Any, **options: Any) -> Any:
            if self.hook is not None and args[0] in ("LRANGE", "EVAL", "EVALSHA", "FCALL"):
                hook, self.hook = self.hook, None
                hook()
            return super().execute_command(*args, **options)

    w = _redis_worker(redis.Redis.from_url(redis_url), namespace, store, store, tmp_path, "w")
    w.assign("sent", SENT, "2020-03-02")
    reader_client = Interleaved.from_url(redis_url)
    assert isinstance(reader_client, Interleaved)
    r = _redis_worker(reader_client, namespace, store, store, tmp_path, "r")
    assert r.cluster_of("sent") == "sent"
    w.assign("other", OTHER, "2020-03-03")
    # r's next read meets w's flush: "sent" (read by both, stored) is trimmed under it; "other" is not read
    reader_client.hook = w.flush
    r.assign("edited", EDITED, "2020-03-04")
    assert reader_client.hook is None
    assert r.cluster_of("other") == "other"
    assert r.assign("more", f"{OTHER} وأضاف المتحدث", "2020-03-05").cluster == "other"
    for index in (w, r):
        index.close()


def test_assignments_sharing_a_transaction_are_seen_at_once_and_survive_a_kill_before_commit(
    tmp_path: Path,
) -> None:
    import sqlite3

    store = open_store(str(tmp_path / "archive"))
    work, state = tmp_path / "work", tmp_path / "index.sqlite"
    index = NearDupIndex(log=StoreEventLog(store, store, work, "crawl-1"), state_path=state, commit_every=64)
    assert index.assign("sent", SENT, "2020-03-02").cluster == "sent"
    # the next assignment, in the same open transaction, finds the first
    assert index.assign("edited", EDITED, "2020-03-03").cluster == "sent"
    assert index.assign("other", OTHER, "2020-03-04").cluster == "other"
    other_process = sqlite3.connect(str(state))
    assert other_process.execute("SELECT count(*) FROM docs").fetchone()[0] == 0  # not committed yet
    # the process "dies" before the commit: its transaction is lost, the journal is not
    index.state.db.close()
    resumed = NearDupIndex(
        log=StoreEventLog(store, store, work, "crawl-1"), state_path=state, commit_every=64
    )
    assert (resumed.cluster_of("sent"), resumed.cluster_of("edited"), resumed.cluster_of("other")) == (
        "sent",
        "sent",
        "other",
    )
    assert resumed.assign("short", SHORT, "2020-03-09").cluster == "sent"
    resumed.commit()
    assert other_process.execute("SELECT count(*) FROM docs").fetchone()[0] == 4
    with pytest.raises(ValueError, match="commit_every"):
        NearDupIndex(commit_every=0)


def test_minhash_values_are_the_documented_scheme() -> None:
    # Signatures persist in the archive for years: the numpy code (folds instead of division, the rare
    # value of P or more after them fixed per row) must give the values of the scheme in corpus.minhash's
    # docstring, computed here with Python integers.
    import hashlib
    import random

    from corpus import minhash as mh

    p = (1 << 31) - 1
    rng = random.Random(5)
    sets: list[set[bytes]] = [set()] + [
        {bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30))) for _ in range(rng.randrange(1, 300))}
        for _ in range(40)
    ]
    coefficients = list(zip(mh._A[:, 0].tolist(), mh._B[:, 0].tolist(), strict=True))
    for shingles in sets:
        xs = [int.from_bytes(hashlib.blake2b(s, digest_size=8).digest(), "little") % p for s in shingles]
        expected = [min(((a * x + b) % p for x in xs), default=p) for a, b in coefficients]
        assert mh.minhash(shingles).tolist() == expected
