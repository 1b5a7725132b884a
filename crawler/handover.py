"""Hands the WARC extension's finished files to archive storage, and keeps the revisit index in the store.

Connects ``crawler.warc_archive`` (WARC writer) and ``crawler.archive_storage`` (store + spool):

- every finished WARC file and its CDXJ go to ``warc/<crawl-id>/<name>``, the WACZ to ``wacz/<crawl-id>.wacz``;
  WARCs are hard-linked into the spool (the WACZ is built from them at the very end), and their local
  copies are removed once the WACZ has been handed over;
- the payload-digest index that decides revisit records is loaded from ``state/digests.jsonl`` at start
  and merged back into it at the end, so a later crawl (on any machine) writes revisits for payloads an
  earlier one archived. In a distributed crawl the index lives in Redis instead, and this part is off.

Reads CRAWL_ID through the two extensions it joins; raises NotConfigured when either is off.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from archive.digests import JsonlDigestIndex
from archive.keys import state_key, wacz_key, warc_key
from archive.storage import StoreError
from crawler.config import crawl_part_name

logger = logging.getLogger(__name__)

DIGESTS_KEY = state_key("digests.jsonl")


class ArchiveHandoverExtension:
    def __init__(self, warc: Any, storage: Any, part_name: str) -> None:
        self.warc = warc
        self.storage = storage
        self.crawl_id: str = warc.config.crawl_id
        self.part_name = part_name  # crawl id, plus the worker id in a distributed crawl

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveHandoverExtension:
        warc = getattr(crawler, "warc_archive", None)
        storage = getattr(crawler, "archive_storage", None)
        if warc is None or storage is None:
            raise NotConfigured("needs both the WARC and the archive storage extensions")
        ext = cls(warc, storage, crawl_part_name(crawler.settings))
        warc.on_file_ready.append(ext.file_ready)
        ext.load_digests()
        # Closing order matters: WARC files (and the WACZ built from them) first, then the revisit index,
        # then the storage drain. Signal handlers run concurrently, so the storage extension runs the
        # first two itself, in order, before it drains.
        crawler.signals.disconnect(warc.spider_closed, signal=signals.spider_closed)
        storage.before_drain.extend([warc.close, ext.save_digests])
        return ext

    def file_ready(self, path: Path) -> None:
        spool = self.storage.spool
        if path.suffix == ".wacz":
            spool.add_file(wacz_key(self.part_name), path, "application/wacz")
            # The WACZ was built; the WARCs it holds are already in the spool under their own keys.
            for other in list(self.warc.ready_files):
                if other != path and other.exists():
                    other.unlink()
            return
        content_type = "application/warc" if ".warc" in path.name else "text/plain"
        keep = bool(self.warc.config.wacz_enabled)  # the WACZ is built from these files at close
        spool.add_file(warc_key(self.crawl_id, path.name), path, content_type, keep_source=keep)

    def load_digests(self) -> None:
        index = self.warc.digest_index
        if not isinstance(index, JsonlDigestIndex):
            return
        try:
            data = self.storage.store.get_bytes(DIGESTS_KEY)
        except StoreError as exc:
            logger.warning("Revisit index not loaded from the store (%s): payloads are archived in full", exc)
            return
        loaded = 0
        for line in (data or b"").decode("utf-8", "replace").splitlines():
            try:
                entry = json.loads(line)
                index.add(entry["digest"], entry["uri"], entry["date"])
                loaded += 1
            except (ValueError, KeyError, TypeError):
                continue
        logger.info("Revisit index: %d payload digest(s) from earlier crawls", loaded)

    def save_digests(self) -> None:
        index = self.warc.digest_index
        if not isinstance(index, JsonlDigestIndex):
            return
        store = self.storage.store
        try:
            # Merge with what another crawl may have saved meanwhile: the union of both, first capture wins.
            current = JsonlDigestIndex.load_bytes(
                store.get_bytes(DIGESTS_KEY), index.path.with_suffix(".merge")
            )
            for line in index.dump_bytes().decode("utf-8").splitlines():
                entry = json.loads(line)
                current.add(entry["digest"], entry["uri"], entry["date"])
            store.put_bytes(
                DIGESTS_KEY, current.dump_bytes(), content_type="application/jsonl", overwrite=True
            )
            current.close()
            current.path.unlink(missing_ok=True)
        except StoreError as exc:
            logger.warning("Revisit index not saved to the store (%s); the next crawl archives in full", exc)
