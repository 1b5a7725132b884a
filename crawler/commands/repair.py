"""`scrapy repair [DIR_OR_FILE...]`: repair WARC files left ``.open`` by a crawl that was killed.

Without arguments it repairs the crawl's WARC directory (WARC_DIR, else ``<ARCHIVE_SPOOL_DIR>/warc/<CRAWL_ID>``;
give ``-s CRAWL_ID=...``). Each ``NAME.warc.gz.open`` is cut after its last whole record and renamed
``NAME.warc.gz`` (``archive.repair``). A crawl started again with the same CRAWL_ID does this by itself
(``crawler.recovery``); this command is for a crawl that will not be resumed. Exit code 1 when a file could
not be repaired (its finished name already exists), 0 otherwise.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from archive.repair import OPEN_SUFFIX, RepairError, RepairResult, repair_directory, repair_warc
from crawler import identity

logger = logging.getLogger(__name__)


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "[DIR_OR_FILE...]"

    def short_desc(self) -> str:
        return "Repair WARC files left .open by a killed crawl (keep every whole record)"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        targets = [Path(a) for a in args]
        if not targets:
            crawl_id = self.settings.get("CRAWL_ID") or ""
            if not crawl_id and not self.settings.get("WARC_DIR"):
                raise UsageError("give a directory or file, or -s CRAWL_ID=... (or -s WARC_DIR=...)")
            spool = identity.spool_dir(self.settings)
            targets = [Path(self.settings.get("WARC_DIR") or Path(spool) / "warc" / crawl_id)]
        results: list[RepairResult] = []
        failed = False
        for target in targets:
            if target.is_dir():
                results += repair_directory(target)
                failed = failed or any(target.glob(f"*.warc.gz{OPEN_SUFFIX}"))
                continue
            try:
                results.append(repair_warc(target))
            except (RepairError, FileNotFoundError) as exc:
                print(f"error: {exc}")
                failed = True
        for result in results:
            print(
                f"{result.source}: kept {result.records} records ({result.kept_bytes} bytes), dropped "
                f"{result.dropped_bytes} bytes -> {result.path or 'deleted (nothing whole)'}"
            )
        print(f"{len(results)} file(s) repaired")
        self.exitcode = 1 if failed else 0
