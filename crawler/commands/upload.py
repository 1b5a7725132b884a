"""`scrapy upload [--archive-uri URI] [--timeout S]`: drain the local spool into the archive store.

Uses the same settings as a crawl (see ``crawler.storage``). Prints each uploaded object and a summary; the
exit code is 1 when anything is left in the spool (store down, credentials refused...), 0 otherwise.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from archive.spool import Spool, SpoolEntry, SpoolLockedError
from archive.store import StoreError, StoreUnavailableError, store_from_config
from crawler.config import ConfigError
from crawler.secrets import SecretMasker, install_log_masking
from crawler.storage import ArchiveStorageConfig

logger = logging.getLogger(__name__)


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "[--archive-uri URI] [--timeout SECONDS]"

    def short_desc(self) -> str:
        return "Upload what the spool still holds to the archive store"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--archive-uri", dest="archive_uri", default=None, help="override ARCHIVE_URI")
        parser.add_argument(
            "--timeout", dest="timeout", type=float, default=600.0, help="give up after this many seconds"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args:
            raise UsageError("scrapy upload takes no positional arguments")
        assert self.settings is not None
        masker = SecretMasker.from_settings(self.settings)
        install_log_masking(masker)  # botocore's debug lines, tracebacks
        try:
            config = ArchiveStorageConfig.from_settings(self.settings, archive_uri=opts.archive_uri)
        except (StoreError, ConfigError) as exc:
            raise UsageError(masker.mask(str(exc)), print_help=False) from None
        store = store_from_config(config.store)
        try:
            store.check()
        except StoreUnavailableError as exc:
            print(f"warning: {masker.mask(str(exc))}; will keep retrying until the timeout")
        except StoreError as exc:
            print(f"error: {masker.mask(str(exc))}")
            self.exitcode = 2
            return
        uploaded: list[tuple[SpoolEntry, str]] = []

        def on_uploaded(entry: SpoolEntry, key: str, _uploaded: Any = uploaded) -> None:
            _uploaded.append((entry, key))
            suffix = "" if key == entry.key else f" (as {key}: {entry.key} holds different bytes)"
            print(f"uploaded {entry.key} ({entry.size} bytes){suffix}", flush=True)

        try:
            spool = Spool(
                config.spool_dir,
                store,
                retries=config.retries,
                on_uploaded=on_uploaded,
                start=False,
                concurrency=config.concurrency,
            )
        except SpoolLockedError as exc:
            print(f"error: {masker.mask(str(exc))}")
            self.exitcode = 2
            return
        try:
            left = spool.drain(opts.timeout)
        finally:
            left = spool.close()
        print(
            f"{len(uploaded)} objects ({sum(e.size for e, _ in uploaded)} bytes) uploaded to {store.describe()}; "
            f"{left.count} objects ({left.bytes} bytes) left in {config.spool_dir}"
        )
        if left.count:
            self.exitcode = 1
