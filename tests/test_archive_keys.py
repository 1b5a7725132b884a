"""archive.keys: the layout, and (hypothesis) that no input can climb out of its prefix."""

from __future__ import annotations

import posixpath
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.keys import (
    MAX_KEY_BYTES,
    article_id,
    check_key,
    manifest_key,
    safe_segment,
    state_key,
    text_key,
    wacz_key,
    warc_key,
)
from archive.store import FileStore

# Anything a page or a sources file could say, including separators, dots, controls and bidi overrides.
hostile = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.sampled_from(["/", "\\", ".", "\x00", "\n", "\u202e", "\u200f", "~", " ", "ل"])),
    st.sampled_from(
        ["..", ".", "/", "../../etc/passwd", "..\\..\\x", "", " ", "\u202e..", "%2e%2e", "ليبيا/.."]
    ),
)


def _assert_contained(key: str, prefix: str) -> None:
    check_key(key)
    assert key.startswith(prefix)
    assert posixpath.normpath(key) == key
    assert posixpath.normpath(posixpath.join("/root", key)).startswith("/root/" + prefix)
    assert len(key.encode("utf-8")) <= MAX_KEY_BYTES
    assert not any(unicodedata.category(ch)[0] == "C" for ch in key)


def test_layout_examples() -> None:
    aid = article_id("https://alwasat.ly/news/libya/123")
    assert len(aid) == 16 and aid == article_id(" https://alwasat.ly/news/libya/123 ")
    assert text_key("alwasat", "2024-05-17T10:00:00+02:00", aid, "json") == f"text/alwasat/2024/05/{aid}.json"
    assert text_key("alwasat", None, aid, "txt") == f"text/alwasat/undated/{aid}.txt"
    assert text_key("alwasat", "not a date", aid, "txt") == f"text/alwasat/undated/{aid}.txt"
    assert text_key("alwasat", "2024-13-01", aid, "txt") == f"text/alwasat/undated/{aid}.txt"
    assert text_key("Al Wasat!", "2024-05", aid, ".TXT") == f"text/al-wasat/2024/05/{aid}.txt"
    assert warc_key("crawl-1", "LIBYA-20240517-00001.warc.gz") == "warc/crawl-1/LIBYA-20240517-00001.warc.gz"
    assert warc_key("c", "ليبيا-1.warc.gz") == "warc/c/ليبيا-1.warc.gz"
    assert wacz_key("crawl-1") == "wacz/crawl-1.wacz"
    assert manifest_key("crawl-1") == "manifests/crawl-1.jsonl"
    assert state_key("digests.json") == "state/digests.json"
    assert state_key("../../x") == "state/x"
    assert text_key("..", None, "../../etc/passwd", "sh/../x") == "text/_/undated/etc-passwd.bin"


def test_long_segments_are_cut_but_stay_distinct() -> None:
    a, b = safe_segment("a" * 500 + "1"), safe_segment("a" * 500 + "2")
    assert a != b and len(a.encode()) <= 120 and len(b.encode()) <= 120


@pytest.mark.parametrize("bad", ["", "/a", "a/../b", "a\\b", "a//b", "a/\x00", "a/\u202eb", "./a", "a/"])
def test_check_key_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        check_key(bad)


@settings(max_examples=400, deadline=None)
@given(site=hostile, published=st.one_of(st.none(), hostile), ident=hostile, ext=hostile)
def test_text_key_stays_under_text(site: str, published: str | None, ident: str, ext: str) -> None:
    key = text_key(site, published, ident, ext)
    _assert_contained(key, "text/")
    assert key.count("/") in (3, 4)


@settings(max_examples=400, deadline=None)
@given(crawl_id=hostile, name=hostile)
def test_other_keys_stay_under_their_prefix(crawl_id: str, name: str) -> None:
    _assert_contained(warc_key(crawl_id, name), "warc/")
    assert warc_key(crawl_id, name).count("/") == 2
    _assert_contained(wacz_key(crawl_id), "wacz/")
    _assert_contained(manifest_key(crawl_id), "manifests/")
    _assert_contained(state_key(name), "state/")
    assert state_key(name).count("/") == 1


@settings(max_examples=100, deadline=None)
@given(site=hostile, ident=hostile)
def test_file_store_writes_hostile_keys_inside_its_root(
    tmp_path_factory: pytest.TempPathFactory, site: str, ident: str
) -> None:
    base = tmp_path_factory.mktemp("keys")
    root = base / "root"
    store = FileStore(root)
    key = store.put_bytes(text_key(site, None, ident, "txt"), b"x")
    written = [p for p in base.rglob("*") if p.is_file()]
    assert written == [root / key]
    assert Path(root / key).resolve().is_relative_to(root.resolve())
