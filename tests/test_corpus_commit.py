"""The crawl's near-duplicate transaction ends soon after the last assignment, in a thread of its own, and at close."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

import crawler.corpus
from archive.store import open_store
from corpus.annotate import Annotator
from corpus.dataset import DatasetWriter
from corpus.neardup import NearDupIndex, StoreEventLog
from crawler.corpus import CorpusExtension
from newsroom.catalog import syndicated_specs


def _text(key: str) -> str:
    return next("\n\n".join(spec.paragraphs) for _, spec in syndicated_specs() if spec.key == key)


def _docs(state: Path) -> int:
    other_process = sqlite3.connect(str(state))
    try:
        return int(other_process.execute("SELECT count(*) FROM docs").fetchone()[0])
    finally:
        other_process.close()


def test_an_assignment_is_committed_soon_without_another_and_at_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crawler.corpus, "COMMIT_SECONDS", 0.2)
    store = open_store(str(tmp_path / "archive"))
    state = tmp_path / "index.sqlite"
    index = NearDupIndex(
        log=StoreEventLog(store, store, tmp_path / "work", "crawl"), state_path=state, commit_every=64
    )
    ext = CorpusExtension(Annotator(index), DatasetWriter(store, tmp_path / "dataset", "crawl"))
    index.assign("sent", _text("agency-derna-flood-aid-sent"), "2020-03-02")
    ext.commit_soon()
    assert _docs(state) == 0  # the transaction is open: nothing else comes, yet it ends
    deadline = time.monotonic() + 30
    while _docs(state) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _docs(state) == 1
    # A commit waiting when the crawl closes happens at once, before the index closes.
    monkeypatch.setattr(crawler.corpus, "COMMIT_SECONDS", 3600)
    index.assign("other", _text("agency-kufra-border-smuggling-sent"), "2020-03-03")
    ext.commit_soon()
    started = time.monotonic()
    ext.close()
    assert time.monotonic() - started < 60
    assert _docs(state) == 2
