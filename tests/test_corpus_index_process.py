"""The crawl's near-duplicate index in a process of its own (crawler.corpus_index): the same clusters as the
index in-process, its events handed to the store, and nothing lost when the child is killed mid-crawl."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from archive.store import open_store
from corpus.neardup import NearDupConfig, NearDupIndex, StoreEventLog
from crawler.corpus_index import IndexProcess
from newsroom.catalog import syndicated_specs

# (key, when, text) of the newsroom's syndication specs: agency copies as sent, edited and shortened,
# stories on one site, near misses; in publication order, as a crawl meets them.
ARTICLES = sorted(
    (
        (f"{site}-{spec.key}", spec.published.isoformat(), "\n\n".join(spec.paragraphs))
        for site, spec in syndicated_specs()
    ),
    key=lambda a: (a[1], a[0]),
)


def _process(tmp_path: Path, store: object, lost: list[int] | None = None) -> IndexProcess:
    return IndexProcess(
        NearDupConfig(),
        tmp_path / "state.sqlite",
        tmp_path / "work",
        "crawl-1",
        store,  # type: ignore[arg-type]
        commit_every=8,
        on_lost=(lambda: lost.append(1)) if lost is not None else None,
    )


def _reloaded(store: object, tmp_path: Path, name: str) -> NearDupIndex:
    """A later crawl's index, built from the store's segments alone."""
    return NearDupIndex(log=StoreEventLog(store, store, tmp_path / name, name))  # type: ignore[arg-type]


def test_the_index_process_clusters_as_the_index_in_process_and_hands_its_events_to_the_store(
    tmp_path: Path,
) -> None:
    assert len(ARTICLES) >= 30
    store = open_store(str(tmp_path / "archive"))
    served = _process(tmp_path, store)
    child = served.pid
    assert child is not None and child != os.getpid()
    local = NearDupIndex()
    got = [served.assign(key, text, when) for key, when, text in ARTICLES]
    want = [local.assign(key, text, when) for key, when, text in ARTICLES]
    assert [(a.cluster, a.duplicate_of, a.merges) for a in got] == [
        (a.cluster, a.duplicate_of, a.merges) for a in want
    ]
    assert sum(a.duplicate_of is not None for a in got) >= 10  # copies were found, not only singletons
    # Assigning a key again changes nothing (a resumed crawl storing an article a second time).
    again = served.assign(ARTICLES[0][0], ARTICLES[0][2], ARTICLES[0][1])
    assert again.known and again.cluster == got[0].cluster
    assert len(served) == len(ARTICLES)
    served.close()
    assert served.pid is not None  # it stopped; it was never replaced
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    # Its events are in the store's segments, and its journals are gone from the work dir.
    assert list(store.list("state/neardup/crawl-1-"))
    assert not list((tmp_path / "work").glob("journal-*"))
    later = _reloaded(store, tmp_path, "crawl-2")
    for (key, _, _), assignment in zip(ARTICLES, got, strict=True):
        assert later.cluster_of(key) == assignment.cluster, key


def test_a_killed_index_process_is_replaced_in_process_and_loses_no_assignment(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "archive"))
    lost: list[int] = []
    served = _process(tmp_path, store, lost)
    half = len(ARTICLES) // 2
    got = [served.assign(key, text, when) for key, when, text in ARTICLES[:half]]
    child = served.pid
    assert child is not None
    # Ctrl-C or SIGTERM to the crawl's process group is the crawler's to handle: the child carries on.
    os.kill(child, signal.SIGINT)
    os.kill(child, signal.SIGTERM)
    assert len(served) == half and not lost
    # Killed with its last transaction open (commit_every=8): what it had not committed is in its journal.
    os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and os.waitpid(child, os.WNOHANG) == (0, 0):
        time.sleep(0.05)
    got += [served.assign(key, text, when) for key, when, text in ARTICLES[half:]]
    assert lost == [1] and served.pid is None
    served.close()
    # The same clusters as one index that never died, and every assignment reaches the store.
    local = NearDupIndex()
    want = [local.assign(key, text, when) for key, when, text in ARTICLES]
    assert [a.cluster for a in got] == [a.cluster for a in want]
    later = _reloaded(store, tmp_path, "crawl-2")
    assert len(later) == len(ARTICLES)
    for (key, _, _), assignment in zip(ARTICLES, got, strict=True):
        assert later.cluster_of(key) == assignment.cluster, key


def test_a_process_that_exits_without_closing_the_index_ends_its_child_and_keeps_its_assignments(
    tmp_path: Path,
) -> None:
    """A crawl stopped before it opens (a bad setting in a later component) never closes the index: the
    interpreter's exit must still end the child (which ignores SIGTERM, multiprocessing's way of ending it),
    with its open transaction committed, instead of waiting for it for ever."""
    count = 12
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from archive.store import open_store
        from test_corpus_index_process import ARTICLES, _process
        served = _process(Path({str(tmp_path)!r}), open_store({str(tmp_path / "archive")!r}))
        for key, when, text in ARTICLES[:{count}]:
            served.assign(key, text, when)
        print(served.pid, flush=True)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    child = int(proc.stdout.split()[-1])
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    # The next crawl's index (same state, same work dir) holds every assignment, and hands them over.
    store = open_store(str(tmp_path / "archive"))
    again = NearDupIndex(
        NearDupConfig(), StoreEventLog(store, store, tmp_path / "work", "crawl-1"), tmp_path / "state.sqlite"
    )
    assert len(again) == count
    again.close()
