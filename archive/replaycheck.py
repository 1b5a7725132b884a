"""Replay check: every captured HTML page loaded in Chromium from a running pywb, and what it could not get.

For each page (``html_pages``: the 200 ``text/html`` captures of a set of CDXJ indexes) the page is opened
as an archivist opens it (``<coll>/<ts>/<url>``: pywb's frame, the page rewritten inside it) and every
request it makes is classified:

- served: pywb answered from the archive (``Memento-Datetime``, or the capture's headers as
  ``X-Archive-Orig-*``, which is all pywb sends for an XHR);
- ``unserved``: pywb did not answer from the archive although the URL *was* captured (an index or replay
  fault; must be 0);
- ``uncaptured``: the URL was never captured (a requisite the crawl missed);
- ``escaped``: a request that left pywb for the live web (rewriting failed; the address is kept).

pywb's own assets (``/static/``) do not count. The browser is Playwright's (sync API); the caller launches
it and pywb. Used by the test suite on the newsroom crawl; nothing here imports Scrapy.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

_SKIPPED_SCHEMES = ("data:", "blob:", "about:", "chrome", "javascript:")


@dataclass(frozen=True)
class Capture:
    """One CDXJ line: the URL, its 14-digit timestamp, MIME type and HTTP status."""

    url: str
    timestamp: str
    mime: str
    status: str


def read_cdxj(paths: Iterable[Path]) -> list[Capture]:
    """Every line of the given CDXJ files."""
    captures = []
    for path in paths:
        with Path(path).open(encoding="utf-8") as fh:
            for line in fh:
                parts = line.rstrip("\n").split(" ", 2)
                if len(parts) < 3:
                    continue
                fields = json.loads(parts[2])
                captures.append(
                    Capture(
                        url=str(fields.get("url", "")),
                        timestamp=parts[1],
                        mime=str(fields.get("mime", "")),
                        status=str(fields.get("status", "")),
                    )
                )
    return captures


def url_key(url: str) -> str:
    """A comparable form of a URL: fragment dropped, percent-escapes decoded, default slash path."""
    url = url.split("#", 1)[0]
    parts = urlsplit(url)
    path = unquote(parts.path) or "/"
    query = unquote(parts.query)
    return f"{parts.scheme}://{parts.netloc.lower()}{path}" + (f"?{query}" if query else "")


def html_pages(captures: Iterable[Capture]) -> list[Capture]:
    """The HTML pages among the captures (200, text/html), one per URL (the first capture)."""
    seen: set[str] = set()
    pages = []
    for capture in sorted(captures, key=lambda c: (c.timestamp, c.url)):
        html = capture.status == "200" and capture.mime in ("text/html", "application/xhtml+xml")
        if html and capture.url not in seen:
            seen.add(capture.url)
            pages.append(capture)
    return pages


@dataclass
class PageReplay:
    """What one page asked for in replay."""

    url: str
    title: str = ""  # ReplayWeb.page: the replay frame's document title and text
    text: str = ""
    served: list[str] = field(default_factory=list)
    unserved: list[str] = field(default_factory=list)
    uncaptured: list[str] = field(default_factory=list)
    escaped: list[str] = field(default_factory=list)


@dataclass
class ReplayCheck:
    pages: list[PageReplay]

    def totals(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for page in self.pages:
            totals["pages"] += 1
            totals["served"] += len(page.served)
            totals["unserved"] += len(page.unserved)
            totals["uncaptured"] += len(page.uncaptured)
            totals["escaped"] += len(page.escaped)
        return totals

    def by_host(self) -> dict[str, Counter[str]]:
        """The totals per page host (one site each in a crawl whose sites have their own hosts)."""
        hosts: dict[str, ReplayCheck] = {}
        for page in self.pages:
            hosts.setdefault(urlsplit(page.url).netloc, ReplayCheck([])).pages.append(page)
        return {host: check.totals() for host, check in sorted(hosts.items())}


def _archived_target(request_url: str, pywb_netloc: str, coll: str) -> str | None:
    """The archived URL a request to pywb asks for, '' for pywb's own assets, None for another host."""
    parts = urlsplit(request_url)
    if parts.netloc != pywb_netloc:
        return None
    match = re.match(rf"^/{re.escape(coll)}/\d{{1,14}}(?:[a-z]{{2}}_)?/(.+)$", parts.path)
    if match is None:
        return ""
    target = match.group(1)
    if parts.query:
        target += "?" + parts.query
    if target.startswith("//"):
        target = "http:" + target
    return target


def _from_archive(headers: dict[str, str]) -> bool:
    # pywb marks an archived answer with Memento-Datetime, except for XHR/fetch requests; both carry the
    # capture's own headers as X-Archive-Orig-*. Its "not in archive" page has neither.
    return "memento-datetime" in headers or any(name.startswith("x-archive-orig-") for name in headers)


def _classify(
    result: PageReplay, url: str, status: int, from_archive: bool, target: str | None, captured: set[str]
) -> None:
    """One response of a replayed page: ``target`` is the archived URL asked for ('' for the replay tool's
    own assets, None for another host)."""
    if url.startswith(_SKIPPED_SCHEMES):
        return
    if target is None:
        result.escaped.append(url)
    elif not target or 300 <= status < 400:
        return  # the tool's own assets; a redirect to the nearest capture (its target is seen too)
    elif from_archive:
        result.served.append(target)
    elif url_key(target) in captured:
        result.unserved.append(target)
    else:
        result.uncaptured.append(target)


def _classify_failed(result: PageReplay, url: str, target: str | None, captured: set[str]) -> None:
    if target is None and not url.startswith(_SKIPPED_SCHEMES):
        result.escaped.append(url)
    elif target:
        (result.unserved if url_key(target) in captured else result.uncaptured).append(target)


def _watch(page: Any) -> tuple[list[Any], list[str]]:
    responses: list[Any] = []
    failed: list[str] = []
    page.on("response", lambda response: responses.append(response))
    # A request the browser itself gave up (ERR_ABORTED: the page moved on) is not the archive's doing.
    page.on(
        "requestfailed",
        lambda request: None if "ERR_ABORTED" in (request.failure or "") else failed.append(request.url),
    )
    return responses, failed


def check_pages(
    browser: Any, base_url: str, coll: str, pages: Iterable[Capture], captures: Iterable[Capture]
) -> ReplayCheck:
    """Load each page in a fresh browser page from pywb at ``base_url``/``coll``; classify every request."""
    captured = {url_key(c.url) for c in captures}
    pywb_netloc = urlsplit(base_url).netloc
    results = []
    for capture in pages:
        result = PageReplay(capture.url)
        page = browser.new_page()
        try:
            responses, failed = _watch(page)
            page.goto(
                f"{base_url}/{coll}/{capture.timestamp}/{capture.url}", wait_until="load", timeout=60_000
            )
            page.wait_for_load_state("networkidle", timeout=30_000)
        finally:
            page.close()
        for response in responses:
            target = _archived_target(response.url, pywb_netloc, coll)
            _classify(
                result, response.url, response.status, _from_archive(response.headers), target, captured
            )
        for url in failed:
            _classify_failed(result, url, _archived_target(url, pywb_netloc, coll), captured)
        results.append(result)
    return ReplayCheck(results)


# --- ReplayWeb.page (wabac.js in a service worker) --------------------------------------------------------

# wabac.js replays ``<app>/w/<collection id>/[:<source hash>/]<ts><modifier>/<url>``; the page itself is
# the ``mp_`` (main page) frame inside ReplayWeb.page's UI.
_WABAC_PATH = re.compile(r"^/w/[^/]+/(?::[0-9a-f]+/)?(\d{1,14})([a-z]{2}_)?/(.+)$")


def _wabac_target(request_url: str, app_netloc: str) -> str | None:
    """The archived URL a request to wabac.js asks for, '' for ReplayWeb.page's own files, None elsewhere."""
    parts = urlsplit(request_url)
    if parts.netloc != app_netloc:
        return None
    match = _WABAC_PATH.match(parts.path)
    if match is None:
        return ""
    target = match.group(3) + (f"?{parts.query}" if parts.query else "")
    return "http:" + target if target.startswith("//") else target


def replaywebpage_url(app_url: str, source_url: str, fragment: str = "view=pages") -> str:
    """ReplayWeb.page opening ``source_url`` (a WACZ, or a ``.json`` multi-WACZ description)."""
    return f"{app_url}?source={quote(source_url, safe='')}#{fragment}"


def open_in_replaywebpage(page: Any, app_url: str, source_url: str, timeout_ms: int = 120_000) -> str:
    """Load ``source_url`` into ReplayWeb.page in ``page``; wait until wabac.js lists it; its collection id."""
    page.goto(replaywebpage_url(app_url, source_url), wait_until="load", timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        found = page.evaluate(
            """async (source) => {
                try {
                    const index = await (await fetch("w/api/coll-index")).json();
                    const coll = (index.colls || []).find((c) => c.sourceUrl === source);
                    return coll ? coll.id : "";
                } catch (e) { return ""; }
            }""",
            source_url,
        )
        if found:
            return str(found)
        page.wait_for_timeout(500)
    raise TimeoutError(f"ReplayWeb.page did not load {source_url}")


def wabac_verification(page: Any, coll_id: str) -> dict[str, Any]:
    """What wabac.js verified of a loaded WACZ: ``info`` (its API's ``verify``: publicKey, datapackageHash,
    created, software) and ``checks`` (id -> matched, from its ``verification`` store: ``signature`` is
    True only when the signature verified against the package's public key)."""
    info = page.evaluate(
        "async (id) => (await (await fetch('w/api/c/' + id + '?all=1')).json()).verify || {}", coll_id
    )
    entries = page.evaluate(
        """async (name) => await new Promise((resolve, reject) => {
            const request = indexedDB.open(name);
            request.onerror = () => reject(request.error);
            request.onsuccess = () => {
                const all = request.result.transaction("verification").objectStore("verification").getAll();
                all.onsuccess = () => resolve(all.result);
                all.onerror = () => reject(all.error);
            };
        })""",
        "db:" + coll_id,
    )
    return {"info": info, "checks": {str(e["id"]): e.get("matched") for e in entries}}


def _settle(page: Any, responses: list[Any], timeout_ms: int, quiet_ms: int = 1000) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    seen = -1
    while len(responses) != seen and time.monotonic() < deadline:
        seen = len(responses)
        page.wait_for_timeout(quiet_ms)


def _frame_tree(frame: Any) -> Iterator[Any]:
    yield frame
    for child in frame.child_frames:
        yield from _frame_tree(child)


def _replay_frame(page: Any, target: str, timeout_ms: int) -> Any:
    key = url_key(target)
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        # page.frames may miss the replay frame (inside ReplayWeb.page's shadow DOM); the frame tree has it.
        for frame in _frame_tree(page.main_frame):
            wanted = _wabac_target(frame.url, urlsplit(page.url).netloc)
            if wanted and "mp_/" in frame.url and url_key(wanted) == key:
                return frame
        page.wait_for_timeout(200)
    raise TimeoutError(f"ReplayWeb.page showed no replay frame for {target}")


def check_pages_in_replaywebpage(
    browser: Any,
    app_url: str,
    source_url: str,
    pages: Iterable[Capture],
    captures: Iterable[Capture],
    timeout_ms: int = 60_000,
) -> ReplayCheck:
    """Each page opened in ReplayWeb.page from ``source_url`` (``#view=replay&url=..&ts=..``) in one browser
    context (the service worker keeps the loaded archive); every request of the replay frame classified as
    in ``check_pages`` (served: wabac.js answered below 400), and the frame's title and text kept."""
    captured = {url_key(c.url) for c in captures}
    app_netloc = urlsplit(app_url).netloc
    context = browser.new_context()
    results = []
    try:
        loader = context.new_page()
        open_in_replaywebpage(loader, app_url, source_url)
        for capture in pages:
            result = PageReplay(capture.url)
            page = context.new_page()
            try:
                responses, failed = _watch(page)
                fragment = f"view=replay&url={quote(capture.url, safe='')}&ts={capture.timestamp}"
                page.goto(
                    replaywebpage_url(app_url, source_url, fragment), wait_until="load", timeout=timeout_ms
                )
                frame = _replay_frame(page, capture.url, timeout_ms)
                frame.wait_for_load_state("load", timeout=timeout_ms)
                # Not "networkidle": ReplayWeb.page's UI keeps talking to its service worker. Settled when
                # the replay frame's images are done and no response came for a while (bounded).
                frame.wait_for_function(
                    "() => Array.from(document.images).every((i) => i.complete)", timeout=timeout_ms
                )
                _settle(page, responses, timeout_ms)
                result.title = frame.title()
                result.text = frame.evaluate("() => document.body ? document.body.innerText : ''")
            finally:
                page.close()
            for response in responses:
                target = _wabac_target(response.url, app_netloc)
                _classify(result, response.url, response.status, response.status < 400, target, captured)
            for url in failed:
                _classify_failed(result, url, _wabac_target(url, app_netloc), captured)
            results.append(result)
    finally:
        context.close()
    return ReplayCheck(results)
