"""`scrapy collection build [--archive-uri URI] [--name NAME]`: one replay collection over every crawl.

Writes ``<store>/collection/`` (see ``archive.collection``): the merged CDXJ of every crawl as one sorted
part (ZipNum-compressed once large), a pywb config and ``collection.json`` listing the crawls' WACZ
packages. Each crawl's close adds its own index already (``crawler.collection``); a rebuild compacts the
index into one part and takes in crawls made before that, or with the update off. Reads ARCHIVE_URI; the store must be a local
directory (an ``s3://`` store: sync it to a disk first).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import unquote, urlsplit

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from archive.collection import DEFAULT_NAME, build_collection


def local_store_root(uri: str) -> Path:
    """The directory of a local ARCHIVE_URI (a path or ``file://``); ``UsageError`` for anything else."""
    uri = uri.strip()
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:
        raise UsageError(
            f"ARCHIVE_URI {parts.scheme}://... is not a local directory: copy the store to a disk "
            "(aws s3 sync) and pass --archive-uri DIR",
            print_help=False,
        )
    return Path(uri).expanduser()


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "build [--archive-uri DIR] [--name NAME]"

    def short_desc(self) -> str:
        return "Build one replay collection (merged CDXJ, pywb config, collection.json) over every crawl"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--archive-uri", dest="archive_uri", default=None, help="override ARCHIVE_URI")
        parser.add_argument("--name", dest="name", default=DEFAULT_NAME, help="the pywb collection name")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args != ["build"]:
            raise UsageError("usage: scrapy collection build [--archive-uri DIR] [--name NAME]")
        assert self.settings is not None
        root = local_store_root(opts.archive_uri or str(self.settings.get("ARCHIVE_URI") or "./archive-data"))
        if not (root / "warc").is_dir():
            raise UsageError(
                f"{root} holds no warc/ directory: no crawl has been stored there", print_help=False
            )
        collection = build_collection(root, opts.name)
        print(
            f"collection {collection.name}: {collection.records} records of {len(collection.crawls)} crawl(s)"
        )
        zipnum = sum(1 for p in collection.parts if p.zipnum)
        print(f"  index:       {collection.indexes} ({len(collection.parts)} part(s), {zipnum} ZipNum)")
        print(f"  pywb config: {collection.config}")
        print(f"  ReplayWeb.page description: {collection.description}")
        print(f"replay: scrapy replay --archive-uri {root}")
