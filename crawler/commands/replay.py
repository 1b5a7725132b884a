"""`scrapy replay [--archive-uri URI] [--port N] [--name NAME] [--output DIR] [--viewer pywb|replaywebpage]`:
pywb (or ReplayWeb.page) on the store's collection; prints the URL to open.

Builds (or rebuilds) the collection first (``crawler.commands.collection.prepare_collection``: a local
store's ``collection/``, or for an S3 store a local collection whose pywb config reads the WARC files from
S3), then runs pywb's ``wayback`` from its own virtual environment (REPORT_PYWB_VENV, default
``.pywb-venv``, made by ``make pywb``) in the collection directory, until interrupted. ``--viewer replaywebpage`` (a local store): ReplayWeb.page from
``.replaywebpage/`` (``make replaywebpage``) and the store on one local server (``archive.replayweb``),
opening the collection's ``collection.json`` (every crawl's WACZ).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from archive.collection import DEFAULT_NAME
from crawler.commands.collection import prepare_collection


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "[--archive-uri URI] [--port N] [--name NAME] [--output DIR]"

    def short_desc(self) -> str:
        return "Replay every crawl of the store in pywb"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--archive-uri", dest="archive_uri", default=None, help="override ARCHIVE_URI")
        parser.add_argument("--port", dest="port", type=int, default=8080, help="pywb's port (8080)")
        parser.add_argument("--name", dest="name", default=DEFAULT_NAME, help="the pywb collection name")
        parser.add_argument(
            "--output", dest="output", default=None, help="where an S3 store's collection goes (a directory)"
        )
        parser.add_argument(
            "--viewer",
            dest="viewer",
            choices=("pywb", "replaywebpage"),
            default="pywb",
            help="pywb (default)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args:
            raise UsageError("scrapy replay takes no positional arguments")
        assert self.settings is not None
        if opts.viewer == "replaywebpage":
            self.replaywebpage(opts)
            return
        wayback = Path(str(self.settings.get("REPORT_PYWB_VENV") or ".pywb-venv")) / "bin" / "wayback"
        if not wayback.exists():
            raise UsageError(f"{wayback} not found: run `make pywb` first", print_help=False)
        collection, env = prepare_collection(self.settings, opts.archive_uri, opts.name, opts.output)
        print(
            f"collection {collection.name}: {collection.records} records of {len(collection.crawls)} crawl(s)"
        )
        print(f"open http://localhost:{opts.port}/{collection.name}/*/<url> (Ctrl-C stops pywb)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            subprocess.run(
                [str(wayback.resolve()), "-p", str(opts.port)],
                cwd=collection.directory,
                env={**os.environ, **env},
                check=False,
            )

    def replaywebpage(self, opts: argparse.Namespace) -> None:
        from urllib.parse import quote

        from archive.replayweb import serve

        collection, env = prepare_collection(self.settings, opts.archive_uri, opts.name, opts.output)
        if env:
            raise UsageError(
                "--viewer replaywebpage needs a local store (an S3 store: use pywb)", print_help=False
            )
        app = Path(".replaywebpage")
        try:
            server, thread, url = serve(app, collection.directory.parent, port=opts.port)
        except FileNotFoundError as exc:
            raise UsageError(str(exc), print_help=False) from None
        source = f"{url}data/{collection.description.relative_to(collection.directory.parent).as_posix()}"
        print(f"collection {collection.name}: {len(collection.crawls)} crawl(s) in {collection.description}")
        print(f"open {url}?source={quote(source, safe='')} (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            thread.join()
        server.shutdown()
        server.server_close()
