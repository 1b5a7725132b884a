"""WACZ packages: built from finished WARC files with the crawl's articles as pages (one per WARC file).

``build_wacz(warcs, out, pages)`` runs the ``wacz`` package's ``create`` in-process with a ``pages.jsonl``
written from ``Page`` entries, so a replay tool (ReplayWeb.page, pywb) opens on the articles rather than on
every captured URL. ``validate_wacz(path)`` runs ``wacz validate``. The wacz tool reports with ``print``;
that output is sent to this module's logger at DEBUG level.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from wacz.main import main as wacz_main
from warcio.archiveiterator import ArchiveIterator

from archive.warc_fields import iri_to_uri, warc_date

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "Articles"}


@dataclass(frozen=True)
class Page:
    """An entry point of the archive: the URL as archived (``WARC-Target-URI``) and its WARC-Date.

    An empty ``ts`` lets the wacz tool pair the page with any capture of the URL.
    """

    url: str
    ts: str
    title: str = ""

    @classmethod
    def create(cls, url: str, ts: str | datetime, title: str | None = None) -> Page:
        """Normalise ``url`` to the archived URI form and ``ts`` (datetime or ISO 8601) to a WARC date."""
        if isinstance(ts, datetime):
            ts = warc_date(ts)
        elif len(ts) == 14 and ts.isdigit():
            ts = warc_date(datetime.strptime(ts, "%Y%m%d%H%M%S").replace(tzinfo=UTC))
        return cls(url=iri_to_uri(url), ts=ts, title=title or "")

    def to_json(self) -> dict[str, str]:
        data = {"url": self.url}
        if self.ts:
            data["ts"] = self.ts
        if self.title:
            data["title"] = self.title
        return data


class WaczError(RuntimeError):
    """``wacz create`` or ``wacz validate`` reported a failure; the message carries its output."""


def write_pages_jsonl(pages: Iterable[Page], path: Path) -> Path:
    """Write a ``json-pages-1.0`` file: a header line, then one page per line."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(PAGES_HEADER) + "\n")
        for page in pages:
            fh.write(json.dumps(page.to_json(), ensure_ascii=False) + "\n")
    return path


def detect_pages(warc_files: Sequence[Path | str]) -> list[Page]:
    """Every 200 HTML response or revisit in ``warc_files``, as a page titled by its URL."""
    pages = []
    for path in warc_files:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type not in ("response", "revisit") or record.http_headers is None:
                    continue
                mime = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
                if record.http_headers.get_statuscode() == "200" and mime in HTML_TYPES:
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    pages.append(Page(url=url, ts=record.rec_headers.get_header("WARC-Date"), title=url))
    return pages


def _replayable(warc_files: Sequence[Path | str], urls: set[str] | None) -> set[tuple[str, str]]:
    """(URL, 14-digit timestamp) of the replayable records of ``urls`` (the pages': not every record of a
    whole-site crawl, which would hold the site in memory); ``None``: of every record (one WARC file's)."""
    found = set()
    for path in warc_files:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type in ("response", "revisit", "resource"):
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    if urls is None or url in urls:
                        found.add((url, _ts14(record.rec_headers.get_header("WARC-Date"))))
    return found


def replayable_urls(warc_files: Sequence[Path | str]) -> set[str]:
    """The target URIs of the replayable records (response, revisit, resource) in ``warc_files``."""
    return {url for url, _ in _replayable(warc_files, None)}


def _ts14(date: str) -> str:
    return "".join(ch for ch in date if ch.isdigit())[:14]


def _match_captures(pages: list[Page], warc_files: Sequence[Path | str]) -> list[Page]:
    # The wacz tool pairs a page with a capture by (URL, 14-digit timestamp), and only with replayable
    # records; a page that names e.g. a rendered-DOM conversion record is matched by URL alone instead.
    found = _replayable(warc_files, {page.url for page in pages})
    urls = {url for url, _ in found}
    matched = []
    for page in pages:
        if (page.url, _ts14(page.ts)) in found:
            matched.append(page)
        elif page.url in urls:
            matched.append(Page(url=page.url, ts="", title=page.title))
        else:
            logger.warning("WACZ page %s (%s) has no capture in the WARC files; left out", page.url, page.ts)
    return matched


def _run_wacz(args: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            rc = wacz_main(args)
        except (ValueError, OSError) as exc:
            raise WaczError(f"wacz {args[0]} failed: {exc}\n{out.getvalue()}") from exc
    text = out.getvalue()
    logger.debug("wacz %s: %s", args[0], text)
    if rc not in (0, None):
        raise WaczError(f"wacz {args[0]} failed ({rc}):\n{text}")
    return text


def build_wacz(
    warc_files: Sequence[Path | str],
    output: Path | str,
    pages: Iterable[Page] = (),
    *,
    title: str | None = None,
    description: str | None = None,
    detect: bool = True,
) -> Path:
    """Package ``warc_files`` into ``output`` (a .wacz) with ``pages`` as its page list; return the path.

    Without pages (and with ``detect``), every HTML 200 response in the WARC files is a page
    (``detect_pages``); the wacz tool's own detection needs Referer headers from a browser crawl, which plain
    HTTP captures do not have. ``detect=False``: no pages is an empty page list (one package of a crawl
    whose articles are in its other packages).
    """
    if not warc_files:
        raise ValueError("build_wacz needs at least one WARC file")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    pages = list(pages)
    if pages:
        pages = _match_captures(pages, warc_files)
    elif detect:
        pages = detect_pages(warc_files)
    tmp_out = output.with_name(output.name + ".tmp")
    with tempfile.TemporaryDirectory(prefix="wacz-pages-") as tmp:
        args = ["create", "-o", str(tmp_out)]
        if pages:
            args += ["--pages", str(write_pages_jsonl(pages, Path(tmp) / "pages.jsonl"))]
        if title:
            args += ["--title", title]
        if description:
            args += ["--desc", description]
        args += [str(p) for p in warc_files]
        try:
            text = _run_wacz(args)
            tmp_out.replace(output)
        finally:
            tmp_out.unlink(missing_ok=True)
    missing = [line for line in text.splitlines() if line.startswith("Invalid passed page")]
    for line in missing:
        logger.warning("WACZ %s: %s", output.name, line)
    logger.info("Wrote WACZ %s (%d WARC files, %d pages)", output, len(warc_files), len(pages))
    return output


def validate_wacz(path: Path | str) -> None:
    """Run ``wacz validate``; raise ``WaczError`` when the package is not valid."""
    _run_wacz(["validate", "-f", str(path)])
