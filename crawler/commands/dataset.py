"""`scrapy dataset build|compact|query`: the research corpus's Parquet dataset over what the store holds.

    scrapy dataset build                 # rows for every stored record the dataset lacks (corpus.build)
    scrapy dataset compact               # merge each partition's parts; a dataset manifest names what they supersede
                                         # (and the near-duplicate index segments into one, with its own manifest)
    scrapy dataset query "SELECT ..."    # DuckDB over the live parts (views: articles, latest, cluster_map)

Uses the crawl's storage settings (ARCHIVE_URI, AWS_*, ARCHIVE_SPOOL_DIR; see ``crawler.storage``): new
parts go through the same spool, checksums and no-overwrite rules as a crawl's objects, and the command
waits for their upload (``--timeout``). ``build`` reads RELEVANCE_TOPIC and NEARDUP_* like a crawl.
Exit code 2 for a store that cannot be used, 1 when objects are left in the spool or a query fails.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path
from typing import Any

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from archive.spool import SpoolLockedError
from archive.store import StoreError, store_from_config
from corpus.annotate import Annotator
from corpus.build import build, compact
from corpus.neardup import NearDupIndex, StoreEventLog, compact_segments
from corpus.query import DatasetError, format_result, open_dataset
from crawler.config import ConfigError
from crawler.corpus import CorpusConfig
from crawler.storage import ArchiveStorageConfig, ArchiveStorageExtension

logger = logging.getLogger(__name__)

ACTIONS = ("build", "compact", "query")


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "build | compact | query SQL  [--archive-uri URI]"

    def short_desc(self) -> str:
        return "Build, compact or query the Parquet dataset of stored articles"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--archive-uri", dest="archive_uri", default=None, help="override ARCHIVE_URI")
        parser.add_argument(
            "--timeout", dest="timeout", type=float, default=600.0, help="upload wait, seconds"
        )
        parser.add_argument("--limit", dest="limit", type=int, default=50, help="query: rows printed")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args or args[0] not in ACTIONS:
            raise UsageError(f"give one of {', '.join(ACTIONS)}")
        action, rest = args[0], args[1:]
        if action == "query" and len(rest) != 1:
            raise UsageError('scrapy dataset query takes one SQL string: scrapy dataset query "SELECT ..."')
        if action != "query" and rest:
            raise UsageError(f"scrapy dataset {action} takes no further arguments")
        assert self.settings is not None
        try:
            config = ArchiveStorageConfig.from_settings(self.settings, archive_uri=opts.archive_uri)
            corpus_config = CorpusConfig.from_settings(self.settings)
        except (StoreError, ConfigError) as exc:
            raise UsageError(str(exc), print_help=False) from None
        config = _with_timeout(config, opts.timeout)
        store = store_from_config(config.store)
        try:
            store.check()
        except StoreError as exc:
            print(f"error: {exc}")
            self.exitcode = 2
            return
        if action == "query":
            self._query(config, store, rest[0], opts.limit)
            return
        try:
            storage = ArchiveStorageExtension(config, store)
        except SpoolLockedError as exc:
            print(f"error: {exc}")
            self.exitcode = 2
            return
        try:
            if action == "build":
                with tempfile.TemporaryDirectory(prefix="dataset-build-") as work:
                    log = StoreEventLog(store, storage, Path(work) / "neardup", "build")
                    # the index on disk beside the work files: memory stays bounded over any archive
                    index = NearDupIndex(corpus_config.neardup, log, Path(work) / "neardup.sqlite")
                    annotator = Annotator(index, corpus_config.tagger)
                    result = build(store, storage, annotator, work, progress=print)
                    print(f"{len(result.parts)} parts written")
            else:
                merged = compact(store, storage)
                for key, old in merged.merged.items():
                    print(f"{key}: supersedes {len(old)} parts")
                print(f"manifest: {merged.manifest or 'none (nothing to compact)'}")
                segments = compact_segments(store, storage)
                if segments.segment:
                    print(
                        f"{segments.segment}: near-duplicate index, {segments.docs} versions, "
                        f"{segments.merges} merges; supersedes {len(segments.superseded)} segments "
                        f"(manifest {segments.manifest})"
                    )
        finally:
            left = storage.close()
        if left.count:
            print(f"{left.count} objects wait in {config.spool_dir}; `scrapy upload` sends them")
            self.exitcode = 1

    def _query(self, config: ArchiveStorageConfig, store: Any, sql: str, limit: int) -> None:
        try:
            con = open_dataset(config.store, store)
            print(format_result(con.execute(sql), limit))
        except DatasetError as exc:
            print(f"error: {exc}")
            self.exitcode = 2
        except Exception as exc:  # duckdb raises many error types; the user needs the message, not a trace
            if type(exc).__module__.split(".")[0] not in ("duckdb", "_duckdb"):
                raise
            print(f"query failed: {exc}")
            self.exitcode = 1


def _with_timeout(config: ArchiveStorageConfig, timeout: float) -> ArchiveStorageConfig:
    from dataclasses import replace

    return replace(config, drain_timeout=timeout)
