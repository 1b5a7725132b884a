"""The crawl frontier on disk (crawler/frontier/): order, seen-set, commits, and resuming after kill -9 of the
main process with every article stored once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from crawler.frontier import BACKLOG, DONE, NEW, PENDING, QUEUED, REVISIT, SEEN, Frontier
from newsroom.faults import FaultSite
from tests.crawling import REPO, run_crawl
from tests.faults_crawl import FAULT_SETTINGS, component_settings, crawl_command
from tests.localserver import serve


def test_rows_come_out_new_first_then_best_scored_then_newest(tmp_path: Path) -> None:
    frontier = Frontier(tmp_path / "f.sqlite")
    rows = [
        ("http://s/old-good", 30.0, BACKLOG, "2024-01-01"),
        ("http://s/old-plain", 0.0, BACKLOG, "2024-01-02"),
        ("http://s/new-plain", 0.0, NEW, "2024-06-01"),
        ("http://s/old-good-newer", 30.0, BACKLOG, "2024-03-01"),
        ("http://s/new-good", 5.0, NEW, "2024-06-02"),
    ]
    for url, score, tier, lastmod in rows:
        assert frontier.offer(url, "s", score) == "new"
        assert frontier.put(
            url, "s", {"cb": "parse_article", "meta": {}}, score=score, tier=tier, lastmod=lastmod
        )
    frontier.offer("http://s/fetched-before", "s", 50.0)
    frontier.put("http://s/fetched-before", "s", {"cb": "parse_article"}, score=50.0, tier=REVISIT)
    frontier.put("http://t/other-site", "t", {"cb": "parse_article"}, score=99.0)
    assert frontier.count_waiting("s") == 5  # the backlog: not what an earlier crawl fetched already
    # held back while unscored rows wait (CRAWL_FOCUS=prioritise before the first idle moment)
    assert [u for u, _ in frontier.take("s", 10, unscored=False)] == [
        "http://s/new-good",
        "http://s/old-good-newer",
        "http://s/old-good",
    ]
    assert [u for u, _ in frontier.take("s", 10)] == [
        "http://s/new-plain",
        "http://s/old-plain",
        "http://s/fetched-before",  # fetched by an earlier crawl: last, whatever its score
    ]
    assert frontier.take("s", 10) == []
    assert frontier.count(QUEUED, "s") == 6 and frontier.count(PENDING) == 1


def test_seen_set_rescoring_and_done(tmp_path: Path) -> None:
    frontier = Frontier(tmp_path / "f.sqlite")
    assert frontier.offer("u", "s", 0.0) == "new"
    assert frontier.offer("u", "s", 0.0) is None
    assert frontier.state("u") == SEEN  # its request has not reached the frontier (or was dropped)
    assert frontier.put("u", "s", {"cb": "parse_article"}, score=0.0)
    assert frontier.offer("u", "s", 12.0) == "better"
    assert frontier.put("u", "s", {"cb": "parse_article", "meta": {"focus_score": 12.0}}, score=12.0)
    (url, data), *rest = frontier.take("s", 5)
    assert (url, data["meta"], rest) == ("u", {"focus_score": 12.0}, [])
    assert frontier.offer("u", "s", 40.0) is None  # queued: no second request
    assert not frontier.put("u", "s", {"cb": "parse_article"}, score=40.0)
    frontier.mark_done("u", "s")
    assert frontier.state("u") == DONE and frontier.offer("u", "s", 50.0) is None
    frontier.close()


def test_committed_rows_survive_an_abandoned_connection_and_queued_ones_wait_again(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite"
    first = Frontier(path)
    for n in range(5):
        first.offer(f"u{n}", "s", float(n))
        first.put(f"u{n}", "s", {"cb": "parse_article"}, score=float(n))
    first.take("s", 2)  # u4 and u3 handed to the scheduler (committed)
    first.mark_done("u4", "s")
    first.commit()
    first.mark_done("u0", "s")  # not committed when the process dies
    # the process dies: no commit (closing the connection rolls the open transaction back, as a kill does)
    first._db.close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    second = Frontier(path)
    assert second.existed and second.run == 2 and second.requeued == 1
    assert second.state("u4") == DONE and second.done_earlier("u4")
    assert [u for u, _ in second.take("s", 10)] == ["u3", "u2", "u1", "u0"]


ARTICLES = 40
CRAWL_ID = "frontier-kill"
SETTINGS = {
    **FAULT_SETTINGS,
    **component_settings(),
    "CONCURRENT_REQUESTS": "2",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
    "DOWNLOAD_TIMEOUT": "60",
}


def _article_counts(site: FaultSite) -> Counter[str]:
    return Counter(r.path for r in site.requests if r.path.startswith("/news/"))


def _manifest_urls(path: Path) -> set[str]:
    if not path.exists():
        return set()
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]  # not a line cut by the kill
    return {str(json.loads(line)["url"]) for line in lines if line.strip()}


def test_frontier_resumes_after_kill_9_of_the_main_process(tmp_path: Path) -> None:
    manifest = tmp_path / "spool" / "manifests-open" / f"{CRAWL_ID}.jsonl"
    with FaultSite("resume", articles=ARTICLES, faults=(), article_delay=0.2) as site:
        sources = site.write_sources(tmp_path / "sources.yaml")
        proc = subprocess.Popen(
            crawl_command(sources, tmp_path, CRAWL_ID, SETTINGS),
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            # killed once a dozen articles went through the pipelines (in the manifest's working file)
            while len(_manifest_urls(manifest)) < 12:
                assert proc.poll() is None, "the crawl ended before the kill point"
                time.sleep(0.01)
        finally:
            os.kill(proc.pid, signal.SIGKILL)  # the main process alone
            proc.wait(60)
        time.sleep(2)  # its extraction workers notice and go
        first = _article_counts(site)
        # the frontier is on disk, committed: the candidates found, most still waiting
        path = tmp_path / "spool" / "state" / f"{CRAWL_ID}.frontier.sqlite"
        db = sqlite3.connect(path)
        states = dict(db.execute("SELECT state, COUNT(*) FROM frontier GROUP BY state").fetchall())
        db.close()
        done_first = _manifest_urls(manifest)
        assert sum(states.values()) == ARTICLES
        assert states.get(PENDING, 0) + states.get(QUEUED, 0) >= ARTICLES - sum(first.values())
        assert states.get(PENDING, 0) > 0
        assert states.get(DONE, 0) >= len(done_first) - 1  # committed within moments of the item

        run = run_crawl(sources, tmp_path, crawl_id=CRAWL_ID, settings=SETTINGS, timeout=300)
        assert run.returncode == 0, run.log[-3000:]
        second = _article_counts(site) - first

    # every article stored once, across the two runs
    urls = [str(line["url"]) for line in run.manifest()]
    assert sorted(urls) == sorted(site.expected_archived)
    assert max(first.values()) == 1 and max(second.values(), default=0) <= 1
    # the second run continued the frontier: what the first one finished is not fetched again; what it
    # had fed and not finished (at most the feeder's window, 2 x CONCURRENT_REQUESTS, plus the responses
    # in the pipelines) is fetched again
    refetched = {site.url(p) for p in first if second[p]}
    assert not refetched & done_first
    assert len(refetched) <= 2 * 2 + 2, refetched
    # the queued rows waited again; those the journal had finished were not fed
    assert run.stat("frontier/requeued") >= len(refetched)
    assert run.stat("frontier/fed") <= ARTICLES - len(done_first)
    # a clean end: the backlog (empty) went to the store, the local frontier file is gone
    assert not path.exists()
    focus = sorted((tmp_path / "archive" / "state" / "sites").glob("*/focus/*.jsonl.gz"))
    assert focus, list((tmp_path / "archive").rglob("*"))[:20]
    import gzip

    header = json.loads(gzip.decompress(focus[-1].read_bytes()).decode().splitlines()[0])
    assert header["backlog"] == 0 and header["crawl_id"] == CRAWL_ID


# --- the duplicate filter and the frontier -----------------------------------------------------------------

_TEXT = "عقد المجلس الرئاسي الليبي في طرابلس اجتماعا مع حكومة الوحدة الوطنية لبحث الأوضاع في ليبيا. " * 3
_REDIRECTS = {"/news/2-old": "/news/3-new", "/news/4-moved": "/news/5-target"}


class _LinkedTwiceHandler(BaseHTTPRequestHandler):
    """A home page linking three articles. The first is also in the footer as a share link with tracking
    parameters and the topic in its text: not an article URL for the pattern (its query), so a topic section;
    it canonicalises to the article's URL. Two articles answer with a redirect, one to another listed
    article, one to an unlisted page."""

    hits: list[str] = []  # noqa: RUF012 (reset per test; shared with the server thread)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    share_first = False  # the share link before the article's own link (in the header), else after it

    def do_GET(self) -> None:
        _LinkedTwiceHandler.hits.append(self.path)
        share = (
            '<a href="/news/1-talks?utm_source=facebook&amp;utm_medium=social">محادثات ليبيا في طرابلس</a>'
        )
        if self.path == "/robots.txt":
            self._send(b"User-agent: *\nAllow: /\n", "text/plain")
        elif self.path == "/":
            self._send(
                (
                    f"<html><body><header>{share if self.share_first else ''}</header><main>"
                    '<a href="/news/1-talks">1</a> <a href="/news/2-old">2</a> <a href="/news/3-new">3</a>'
                    f' <a href="/news/4-moved">4</a></main><footer>{"" if self.share_first else share}'
                    "</footer></body></html>"
                ).encode(),
                "text/html; charset=utf-8",
            )
        elif self.path in _REDIRECTS:
            self.send_response(301)
            self.send_header("Location", _REDIRECTS[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/news/"):
            title = self.path.rsplit("/", 1)[-1]
            body = f"<html><head><title>{title}</title></head><body><article><h1>{title} ليبيا</h1>"
            self._send(
                f"{body}<p>{_TEXT}</p><p>{_TEXT}</p></article></body></html>".encode(),
                "text/html; charset=utf-8",
            )
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(params=[False, True], ids=["share-link-after", "share-link-first"])
def linked_twice(request: pytest.FixtureRequest) -> Iterator[str]:
    _LinkedTwiceHandler.hits = []
    _LinkedTwiceHandler.share_first = request.param
    with serve(_LinkedTwiceHandler) as url:
        yield url


def test_an_article_also_linked_by_its_share_link_and_redirects_are_fetched_once(
    tmp_path: Path, linked_twice: str
) -> None:
    """The article is fetched once and stored whichever of its own link and its share link (tracking
    parameters, which the article pattern does not allow) comes first; fed requests are filtered against
    the other requests and their redirects against the frontier: a redirect to a listed article waits for
    that article's own request, and a redirect to an unlisted page is followed and stored."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"sites:\n  - name: twice\n    home: {linked_twice}/\n    article_pattern: '^/news/\\d+-[a-z]+$'\n",
        encoding="utf-8",
    )
    run = run_crawl(sources, tmp_path / "w", crawl_id="twice", settings={"RELEVANCE_KEEP_ALL": "True"})
    assert run.returncode == 0, run.log[-3000:]
    hits = Counter(path.split("?", 1)[0] for path in _LinkedTwiceHandler.hits)
    assert {
        p: hits[p] for p in ("/news/1-talks", "/news/2-old", "/news/3-new", "/news/4-moved", "/news/5-target")
    } == {
        "/news/1-talks": 1,
        "/news/2-old": 1,
        "/news/3-new": 1,
        "/news/4-moved": 1,
        "/news/5-target": 1,
    }
    stored = Counter(str(line["url"]) for line in run.manifest())
    assert stored == Counter(f"{linked_twice}/news/{n}" for n in ("1-talks", "3-new", "5-target"))
    assert run.stat("focus/sections_found") == 0  # the share link is the article, not a topic section
    assert run.stat("dupefilter/filtered") >= 1  # the redirect to the listed article
    assert run.stat("frontier/lost") == 0
