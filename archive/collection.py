"""One replay collection over the whole store: every crawl's records in one index, a pywb config, a package list.

The store keeps each crawl's WARC files with their CDXJ beside them (``warc/<crawl-id>/*.warc.gz`` and
``*.cdxj``) and its WACZ packages (``wacz/<crawl-id>/<warc name>.wacz``, one per WARC file; older crawls:
``wacz/<crawl-id>.wacz``). ``build_collection(store_root)`` writes, under
``<store>/collection/``:

- ``indexes/index.cdxj``: the crawls' CDXJ lines merged in sort order (a k-way merge of files that are each
  sorted already: linear, no sort of the whole), each ``filename`` made relative to ``<store>/warc/``
  (``<crawl-id>/<file>.warc.gz``), so a revisit record of one crawl resolves to the payload an earlier
  crawl archived: pywb looks the original up in the same index;
- ``config.yaml``: a pywb config with one collection (``libya`` by default) whose index is that file and
  whose archive path is the store's ``warc/`` directory, both relative, so the store can move; run pywb with
  this directory as its working directory (``scrapy replay`` does);
- ``collection.json``: the crawls' WACZ packages as one multi-package description (name, path relative to
  the collection directory, size, SHA-256, crawl id) for ReplayWeb.page and other WACZ readers. A revisit
  in one package may point at a payload in another (an earlier WARC file, or an earlier crawl): open the
  collection, not one package alone, to replay it.

Rebuilding is idempotent; ``build_collection`` returns what it wrote. Only a store on a local disk: for S3,
copy or mount the store first (pywb can read WARCs from ``s3://`` with boto3 in its venv, not exercised
here).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

COLLECTION_DIR = "collection"
DEFAULT_NAME = "libya"


@dataclass(frozen=True)
class Collection:
    directory: Path
    name: str
    index: Path
    config: Path
    description: Path
    records: int
    crawls: tuple[str, ...]


def crawl_indexes(warc_root: Path) -> list[Path]:
    """The per-file CDXJ indexes of every crawl in ``<store>/warc/`` (``<crawl-id>/<name>.cdxj``)."""
    return sorted(p for p in warc_root.glob("*/*.cdxj") if p.is_file())


def wacz_packages(wacz_root: Path) -> list[tuple[str, Path]]:
    """(crawl id, package) for every WACZ in ``<store>/wacz/``: ``<crawl-id>/*.wacz`` (one per WARC file)
    and ``<crawl-id>.wacz`` (one per crawl, as older crawls wrote them), by crawl id, then in file order."""
    if not wacz_root.is_dir():
        return []
    found = [(p.stem, p) for p in wacz_root.glob("*.wacz") if p.is_file()]
    found += [(p.parent.name, p) for p in wacz_root.glob("*/*.wacz") if p.is_file()]
    return sorted(found)


def _lines(index: Path, warc_root: Path) -> Iterator[str]:
    crawl_dir = index.parent.relative_to(warc_root).as_posix()
    with index.open(encoding="utf-8") as fh:
        for line in fh:
            key, sep, rest = line.rstrip("\n").partition(" {")
            if not sep:
                continue
            fields = json.loads("{" + rest)
            name = str(fields.get("filename", ""))
            if name and "/" not in name:
                fields["filename"] = f"{crawl_dir}/{name}"
            yield f"{key} {json.dumps(fields, ensure_ascii=False)}\n"


def _sort_key(line: str) -> str:
    return line.partition(" {")[0]  # SURT key and timestamp: the order the per-file indexes are in


def merge_indexes(indexes: Sequence[Path], warc_root: Path, out: Path) -> int:
    """Merge sorted CDXJ files into ``out`` (sorted, filenames relative to ``warc_root``); lines written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for line in heapq.merge(*(_lines(index, warc_root) for index in indexes), key=_sort_key):
            fh.write(line)
            count += 1
    os.replace(tmp, out)
    return count


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pywb_config(name: str) -> str:
    """The pywb config.yaml of the collection directory (paths relative to it)."""
    return (
        "# Written by archive.collection: every crawl of the store in one collection.\n"
        "collections:\n"
        f"  {name}:\n"
        "    index_paths: ./indexes/\n"
        "    archive_paths: ../warc/\n"
        "enable_memento: true\n"
        "framed_replay: true\n"
    )


def build_collection(store_root: Path | str, name: str = DEFAULT_NAME) -> Collection:
    """(Re)build ``<store>/collection/`` from every crawl in the store; see the module docstring."""
    root = Path(store_root)
    warc_root = root / "warc"
    directory = root / COLLECTION_DIR
    indexes = crawl_indexes(warc_root) if warc_root.is_dir() else []
    index = directory / "indexes" / "index.cdxj"
    records = merge_indexes(indexes, warc_root, index)
    config = directory / "config.yaml"
    config.write_text(pywb_config(name), encoding="utf-8")
    resources = [
        {
            "name": package.name,
            "path": os.path.relpath(package, directory),
            "size": package.stat().st_size,
            "hash": "sha256:" + _sha256(package),
            "crawlId": crawl,
        }
        for crawl, package in wacz_packages(root / "wacz")
    ]
    description = directory / "collection.json"
    description.write_text(
        json.dumps(
            {
                "profile": "multi-wacz-package",
                "title": f"Libya news archive: {len(resources)} crawl(s)",
                "resources": resources,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    crawls = tuple(sorted({p.parent.name for p in indexes}))
    logger.info("Collection %s: %d record(s) of %d crawl(s) in %s", name, records, len(crawls), directory)
    return Collection(directory, name, index, config, description, records, crawls)
