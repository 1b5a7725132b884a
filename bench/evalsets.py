"""The gold sets ``bench/eval_extraction.py`` scores, loaded as ``Page`` records with raw bytes and URL.

- ``trafilatura``: trafilatura's multilingual evaluation set (``../shared/evaldata/trafilatura``), unpacked
  once into ``.eval-cache/`` (git-ignored, outside the package); snippet gold ("with"/"without"). Each page
  belongs to the tuning half or the held-out half by a hash of its URL (``half``), fixed forever.
- ``arabic``: the Arabic dev set (``../shared/evaldata/arabic``): full-text gold for two pages, snippet gold
  for one, titles and dates.
- ``newsroom``: every non-gated article page of the offline newsroom, fetched over HTTP, with its gold.

The pages are evaluation data only: nothing here copies them into the project.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# EVALDATA_DIR points the sets elsewhere (the gate's own test uses a missing folder).
SHARED = Path(os.environ.get("EVALDATA_DIR") or REPO.parent / "shared" / "evaldata")
ARABIC = SHARED / "arabic"
TRAFILATURA_TAR = SHARED / "trafilatura" / "trafilatura-eval.tar.xz"
CACHE = REPO / ".eval-cache"


@dataclass
class Page:
    set_name: str
    page_id: str
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # full-text gold
    with_snippets: tuple[str, ...] = ()
    without_snippets: tuple[str, ...] = ()
    title: str | None = None
    date: str | None = None
    half: str = ""  # "tune" or "held" (trafilatura set only)
    extra_leaks: tuple[str, ...] = ()


def half_of(url: str) -> str:
    """The fixed half a page belongs to: tune on "tune", report "held" separately."""
    return "tune" if hashlib.sha256(url.encode("utf-8")).digest()[0] % 2 == 0 else "held"


def shared_present() -> bool:
    return SHARED.is_dir()


def _unpacked_trafilatura() -> Path:
    target = CACHE / "trafilatura"
    marker = target / ".unpacked"
    if not marker.exists():
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(TRAFILATURA_TAR, "r:xz") as tar:
            tar.extractall(target, filter="data")
        marker.write_text(TRAFILATURA_TAR.name, encoding="utf-8")
    return target / "tests"


def trafilatura_pages() -> list[Page]:
    if not TRAFILATURA_TAR.exists():
        return []
    tests = _unpacked_trafilatura()
    gold = json.loads((tests / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url, entry in gold.items():
        path = tests / "eval" / entry["file"]
        if not path.is_file():
            continue  # entries naming files trafilatura no longer ships
        pages.append(
            Page(
                "trafilatura",
                entry["file"],
                url,
                path.read_bytes(),
                with_snippets=tuple(entry.get("with") or ()),
                without_snippets=tuple(entry.get("without") or ()),
                half=half_of(url),
            )
        )
    return pages


def _arabic_gold(entry: dict[str, Any], page: Page) -> None:
    page_id = entry["id"]
    page.title = entry.get("title")
    page.date = entry.get("date")
    if page_id.startswith("fundus_"):
        data = json.loads((ARABIC / "gold" / "fundus_lb_LBCGroup.json").read_text(encoding="utf-8"))["V1"]
        page.text = "\n\n".join(p for section in data["body"]["sections"] for p in section["paragraphs"])
        page.title = data.get("title") or page.title
    elif page_id.startswith("newspaper4k_"):
        page.text = (ARABIC / "gold" / "newspaper4k_arabic_article.txt").read_text(encoding="utf-8")
    elif page_id == "trafilatura_assabah":
        entry_file = ARABIC / "gold" / "trafilatura_assabah.evaldata_entry.json"
        record = next(iter(json.loads(entry_file.read_text("utf-8")).values()))
        page.with_snippets = tuple(record["with"])
        page.without_snippets = tuple(record["without"])
        page.title = record.get("title") or page.title


def arabic_pages() -> list[Page]:
    index = ARABIC / "INDEX.json"
    if not index.exists():
        return []
    pages = []
    for entry in json.loads(index.read_text(encoding="utf-8")):
        page = Page("arabic", entry["id"], entry["url"], (ARABIC / entry["html"]).read_bytes())
        _arabic_gold(entry, page)
        pages.append(page)
    return pages


def _fetch(url: str) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read(), dict(response.headers.items())


@contextmanager
def newsroom_pages() -> Iterator[list[Page]]:
    """The newsroom's open article pages (its server runs while the context is open)."""
    from newsroom import Newsroom

    with Newsroom() as room:
        extra = tuple(getattr(room, "boilerplate_strings", ()) or ())
        pages = _room_pages(room, extra)
        for template in room.sites["wahaa"].renderer.templates[1:]:
            room.set_template("wahaa", template)
            pages.extend(_room_pages(room, extra, "wahaa", template))
        room.set_template("wahaa", "v1")
        yield pages


def _room_pages(room: Any, extra: tuple[str, ...], site: str | None = None, template: str = "") -> list[Page]:
    pages = []
    for gold in room.articles:
        if gold.gated or (site and gold.site != site):
            continue
        body, headers = _fetch(gold.url)
        pages.append(
            Page(
                "newsroom",
                f"{gold.site}{'@' + template if template else ''}/{gold.id}",
                gold.url,
                body,
                headers,
                text=gold.text,
                title=gold.title,
                date=gold.published,
                extra_leaks=extra,
            )
        )
    return pages
