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
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

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


def check_pages(
    browser: Any, base_url: str, coll: str, pages: Iterable[Capture], captures: Iterable[Capture]
) -> ReplayCheck:
    """Load each page in a fresh browser page from pywb at ``base_url``/``coll``; classify every request."""
    captured = {url_key(c.url) for c in captures}
    pywb_netloc = urlsplit(base_url).netloc
    results = []
    for capture in pages:
        result = PageReplay(capture.url)
        responses: list[Any] = []
        failed: list[str] = []
        page = browser.new_page()
        try:
            page.on("response", lambda response, responses=responses: responses.append(response))
            # A request the browser itself gave up (ERR_ABORTED: the page moved on) is not the archive's doing.
            page.on(
                "requestfailed",
                lambda request, failed=failed: (
                    None if "ERR_ABORTED" in (request.failure or "") else failed.append(request.url)
                ),
            )
            page.goto(
                f"{base_url}/{coll}/{capture.timestamp}/{capture.url}", wait_until="load", timeout=60_000
            )
            page.wait_for_load_state("networkidle", timeout=30_000)
        finally:
            page.close()
        for response in responses:
            url = response.url
            if url.startswith(_SKIPPED_SCHEMES):
                continue
            target = _archived_target(url, pywb_netloc, coll)
            if target is None:
                result.escaped.append(url)
            elif not target or 300 <= response.status < 400:
                continue  # pywb's own assets; a redirect to the nearest capture (its target is seen too)
            elif _from_archive(response.headers):
                result.served.append(target)
            elif url_key(target) in captured:
                result.unserved.append(target)
            else:
                result.uncaptured.append(target)
        for url in failed:
            target = _archived_target(url, pywb_netloc, coll)
            if target is None and not url.startswith(_SKIPPED_SCHEMES):
                result.escaped.append(url)
            elif target:
                (result.unserved if url_key(target) in captured else result.uncaptured).append(target)
        results.append(result)
    return ReplayCheck(results)
