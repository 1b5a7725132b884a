"""archive.state: the per-site incremental state, its merge, and saves that race on a real store."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypothesis import given
from hypothesis import strategies as st

from archive.state import CrawlState, merge_entries, parse_time, version_key
from archive.state_store import StateStore
from archive.store import open_store

if TYPE_CHECKING:
    from tests.fixtures_s3 import SeaweedS3

pytest_plugins = ["tests.fixtures_s3"]

URL = "http://127.0.0.1:8001/news/2024/05/article-one"


def _fetch(state: CrawlState, url: str, etag: str, when: str) -> None:
    state.record_fetch(
        url,
        status=200,
        etag=etag,
        last_modified="Wed, 01 May 2024 10:00:00 GMT",
        payload_digest=f"sha1:{etag.strip(chr(34)).upper()}",
        capture={"target_uri": url, "warc_date": when, "record_id": f"<urn:uuid:{etag}>"},
        when=when,
    )


def test_save_then_load_round_trip(tmp_path: Path) -> None:
    states = StateStore(open_store(str(tmp_path)))
    state = states.load("alpha", "crawl-1")
    assert len(state) == 0
    _fetch(state, URL, '"e1"', "2024-05-02T00:00:00.000000Z")
    version, previous = state.next_version(URL, "a" * 64)
    assert (version, previous) == (1, None)
    state.record_text(
        URL,
        canonical_url=URL,
        text_sha256="a" * 64,
        version=1,
        text_key="text/alpha/x.txt",
        json_key="j.json",
    )
    result = states.save(state)
    assert result.snapshot_written and result.articles == 1
    assert result.delta_key == "state/sites/alpha/runs/crawl-1.json"
    assert (tmp_path / "state/sites/alpha.json").is_file()

    again = states.load("alpha", "crawl-2")
    known = again.get(URL)
    assert known is not None
    assert known.etag == '"e1"' and known.version == 1 and known.text_key == "text/alpha/x.txt"
    assert again.conditional_headers(URL) == {
        "If-None-Match": '"e1"',
        "If-Modified-Since": "Wed, 01 May 2024 10:00:00 GMT",
    }
    assert again.conditional_headers(URL + "-other") == {}
    # A changed text becomes version 2, linked to version 1.
    version, previous = again.next_version(URL, "b" * 64)
    assert version == 2
    assert previous == {
        "version": 1,
        "text_key": "text/alpha/x.txt",
        "json_key": "j.json",
        "text_sha256": "a" * 64,
        "crawl_id": "crawl-1",
    }
    assert again.text_unchanged(URL, "a" * 64) and not again.text_unchanged(URL, "b" * 64)


def test_not_modified_and_listing_dates(tmp_path: Path) -> None:
    state = CrawlState("alpha", "crawl-1")
    assert not state.listed_unchanged(URL, "2024-01-01")  # unknown URL: always fetch
    _fetch(state, URL, '"e1"', "2024-05-02T12:00:00.000000Z")
    assert state.listed_unchanged(URL, "2024-05-02T11:59:00Z")
    assert not state.listed_unchanged(URL, "2024-05-02T12:30:00+00:00")
    # A bare date is read as the end of that day: the edit may have come after our fetch.
    assert not state.listed_unchanged(URL, "2024-05-02")
    assert state.listed_unchanged(URL, "2024-05-01")
    assert state.listed_unchanged(URL, "Wed, 01 May 2024 23:00:00 +0000")
    assert not state.listed_unchanged(URL, "not a date")
    state.record_not_modified(URL, when="2024-06-01T00:00:00.000000Z")
    assert state.listed_unchanged(URL, "2024-05-30")
    known = state.get(URL)
    assert known is not None and known.etag == '"e1"' and known.confirmed_at == "2024-06-01T00:00:00.000000Z"


def test_version_key() -> None:
    assert version_key("text/a/2024/05/abc.txt", 1) == "text/a/2024/05/abc.txt"
    assert version_key("text/a/2024/05/abc.txt", 2) == "text/a/2024/05/abc.v2.txt"
    assert version_key("text/a/undated/abc.json", 12) == "text/a/undated/abc.v12.json"


def test_parse_time() -> None:
    assert parse_time("2024-05-01T10:00:00+02:00") == parse_time("2024-05-01T08:00:00Z")
    end_of_day = parse_time("2024-05-01")
    assert end_of_day is not None and end_of_day.hour == 23
    assert parse_time("") is None and parse_time("yesterday") is None


_entry = st.fixed_dictionaries(
    {},
    optional={
        "last_seen_at": st.sampled_from(["2024-01-01", "2024-02-01", "2024-03-01"]),
        "last_seen": st.sampled_from(["c1", "c2"]),
        "fetched_at": st.sampled_from(["2024-01-01", "2024-02-01"]),
        "etag": st.sampled_from(['"a"', '"b"']),
        "version": st.integers(1, 3),
        "text_at": st.sampled_from(["2024-01-01", "2024-02-01"]),
        "text_sha256": st.sampled_from(["x", "y"]),
        "confirmed_at": st.sampled_from(["2024-01-01", "2024-04-01"]),
    },
)


@given(_entry, _entry, _entry)
def test_merge_is_a_join(a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]) -> None:
    # Commutative, associative, idempotent: deltas can be folded in any order, any number of times.
    assert merge_entries(a, b) == merge_entries(b, a)
    assert merge_entries(merge_entries(a, b), c) == merge_entries(a, merge_entries(b, c))
    assert merge_entries(merge_entries(a, b), b) == merge_entries(a, b)


def test_merge_keeps_the_newest_of_each_group() -> None:
    old_text_new_fetch = {"fetched_at": "2024-03-01", "etag": '"new"', "version": 1, "text_sha256": "x"}
    new_text_old_fetch = {"fetched_at": "2024-02-01", "etag": '"old"', "version": 2, "text_sha256": "y"}
    merged = merge_entries(old_text_new_fetch, new_text_old_fetch)
    assert merged["etag"] == '"new"' and merged["version"] == 2 and merged["text_sha256"] == "y"


def test_a_stale_snapshot_overwrite_loses_nothing(tmp_path: Path) -> None:
    """The race merge-on-save is built for: B's snapshot is overwritten by A's older one."""
    store = open_store(str(tmp_path))
    states = StateStore(store)
    a = states.load("alpha", "crawl-a")
    b = states.load("alpha", "crawl-b")
    _fetch(a, URL + "-a", '"a"', "2024-05-02T00:00:00.000000Z")
    _fetch(b, URL + "-b", '"b"', "2024-05-02T00:00:01.000000Z")
    states.save(a)
    stale = store.get_bytes(states.snapshot_key("alpha"))
    assert stale is not None
    states.save(b)
    store.put_bytes(states.snapshot_key("alpha"), stale, overwrite=True)  # A's slower snapshot lands last
    merged = states.load("alpha", "crawl-c")
    assert sorted(merged.urls()) == [URL + "-a", URL + "-b"]


def test_same_crawl_id_twice_keeps_both_deltas(tmp_path: Path) -> None:
    states = StateStore(open_store(str(tmp_path)))
    first, second = CrawlState("alpha", "same"), CrawlState("alpha", "same")
    _fetch(first, URL + "-1", '"1"', "2024-05-02T00:00:00.000000Z")
    _fetch(second, URL + "-2", '"2"', "2024-05-02T00:00:00.000000Z")
    assert states.save(first).delta_key == "state/sites/alpha/runs/same.json"
    assert states.save(second).delta_key == "state/sites/alpha/runs/same.1.json"
    assert len(states.load("alpha", "next")) == 2


def _saver(uri: str, options: dict[str, Any], worker: str, rounds: int) -> int:
    """One crawl process saving again and again (runs in a child process)."""
    states = StateStore(open_store(uri, **options))
    for n in range(rounds):
        state = states.load("shared", f"{worker}-{n}")
        when = f"2024-05-02T00:{n:02d}:00.000000Z"
        _fetch(state, f"{URL}-{worker}-{n}", f'"{worker}{n}"', when)
        state.record_seen(URL, when=f"{when[:-1]}{worker}Z")
        states.save(state)
    return rounds


def _race(uri: str, options: dict[str, Any]) -> None:
    rounds = 12
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = [pool.submit(_saver, uri, options, worker, rounds) for worker in ("a", "b")]
        assert [f.result() for f in futures] == [rounds, rounds]
    states = StateStore(open_store(uri, **options))
    final = states.load("shared", "check")
    expected = {f"{URL}-{w}-{n}" for w in ("a", "b") for n in range(rounds)} | {URL}
    assert set(final.urls()) == expected
    for worker in ("a", "b"):
        known = final.get(f"{URL}-{worker}-{rounds - 1}")
        assert known is not None and known.etag == f'"{worker}{rounds - 1}"'
    snapshot = states.store.get_bytes(states.snapshot_key("shared"))
    assert snapshot is not None and json.loads(snapshot)["format"] == 1
    runs = list(states.store.list(states.runs_prefix("shared")))
    assert len(runs) == 2 * rounds


def test_two_concurrent_savers_on_a_file_store(tmp_path: Path) -> None:
    _race(str(tmp_path / "archive"), {})


def test_two_concurrent_savers_on_s3(seaweed: SeaweedS3, s3_bucket: str) -> None:
    _race(seaweed.uri(s3_bucket), seaweed.store_options())
