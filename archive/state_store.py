"""The incremental state's persistence in the archive store: one snapshot per site and one immutable delta
per crawl, folded together on load and on save (the layout and the merge-on-save rule are in
``archive.state``'s docstring). No Scrapy here.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from archive.diskmap import DiskMap
from archive.keys import check_key, safe_segment
from archive.state import DEFAULT_PREFIX, STATE_FORMAT, CrawlState, merge_into, utc_now
from archive.store import Store, StoreError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaveResult:
    """What ``StateStore.save`` did: the delta's key, whether the snapshot was rewritten, its size."""

    delta_key: str | None
    snapshot_key: str
    snapshot_written: bool
    articles: int
    merged_runs: int


class StateStore:
    """Loads and saves ``CrawlState`` objects through an ``archive.store.Store`` (see module docstring)."""

    def __init__(self, store: Store, prefix: str = DEFAULT_PREFIX) -> None:
        self.store = store
        self.prefix = check_key(prefix.strip("/"))

    def snapshot_key(self, site: str) -> str:
        return check_key(f"{self.prefix}/{safe_segment(site)}.json")

    def runs_prefix(self, site: str) -> str:
        return f"{self.prefix}/{safe_segment(site)}/runs/"

    def delta_key(self, site: str, crawl_id: str) -> str:
        return check_key(f"{self.runs_prefix(site)}{safe_segment(crawl_id)}.json")

    def _read(self, key: str) -> tuple[dict[str, Any], Iterator[tuple[str, Any]]] | None:
        """(header, articles) of a state object; None when it is missing or not a JSON object.

        Objects this module writes have one article per line (``_write_object``) and are read a line at a
        time; any other JSON object (an older archive's) is parsed whole.
        """
        data = self.store.get_bytes(key)
        if data is None:
            return None
        parsed = _read_lines(data)
        if parsed is not None:
            return parsed
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            logger.warning("State object %s is not valid JSON; ignored", key)
            return None
        if not isinstance(value, dict):
            logger.warning("State object %s is not a JSON object; ignored", key)
            return None
        articles = value.pop("articles", None) or {}
        return value, iter(articles.items() if isinstance(articles, dict) else ())

    def _fold(self, site: str, skip: str | None = None) -> tuple[DiskMap, list[str]]:
        """The snapshot plus every delta not yet in it (but ``skip``): (entries on disk, merged run keys)."""
        entries = DiskMap()
        snapshot = self._read(self.snapshot_key(site))
        header, articles = snapshot if snapshot is not None else ({}, iter(()))
        merged_runs = [str(k) for k in header.get("merged_runs") or []]
        merge_into(entries, articles)
        folded = set(merged_runs)
        for key in self.store.list(self.runs_prefix(site)):
            if key in folded or not key.endswith(".json") or key == skip:
                continue
            delta = self._read(key)
            if delta is None:
                continue
            merge_into(entries, delta[1])
            merged_runs.append(key)
            folded.add(key)
        return entries, merged_runs

    def load(self, site: str, crawl_id: str) -> CrawlState:
        """The site's state as of now (snapshot plus unfolded deltas); empty for a site never crawled."""
        entries, runs = self._fold(site)
        logger.info(
            "Incremental state for %s: %d article(s) from %s (%d run(s))",
            site,
            len(entries),
            self.store.describe(),
            len(runs),
        )
        state = CrawlState(site, crawl_id, entries)
        state.loaded_runs = runs
        return state

    def save(self, state: CrawlState) -> SaveResult:
        """Persist this crawl's delta (immutable), then rewrite the snapshot with everything known.

        A failure to write the delta raises ``StoreError`` (the crawl's knowledge would be lost: the caller
        must report it). A failure to rewrite the snapshot only logs: the delta is safe and the next load
        folds it in. Both objects are written a line at a time through a file, never whole in memory.
        """
        site = state.site
        delta_key: str | None = None
        if state.has_changes():
            header = {"format": STATE_FORMAT, "site": site, "crawl_id": state.crawl_id, "saved_at": utc_now()}
            delta_key = self._put_object(
                self.delta_key(site, state.crawl_id), header, state.iter_changes(), overwrite=False
            )
        # Everything the store has now, without reading our own delta back: its changes are merged from
        # the state itself.
        entries, runs = self._fold(site, skip=delta_key)
        merge_into(entries, state.iter_changes())
        if delta_key is not None and delta_key not in runs:
            runs.append(delta_key)
        snapshot_key = self.snapshot_key(site)
        header = {
            "format": STATE_FORMAT,
            "site": site,
            "updated_at": utc_now(),
            "updated_by": state.crawl_id,
            "merged_runs": sorted(runs),
        }
        written = True
        try:
            self._put_object(snapshot_key, header, entries.items(), overwrite=True)
        except StoreError as exc:
            written = False
            logger.warning(
                "Could not rewrite the state snapshot %s (%s); the run delta %s is saved and will be folded "
                "in by the next crawl",
                snapshot_key,
                exc,
                delta_key,
            )
        count = len(entries)
        entries.close()
        return SaveResult(delta_key, snapshot_key, written, count, len(runs))

    def _put_object(
        self, key: str, header: dict[str, Any], articles: Iterable[tuple[str, Any]], *, overwrite: bool
    ) -> str:
        fd, tmp = tempfile.mkstemp(prefix="state-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as out:
                _write_object(out, header, articles)
            return self.store.put_file(key, tmp, content_type="application/json", overwrite=overwrite)
        finally:
            os.unlink(tmp)

    def sites(self) -> Iterable[str]:
        """Names of the sites with a snapshot."""
        for key in self.store.list(f"{self.prefix}/"):
            rest = key[len(self.prefix) + 1 :]
            if "/" not in rest and rest.endswith(".json"):
                yield rest[: -len(".json")]


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


_ARTICLES_OPEN = b',"articles":{\n'


def _write_object(out: IO[bytes], header: dict[str, Any], articles: Iterable[tuple[str, Any]]) -> None:
    """One JSON object: the header's fields on the first line, then ``"articles": {`` with one article a
    line (sorted by URL), so a reader can take it a line at a time (``_read_lines``)."""
    out.write(_dumps(header)[:-1] + _ARTICLES_OPEN)
    first = True
    for url, entry in articles:
        out.write((b"" if first else b",\n") + _dumps({url: entry})[1:-1])
        first = False
    out.write(b"\n}}\n")


def _read_lines(data: bytes) -> tuple[dict[str, Any], Iterator[tuple[str, Any]]] | None:
    """(header, articles) of an object ``_write_object`` wrote; None for any other layout."""
    stream = io.BytesIO(data)
    first = stream.readline()
    if not first.endswith(_ARTICLES_OPEN):
        return None
    try:
        header = json.loads(first[: -len(_ARTICLES_OPEN)] + b"}")
    except ValueError:
        return None

    def articles() -> Iterator[tuple[str, Any]]:
        for line in stream:
            line = line.rstrip(b"\n").rstrip(b",")
            if not line or line == b"}}":
                continue
            try:
                yield from json.loads(b"{" + line + b"}").items()
            except ValueError:
                logger.warning("Skipping an unreadable line of a state object")

    return header, articles()
