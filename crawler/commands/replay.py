"""`scrapy replay [--archive-uri DIR] [--port N]`: pywb on the store's collection; prints the URL to open.

Builds (or rebuilds) the collection first (``archive.collection``), then runs pywb's ``wayback`` from its
own virtual environment (REPORT_PYWB_VENV, default ``.pywb-venv``, made by ``make pywb``) in the collection
directory, until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from archive.collection import DEFAULT_NAME, build_collection
from crawler.commands.collection import local_store_root


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "[--archive-uri DIR] [--port N] [--name NAME]"

    def short_desc(self) -> str:
        return "Replay every crawl of the store in pywb"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--archive-uri", dest="archive_uri", default=None, help="override ARCHIVE_URI")
        parser.add_argument("--port", dest="port", type=int, default=8080, help="pywb's port (8080)")
        parser.add_argument("--name", dest="name", default=DEFAULT_NAME, help="the pywb collection name")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args:
            raise UsageError("scrapy replay takes no positional arguments")
        assert self.settings is not None
        root = local_store_root(opts.archive_uri or str(self.settings.get("ARCHIVE_URI") or "./archive-data"))
        if not (root / "warc").is_dir():
            raise UsageError(
                f"{root} holds no warc/ directory: no crawl has been stored there", print_help=False
            )
        wayback = Path(str(self.settings.get("REPORT_PYWB_VENV") or ".pywb-venv")) / "bin" / "wayback"
        if not wayback.exists():
            raise UsageError(f"{wayback} not found: run `make pywb` first", print_help=False)
        collection = build_collection(root, opts.name)
        print(
            f"collection {collection.name}: {collection.records} records of {len(collection.crawls)} crawl(s)"
        )
        print(f"open http://localhost:{opts.port}/{collection.name}/*/<url> (Ctrl-C stops pywb)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            subprocess.run(
                [str(wayback.resolve()), "-p", str(opts.port)], cwd=collection.directory, check=False
            )
