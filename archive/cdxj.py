"""CDXJ indexes for finished WARC files, in the form pywb reads (SURT key, 14-digit timestamp, JSON).

``write_cdxj(warc)`` writes ``<name>.cdxj`` beside the WARC file (sorted, via the cdxj-indexer package
that ``wacz`` depends on). Only replayable records are indexed (response, revisit, resource): a metadata
record shares its page's URL and would otherwise compete with the page in replay.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cdxj_indexer.main import CDXJIndexer

logger = logging.getLogger(__name__)

INDEXED_RECORDS = "response,revisit,resource"


def cdxj_path(warc_path: Path) -> Path:
    """Where the index of a WARC file goes: ``LIBYA-...-host.warc.gz`` -> ``LIBYA-...-host.cdxj`` beside it."""
    name = warc_path.name
    for ext in (".warc.gz", ".warc"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    return warc_path.with_name(name + ".cdxj")


def write_cdxj(warc_path: Path | str, output: Path | str | None = None) -> Path:
    """Index one WARC file into a sorted CDXJ file (default: ``cdxj_path(warc_path)``); return its path."""
    warc_path = Path(warc_path)
    out = Path(output) if output is not None else cdxj_path(warc_path)
    tmp = out.with_name(out.name + ".tmp")
    indexer = CDXJIndexer(
        str(tmp),
        [str(warc_path)],
        sort=True,
        post_append=True,
        records=INDEXED_RECORDS,
        dir_root=str(warc_path.parent),
    )
    try:
        indexer.process_all()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("Wrote CDXJ index %s", out)
    return out


def read_cdxj(path: Path | str) -> list[tuple[str, str, str]]:
    """The (urlkey, timestamp, json) triples of a CDXJ file, in file order (for checks and tests)."""
    lines = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip() and not line.startswith("!"):
                key, ts, data = line.rstrip("\n").split(" ", 2)
                lines.append((key, ts, data))
    return lines
