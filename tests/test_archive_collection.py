"""One collection over the whole store (archive/collection.py, crawler/collection.py): sorted parts, ZipNum,
updated as each crawl closes; two crawls replay in pywb and in ReplayWeb.page (collection.json), the second
crawl's 304 revisits included."""

from __future__ import annotations

import itertools
import json
import math
import random
import re
import urllib.request
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from archive.collection import (
    PARTS_FILE,
    Part,
    add_crawl,
    build_collection,
    merge_indexes,
    read_part,
    write_zipnum,
)
from archive.replaycheck import Capture, check_pages_in_replaywebpage, read_cdxj
from archive.warc import NOT_MODIFIED_PROFILE
from tests.crawling import run_crawl, run_scrapy, scrapy_command
from tests.fixtures_replaywebpage import ReplayWebPage


def test_merge_keeps_sort_order_and_makes_filenames_relative(tmp_path: Path) -> None:
    root = tmp_path / "warc"
    for crawl, lines in {
        "c1": ["a,b)/ 20260101000000", "a,b)/x 20260101000000", "z,b)/ 20260101000000"],
        "c2": ["a,b)/ 20260201000000", "m,b)/ 20260201000000"],
    }.items():
        (root / crawl).mkdir(parents=True)
        text = "".join(f'{line} {{"url": "u", "filename": "{crawl}.warc.gz"}}\n' for line in lines)
        (root / crawl / f"{crawl}.cdxj").write_text(text, encoding="utf-8")
    out = tmp_path / "index.cdxj"
    assert merge_indexes(sorted(root.glob("*/*.cdxj")), root, out) == 5
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [line.split(" {")[0] for line in lines] == sorted(line.split(" {")[0] for line in lines)
    assert {json.loads(line.split(" ", 2)[2])["filename"] for line in lines} == {
        "c1/c1.warc.gz",
        "c2/c2.warc.gz",
    }


def _lines(keys: list[str], crawl: str) -> str:
    return "".join(f'{key} {{"url": "u", "filename": "{crawl}.warc.gz"}}\n' for key in sorted(keys))


def test_zipnum_part_reads_back_in_blocks(tmp_path: Path) -> None:
    lines = [f"a,b)/{i:05d} 20260101000000 {{}}\n" for i in range(23)]
    assert write_zipnum(lines, tmp_path, "p", block_lines=5) == 23
    assert list(read_part(tmp_path, Part("p", 23, True, ()))) == lines
    idx = [line.split("\t") for line in (tmp_path / "p.idx").read_text().splitlines()]
    assert len(idx) == math.ceil(23 / 5)
    assert [row[0] for row in idx] == [lines[i].split(" {")[0] for i in range(0, 23, 5)]
    offsets = [(int(row[2]), int(row[3])) for row in idx]
    assert offsets[0][0] == 0 and all(a + n == b for (a, n), (b, _) in itertools.pairwise(offsets))
    assert sum(n for _, n in offsets) == (tmp_path / "p.cdxj.gz").stat().st_size
    assert (tmp_path / "p.loc").read_text() == "p\tp.cdxj.gz\n"


def test_each_crawl_added_merges_sorted_parts_size_tiered(tmp_path: Path) -> None:
    rng = random.Random(7)
    everything: set[str] = set()
    for n in range(24):
        crawl = f"c{n:02d}"
        keys = [
            f"{rng.choice('abcdefgh')},x)/{rng.randrange(10_000)} 2026{n:02d}01000000"
            for _ in range(rng.randrange(5, 400))
        ]
        cdxj = tmp_path / "incoming" / crawl / f"{crawl}.cdxj"
        cdxj.parent.mkdir(parents=True)
        cdxj.write_text(_lines(keys, crawl), encoding="utf-8")
        everything |= {line for line in _lines(keys, crawl).splitlines()}
        update = add_crawl(tmp_path / "store", crawl, [cdxj], zipnum_min_lines=500)
        parts = update.collection.parts
        # Few parts (size-tiered: each older part holds more than COMPACT_FACTOR x the next one's lines).
        assert len(parts) <= 2 + math.log(len(everything), 4), [p.lines for p in parts]
        assert all(older.lines > 4 * newer.lines for older, newer in itertools.pairwise(parts))
    indexes = tmp_path / "store" / "collection" / "indexes"
    listed = json.loads((indexes / PARTS_FILE).read_text())["parts"]
    assert [p["name"] for p in listed] == [p.name for p in parts]
    found: list[str] = []
    for part in parts:
        lines = [line.rstrip("\n") for line in read_part(indexes, part)]
        assert [line.split(" {")[0] for line in lines] == sorted(line.split(" {")[0] for line in lines)
        found += lines
    # Every line of every crawl once, its filename made <crawl>/<file>.
    assert len(found) == len(everything) == update.collection.records
    assert {json.loads(line.split(" ", 2)[2])["filename"].split("/")[0] for line in found} == {
        f"c{n:02d}" for n in range(24)
    }
    assert any(p.zipnum for p in parts) and update.collection.crawls == tuple(f"c{n:02d}" for n in range(24))
    # Nothing left of the merged parts but the live ones (and their manifest, the lock).
    names = {f for p in parts for f in p.files()} | {PARTS_FILE}
    assert {p.name for p in indexes.iterdir()} == names


def _memento_ts(headers: Any) -> str:
    return parsedate_to_datetime(headers["Memento-Datetime"]).strftime("%Y%m%d%H%M%S")


def _get(url: str) -> tuple[int, Any, bytes]:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.status, response.headers, response.read()


@pytest.mark.timeout(1200)
def test_two_crawls_replay_from_one_collection(
    newsroom: Any,
    tmp_path: Path,
    pywb_in: Callable[[Path, str], Any],
    replaywebpage_in: Callable[[Path], ReplayWebPage],
) -> None:
    from playwright.sync_api import sync_playwright

    from crawler.render import BROWSER_ARGS, find_chromium

    entry = next(s for s in newsroom.sources()["sites"] if s["name"] == "wahaa")
    entry["render"] = "never"
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sites": [entry]}), encoding="utf-8")
    # Small ZipNum threshold: the second crawl's close merges both crawls' parts into a compressed one.
    settings = {"COLLECTION_ZIPNUM_LINES": "50"}
    first = run_crawl(sources, tmp_path / "store", crawl_id="coll-one", settings=settings)
    # The second crawl asks conditionally (no INCREMENTAL_REFETCH): unchanged articles answer 304 and are
    # archived as server-not-modified revisits of the first crawl's records.
    second = run_crawl(sources, tmp_path / "store", crawl_id="coll-two", settings=settings)
    assert first.returncode == second.returncode == 0, second.log[-3000:]
    store = tmp_path / "store" / "archive"
    per_crawl = read_cdxj(sorted((store / "warc").glob("*/*.cdxj")))

    # Each crawl's close added its index to the store's collection: no rebuild needed.
    indexes = store / "collection" / "indexes"
    parts = [Part.from_json(p) for p in json.loads((indexes / PARTS_FILE).read_text())["parts"]]
    assert {c for p in parts for c in p.crawls} == {"coll-one", "coll-two"}
    assert sum(p.lines for p in parts) == len(per_crawl)
    assert any(p.zipnum for p in parts), parts
    closed = re.search(
        r"crawl coll-two added \((\d+) record\(s\)\), \d+ part\(s\), (\d+) record\(s\) in all", second.log
    )
    assert closed is not None, second.log[-3000:]
    assert int(closed.group(2)) == len(per_crawl)
    assert int(closed.group(1)) == len(read_cdxj(sorted((store / "warc" / "coll-two").glob("*.cdxj"))))
    description = json.loads((store / "collection" / "collection.json").read_text(encoding="utf-8"))
    assert [r["crawlId"] for r in description["resources"]] == ["coll-one", "coll-two"]
    assert all((store / "collection" / r["path"]).is_file() for r in description["resources"])

    server = pywb_in(store / "collection", "libya")
    articles = {line["url"]: line for line in first.manifest()}
    assert len(articles) >= 10
    second_captures = {c.url: c for c in read_cdxj(sorted((store / "warc" / "coll-two").glob("*.cdxj")))}
    # The second crawl's revisits and their kind: server-not-modified (a 304 to a conditional request) or
    # identical-payload-digest (fetched again, same bytes).
    from warcio.archiveiterator import ArchiveIterator

    profile_of: dict[str, str] = {}
    for path in sorted((store / "warc" / "coll-two").glob("*.warc.gz")):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "revisit":
                    uri = record.rec_headers.get_header("WARC-Target-URI")
                    profile_of[uri] = record.rec_headers.get_header("WARC-Profile")
    pages: list[Capture] = []
    replayed: list[str] = []
    for url, line in articles.items():
        target = line["warc"]["target_uri"]
        ts = "".join(ch for ch in line["warc"]["warc_date"] if ch.isdigit())[:14]
        status, _, original = _get(server.url(ts, "id_", target))
        assert status == 200
        pages.append(Capture(target, ts, "text/html", "200"))
        later = second_captures.get(target)
        if later is None or later.mime != "warc/revisit":
            continue  # not due for a re-check in the second crawl, or changed
        # The revisit replays as the page, at the second crawl's time: not as "304 Not Modified".
        status, headers, body = _get(server.url(later.timestamp, "id_", later.url))
        assert status == 200, (url, profile_of.get(target))
        assert _memento_ts(headers) == later.timestamp  # the revisit, not the first capture
        assert body == original, url
        pages.append(Capture(later.url, later.timestamp, "text/html", "200"))
        replayed.append(profile_of[target])
    assert len(replayed) >= 10, replayed
    assert replayed.count(NOT_MODIFIED_PROFILE) >= 5, replayed

    # ReplayWeb.page opens the collection's description (both crawls' WACZ packages) and replays the
    # articles of both crawls, the second crawl's revisits resolved into the first crawl's package.
    rwp = replaywebpage_in(store)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=list(BROWSER_ARGS))
        try:
            check = check_pages_in_replaywebpage(
                browser, rwp.app_url, rwp.data_url("collection/collection.json"), pages, per_crawl
            )
        finally:
            browser.close()
    expected_titles = {p.url: p for p in check.pages}
    assert len(expected_titles) == len(articles)
    for page in check.pages:
        assert page.title.strip(), page.url
    by_url: dict[str, set[str]] = {}
    for page in check.pages:
        by_url.setdefault(page.url, set()).add(" ".join(page.title.split()))
    assert all(len(titles) == 1 for titles in by_url.values()), by_url  # the same page at both times
    unserved = {p.url: p.unserved for p in check.pages if p.unserved}
    assert not unserved, unserved

    # The full rebuild gives the same records in one part.
    result = run_scrapy(scrapy_command("collection", "build", "--archive-uri", str(store)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 crawl(s)" in result.stdout
    collection = build_collection(store)  # idempotent: the same again
    assert collection.records == len(per_crawl) and collection.crawls == ("coll-one", "coll-two")
    assert len(collection.parts) == 1
