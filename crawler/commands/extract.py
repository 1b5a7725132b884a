"""``scrapy extract PATH_OR_URL [--url URL] [--explain]``: print the record the crawl would store for one page.

The record is the crawl's ``StoredRecord`` (``archive.record``), built by the crawl's own extraction and
relevance code (``crawler.pipelines.extract.extract_record``, the topic of RELEVANCE_TOPIC), plus its
``text`` (what goes to the ``.txt`` object): the object a crawl writes to its WARC metadata record. Fields
only a crawl knows (crawl id, site, keys, version, WARC positions, fetch time) are null.

``--explain`` prints ``{"record": ..., "removed": [...]}`` instead: next to the record, what each clean-up
stage removed (``stage`` "dom" or "text", ``rule``, ``element`` (``div.class#id``, or the start of a dropped
paragraph) and ``chars``), so an operator can see why text went missing on their site.

A file path is read from disk (``--url`` gives the page's URL; without it a ``file://`` URL is used); an
http(s) URL is fetched with urllib and its response headers are passed on, so the charset path is the
crawl's. The record is printed with ``ensure_ascii=False, indent=2``. Exit codes: 0 when a record was
printed (also for a NoArticle, whose record says ``"status": "no_article"`` and why: deciding that a page
holds no article is a successful extraction), 1 when the page could not be read (missing file, fetch
error). Reads RELEVANCE_TOPIC.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from archive.keys import article_id
from archive.record import StoredRecord
from crawler.pipelines.extract import extract_record
from crawler.pipelines.relevance import topic_path
from crawler.urls import canonicalize_url
from extraction.cleanup import Removal

FETCH_TIMEOUT = 30.0
USER_AGENT = "libya-news-archiver extract command"


class Command(ScrapyCommand):
    requires_project = False
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}  # noqa: RUF012 (ScrapyCommand declares it a ClassVar)

    def syntax(self) -> str:
        return "PATH_OR_URL [--url URL] [--explain]"

    def short_desc(self) -> str:
        return "Extract the article of one page (file or URL) and print its JSON record"

    def long_desc(self) -> str:
        return (
            "Extract the article of one page and print the JSON record the crawl would store. "
            "PATH_OR_URL is a local HTML file (--url gives its URL) or an http(s) URL fetched directly. "
            "Exits 0 when a record is printed (an article or a no_article record), 1 when the page cannot be read."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--url", dest="page_url", default=None, help="the URL of a page read from a file")
        parser.add_argument(
            "--explain", action="store_true", help="also print what each clean-up stage removed, and why"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give exactly one file path or URL")
        target = args[0]
        if target.startswith(("http://", "https://")):
            fetched = _fetch(target)
            if fetched is None:
                self.exitcode = 1
                return
            body, headers = fetched
            url = opts.page_url or target
        else:
            path = Path(target)
            if not path.is_file():
                print(f"extract: no such file: {target}", file=sys.stderr)
                self.exitcode = 1
                return
            body, headers = path.read_bytes(), {}
            url = opts.page_url or path.resolve().as_uri()
        removed: list[Removal] = []
        extracted = extract_record(
            body, url, headers, None, None, str(topic_path(self.settings)), trace=removed
        )
        output: dict[str, Any] = extracted
        if extracted.get("status") == "article":
            canonical = canonicalize_url(extracted.get("canonical_url") or url)
            record = StoredRecord.for_page(
                article_id(canonical), canonical, extracted, extracted.get("relevance")
            )
            output = {**record.to_dict(), "text": extracted.get("text") or ""}
        if opts.explain:
            output = {"record": output, "removed": [r.as_dict() for r in removed]}
        print(json.dumps(output, ensure_ascii=False, indent=2))


def _fetch(url: str) -> tuple[bytes, dict[str, str]] | None:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
            return response.read(), dict(response.headers.items())
    except urllib.error.HTTPError as error:
        print(f"extract: {url}: HTTP {error.code} {error.reason}", file=sys.stderr)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        print(f"extract: {url}: cannot fetch: {error}", file=sys.stderr)
    return None
