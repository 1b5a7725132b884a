"""The incremental state's persistence in the archive store: one snapshot per site and one immutable delta
per crawl, folded together on load and on save (the layout and the merge-on-save rule are in
``archive.state``'s docstring). No Scrapy here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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

    def _read_json(self, key: str) -> dict[str, Any] | None:
        data = self.store.get_bytes(key)
        if data is None:
            return None
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            logger.warning("State object %s is not valid JSON; ignored", key)
            return None
        if not isinstance(value, dict):
            logger.warning("State object %s is not a JSON object; ignored", key)
            return None
        return value

    def _fold(self, site: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """The snapshot plus every delta not yet folded into it: (entries, all merged run keys)."""
        entries: dict[str, dict[str, Any]] = {}
        snapshot = self._read_json(self.snapshot_key(site)) or {}
        merged_runs = [str(k) for k in snapshot.get("merged_runs") or []]
        merge_into(entries, snapshot.get("articles") or {})
        folded = set(merged_runs)
        for key in self.store.list(self.runs_prefix(site)):
            if key in folded or not key.endswith(".json"):
                continue
            delta = self._read_json(key)
            if delta is None:
                continue
            merge_into(entries, delta.get("articles") or {})
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
        return CrawlState(site, crawl_id, entries)

    def save(self, state: CrawlState) -> SaveResult:
        """Persist this crawl's delta (immutable), then rewrite the snapshot with everything known.

        A failure to write the delta raises ``StoreError`` (the crawl's knowledge would be lost: the caller
        must report it). A failure to rewrite the snapshot only logs: the delta is safe and the next load
        folds it in.
        """
        site = state.site
        changes = state.changes()
        delta_key: str | None = None
        if changes:
            delta = {
                "format": STATE_FORMAT,
                "site": site,
                "crawl_id": state.crawl_id,
                "saved_at": utc_now(),
                "articles": changes,
            }
            delta_key = self.store.put_bytes(
                self.delta_key(site, state.crawl_id),
                _dumps(delta),
                content_type="application/json",
                overwrite=False,
            )
        entries, runs = self._fold(site)
        if delta_key is not None and delta_key not in runs:
            # A store that lists lazily (eventual consistency) may not show our own delta yet.
            merge_into(entries, changes)
            runs.append(delta_key)
        snapshot_key = self.snapshot_key(site)
        snapshot = {
            "format": STATE_FORMAT,
            "site": site,
            "updated_at": utc_now(),
            "updated_by": state.crawl_id,
            "merged_runs": sorted(runs),
            "articles": entries,
        }
        written = True
        try:
            self.store.put_bytes(
                snapshot_key, _dumps(snapshot), content_type="application/json", overwrite=True
            )
        except StoreError as exc:
            written = False
            logger.warning(
                "Could not rewrite the state snapshot %s (%s); the run delta %s is saved and will be folded "
                "in by the next crawl",
                snapshot_key,
                exc,
                delta_key,
            )
        return SaveResult(delta_key, snapshot_key, written, len(entries), len(runs))

    def sites(self) -> Iterable[str]:
        """Names of the sites with a snapshot."""
        for key in self.store.list(f"{self.prefix}/"):
            rest = key[len(self.prefix) + 1 :]
            if "/" not in rest and rest.endswith(".json"):
                yield rest[: -len(".json")]


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
