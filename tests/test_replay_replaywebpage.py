"""The newsroom crawl's pages open in ReplayWeb.page (wabac.js, npm) in Chromium from the crawl's WACZ, and
wabac.js verifies the package's signature: a second verifier, not ours; a forged package fails there too."""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from w3lib.encoding import html_to_unicode
from warcio.archiveiterator import ArchiveIterator

from archive.replaycheck import (
    check_pages_in_replaywebpage,
    html_pages,
    open_in_replaywebpage,
    read_cdxj,
    url_key,
    wabac_verification,
)
from archive.signing import load_key, public_key_b64
from tests.crawling import CrawlRun
from tests.fixtures_replaywebpage import ReplayWebPage

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.S | re.I)


def _normal(text: str) -> str:
    return " ".join(text.split())


def archived_titles(warcs: list[Path]) -> dict[tuple[str, str], set[str]]:
    """(URL, 14-digit time) -> the <title>s of the archived 200 HTML responses, read from the WARC files.

    A set: the index, ours and the WACZ's, names a capture by its second, and two fetches of one URL can share
    one (the gated site's challenge shell, fetched without the browser, and the page the browser then got).
    ReplayWeb.page keeps one of them for that second, either."""
    titles: dict[tuple[str, str], set[str]] = {}
    for path in warcs:
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                if record.http_headers.get_statuscode() != "200":
                    continue
                if "html" not in (record.http_headers.get_header("Content-Type") or ""):
                    continue
                # The page's own encoding (the legacy site's is windows-1256), as a browser finds it.
                _, text = html_to_unicode(
                    record.http_headers.get_header("Content-Type"), record.content_stream().read()
                )
                match = _TITLE.search(text)
                if match:
                    ts = "".join(ch for ch in record.rec_headers.get_header("WARC-Date") if ch.isdigit())[:14]
                    title = html.unescape(match.group(1))
                    key = (record.rec_headers.get_header("WARC-Target-URI"), ts)
                    titles.setdefault(key, set()).add(_normal(title))
    return titles


@pytest.fixture
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from crawler.render import BROWSER_ARGS, find_chromium

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=list(BROWSER_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def _packages(crawl: CrawlRun) -> list[Path]:
    packages = sorted((crawl.archive / "wacz").rglob("*.wacz"))  # one per WARC file the crawl wrote
    assert packages
    return packages


def _source(crawl: CrawlRun) -> Path:
    """What ReplayWeb.page opens: the crawl's package, or the collection's description of all of them
    when the crawl's WARC files rotated into several."""
    packages = _packages(crawl)
    return packages[0] if len(packages) == 1 else crawl.archive / "collection" / "collection.json"


def _public_key(crawl: CrawlRun) -> str:
    key_file = crawl.archive.parent / "spool" / "keys" / "wacz-signing-key.pem"
    return public_key_b64(load_key(key_file.read_bytes()))


@pytest.mark.timeout(900)
def test_every_page_opens_in_replaywebpage_from_the_wacz(
    newsroom_crawl: CrawlRun,
    newsroom: Any,
    chromium: Any,
    replaywebpage_in: Callable[[Path], ReplayWebPage],
) -> None:
    captures = read_cdxj(sorted((newsroom_crawl.archive / "warc").rglob("*.cdxj")))
    pages = html_pages(captures)
    assert len(pages) >= 60, len(pages)
    titles = archived_titles(sorted((newsroom_crawl.archive / "warc").rglob("*.warc.gz")))
    rwp = replaywebpage_in(newsroom_crawl.archive)
    source = rwp.data_url(_source(newsroom_crawl).relative_to(newsroom_crawl.archive))
    check = check_pages_in_replaywebpage(chromium, rwp.app_url, source, pages, captures)

    # Each page is the archived page: its title is the archived HTML's, or for an article whose page sets
    # its title by script (the gated site) the title holds the article's headline; and it has text.
    headlines = {url_key(gold.url): _normal(gold.title) for gold in newsroom.articles}

    def right(title: str, url: str, ts: str) -> bool:
        return _normal(title) in titles.get((url, ts), set()) or bool(
            headlines.get(url) and headlines[url] in _normal(title)
        )

    wrong = {
        p.url: (_normal(p.title), titles.get((p.url, c.timestamp)), headlines.get(url_key(p.url)))
        for p, c in zip(check.pages, pages, strict=True)
        if (p.url, c.timestamp) in titles and not right(p.title, p.url, c.timestamp)
    }
    assert not wrong, wrong
    scripted = {
        p.url
        for p, c in zip(check.pages, pages, strict=True)
        if _normal(p.title) not in titles.get((p.url, c.timestamp), set())
    }
    assert {urlsplit(url).netloc for url in scripted} <= {newsroom.sites["gated"].netloc}, scripted
    assert sum(1 for c in pages if (c.url, c.timestamp) in titles) >= 60
    empty = [p.url for p in check.pages if not p.text.strip()]
    assert not empty, empty
    # Everything the pages asked for came from the WACZ, as in pywb (test_replay_requisites.py): the gated
    # site's hostile probe page alone reaches for an address the browser guard refused to fetch.
    gated = newsroom.sites["gated"]
    probe = gated.base_url.rstrip("/") + gated.renderer.probe_path
    outside = urlsplit(gated.renderer.outside_url).netloc
    refused = [url for p in check.pages if p.url == probe for url in p.uncaptured]
    assert all(urlsplit(url).netloc == outside or url.endswith("/static/to-outside.png") for url in refused)
    unserved = {p.url: p.unserved for p in check.pages if p.unserved}
    uncaptured = {p.url: p.uncaptured for p in check.pages if p.uncaptured and p.url != probe}
    escaped = {p.url: p.escaped for p in check.pages if p.escaped}
    assert not unserved, unserved
    assert not uncaptured, uncaptured
    assert not escaped, escaped
    served = {url_key(url) for page in check.pages for url in page.served}
    wahaa = newsroom.sites["wahaa"].base_url
    assert url_key(wahaa + "wp-content/uploads/2021/01/ad-lazy-300x250.png") in served
    assert url_key(wahaa + "wp-content/themes/wahaa/fonts/amiri.css") in served
    assert check.totals()["served"] > 2 * len(pages), check.totals()


def _forge_listing(package: Path, out: Path) -> None:
    """``out``: ``package`` with its datapackage.json changed and every hash recomputed, signature kept."""
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(out, "w") as target:
        datapackage = json.loads(source.read("datapackage.json"))
        datapackage["title"] = "Forged"
        forged = json.dumps(datapackage).encode("utf-8")
        digest = json.loads(source.read("datapackage-digest.json"))
        digest["hash"] = digest["signedData"]["hash"] = "sha256:" + hashlib.sha256(forged).hexdigest()
        for info in source.infolist():
            if info.filename == "datapackage.json":
                target.writestr(info, forged)
            elif info.filename == "datapackage-digest.json":
                target.writestr(info, json.dumps(digest))
            else:
                target.writestr(info, source.read(info.filename))


def _resign_with_another_key(package: Path, out: Path) -> None:
    """``out``: ``package`` whose signedData names another public key (the signature stays the crawl's)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    other = public_key_b64(ec.generate_private_key(ec.SECP384R1()))
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(out, "w") as target:
        digest = json.loads(source.read("datapackage-digest.json"))
        digest["signedData"]["publicKey"] = other
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info, json.dumps(digest) if info.filename == "datapackage-digest.json" else data)


@pytest.mark.timeout(600)
def test_wabac_verifies_the_signature_and_rejects_forged_packages(
    newsroom_crawl: CrawlRun,
    chromium: Any,
    replaywebpage_in: Callable[[Path], ReplayWebPage],
    tmp_path: Path,
) -> None:
    package = _packages(newsroom_crawl)[0]
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(package, served / "signed.wacz")
    _forge_listing(package, served / "forged.wacz")
    _resign_with_another_key(package, served / "other-key.wacz")
    rwp = replaywebpage_in(served)
    results = {}
    for name in ("signed", "forged", "other-key"):
        context = chromium.new_context()
        try:
            page = context.new_page()
            coll = open_in_replaywebpage(page, rwp.app_url, rwp.data_url(f"{name}.wacz"))
            results[name] = wabac_verification(page, coll)
        finally:
            context.close()
    signed = results["signed"]
    assert signed["checks"].get("signature") is True, signed
    assert signed["info"].get("publicKey") == _public_key(newsroom_crawl)
    with zipfile.ZipFile(package) as zipped:
        expected = "sha256:" + hashlib.sha256(zipped.read("datapackage.json")).hexdigest()
    assert signed["info"].get("datapackageHash") == expected
    assert results["forged"]["checks"].get("signature") is False, results["forged"]
    assert results["other-key"]["checks"].get("signature") is False, results["other-key"]
