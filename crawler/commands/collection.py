"""`scrapy collection build [--archive-uri URI] [--name NAME] [--output DIR]`: one replay collection over
every crawl.

A local store (a directory): writes ``<store>/collection/`` (see ``archive.collection``): the merged CDXJ
of every crawl as one sorted part (ZipNum-compressed once large), a pywb config and ``collection.json``
listing the crawls' WACZ packages. Each crawl's close adds its own index already (``crawler.collection``);
a rebuild compacts the index into one part and takes in crawls made before that, or with the update off.

An S3 store (``s3://bucket/prefix``): the collection goes to ``--output`` (default
``./collection-<bucket>``), its index built from the crawls' CDXJ in the store, its pywb config reading the
WARC files from S3 (``archive.collection.build_remote_collection``). The store's settings (ARCHIVE_URI,
AWS_ENDPOINT_URL, credentials) are the crawl's.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from archive.collection import DEFAULT_NAME, Collection, build_collection, build_remote_collection


def local_store_root(uri: str) -> Path | None:
    """The directory of a local ARCHIVE_URI (a path or ``file://``); None for ``s3://``."""
    uri = uri.strip()
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme == "s3":
        return None
    if parts.scheme and len(parts.scheme) > 1:
        raise UsageError(
            f"ARCHIVE_URI {parts.scheme}://...: use a directory or s3://bucket", print_help=False
        )
    return Path(uri).expanduser()


def prepare_collection(
    settings: Any, archive_uri: str | None, name: str, output: str | None
) -> tuple[Collection, dict[str, str]]:
    """Build the store's collection; returns it and the environment pywb needs to read the store."""
    uri = archive_uri or str(settings.get("ARCHIVE_URI") or "./archive-data")
    root = local_store_root(uri)
    if root is not None:
        if not (root / "warc").is_dir():
            raise UsageError(
                f"{root} holds no warc/ directory: no crawl has been stored there", print_help=False
            )
        return build_collection(root, name), {}
    from archive.store import StoreError, store_from_config
    from crawler.config import ConfigError
    from crawler.storage import ArchiveStorageConfig

    try:
        config = ArchiveStorageConfig.from_settings(settings, archive_uri=uri)
        store = store_from_config(config.store)
        directory = Path(output or f"collection-{urlsplit(uri).netloc}")
        collection = build_remote_collection(store, directory, name)
    except (StoreError, ConfigError) as exc:
        raise UsageError(str(exc), print_help=False) from None
    # pywb's S3 loader is boto3's default client: endpoint and credentials from the environment.
    env: dict[str, str] = {}
    endpoint = str(settings.get("AWS_ENDPOINT_URL") or "")
    if endpoint:
        env["AWS_ENDPOINT_URL_S3"] = endpoint
    for name_ in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        value = settings.get(name_)
        if value:
            env[name_] = str(value)
    region = settings.get("AWS_REGION_NAME")
    if region:
        env["AWS_DEFAULT_REGION"] = str(region)
    return collection, env


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "build [--archive-uri URI] [--name NAME] [--output DIR]"

    def short_desc(self) -> str:
        return "Build one replay collection (merged CDXJ, pywb config, collection.json) over every crawl"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--archive-uri", dest="archive_uri", default=None, help="override ARCHIVE_URI")
        parser.add_argument("--name", dest="name", default=DEFAULT_NAME, help="the pywb collection name")
        parser.add_argument(
            "--output", dest="output", default=None, help="where an S3 store's collection goes (a directory)"
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args != ["build"]:
            raise UsageError(
                "usage: scrapy collection build [--archive-uri URI] [--name NAME] [--output DIR]"
            )
        assert self.settings is not None
        collection, env = prepare_collection(self.settings, opts.archive_uri, opts.name, opts.output)
        print(
            f"collection {collection.name}: {collection.records} records of {len(collection.crawls)} crawl(s)"
        )
        zipnum = sum(1 for p in collection.parts if p.zipnum)
        print(f"  index:       {collection.indexes} ({len(collection.parts)} part(s), {zipnum} ZipNum)")
        print(f"  pywb config: {collection.config}")
        if env:
            print("  WARC files:  read from the store by pywb (boto3), with AWS_* in its environment")
        else:
            print(f"  ReplayWeb.page description: {collection.description}")
        where = opts.archive_uri or self.settings.get("ARCHIVE_URI") or "./archive-data"
        print(
            f"replay: scrapy replay --archive-uri {where}"
            + (f" --output {os.fspath(collection.directory)}" if env else "")
        )
