"""``make demo``: an offline crawl of the local newsroom on the embedded defaults, then a summary.

Starts the newsroom (five Arabic news sites on 127.0.0.1), writes its sources file, runs
``scrapy crawl libya`` in a child process exactly as a user would, and prints articles per site, where the
output is, and how to replay the WARCs in pywb.

Options: ``--archive-uri URI`` (default ./archive-data; ``s3`` starts a local SeaweedFS and crawls into it),
``--workdir DIR`` (default .demo).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def run_crawl(sources: Path, archive_uri: str, crawl_id: str, workdir: Path, extra: list[str]) -> int:
    log_file = workdir / f"crawl-{crawl_id}.log"
    cmd = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "libya",
        "-a",
        f"sources={sources}",
        "-s",
        f"ARCHIVE_URI={archive_uri}",
        "-s",
        f"CRAWL_ID={crawl_id}",
        "-s",
        f"ARCHIVE_SPOOL_DIR={workdir / 'spool'}",
        "-s",
        f"LOG_FILE={log_file}",
        "-s",
        "LOG_LEVEL=INFO",
        *extra,
    ]
    print(f"Crawling the newsroom (log: {log_file}) ...", flush=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.call(cmd, cwd=REPO, env=env)


def read_manifest(archive_uri: str, crawl_id: str, options: dict[str, Any]) -> list[dict[str, Any]]:
    from archive.keys import manifest_key
    from archive.storage import open_store

    store = open_store(archive_uri, **options)
    data = store.get_bytes(manifest_key(crawl_id))
    if not data:
        return []
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--archive-uri", default="./archive-data")
    parser.add_argument("--workdir", default=".demo")
    args = parser.parse_args(argv)

    from newsroom import Newsroom

    workdir = (REPO / args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    crawl_id = "demo-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    archive_uri = args.archive_uri
    store_options: dict[str, Any] = {}
    extra: list[str] = []
    started = time.monotonic()
    with Newsroom() as newsroom:
        sources = workdir / "sources.yaml"
        newsroom.write_sources(sources)
        for site in newsroom.sites.values():
            print(f"  newsroom site {site.name:8s} {site.base_url}")
        code = run_crawl(sources, archive_uri, crawl_id, workdir, extra)
        gold = newsroom.articles
    if code != 0:
        print(f"The crawl failed (exit code {code}); see the log above.", file=sys.stderr)
        return code
    manifest = read_manifest(archive_uri, crawl_id, store_options)
    per_site = Counter(line["site"] for line in manifest)
    expected = Counter(a.site for a in gold if a.relevant)
    print()
    print(f"Crawl {crawl_id} finished in {time.monotonic() - started:.0f} s")
    print(f"{'site':10s} {'articles stored':>16s} {'relevant in newsroom':>21s}")
    for site in sorted(set(per_site) | set(expected)):
        print(f"{site:10s} {per_site.get(site, 0):16d} {expected.get(site, 0):21d}")
    print(f"{'total':10s} {sum(per_site.values()):16d} {sum(expected.values()):21d}")
    print()
    print(f"Output: {archive_uri} (text/<site>/<yyyy>/<mm>/<id>.txt + .json, warc/{crawl_id}/,")
    print(f"        wacz/{crawl_id}.wacz, manifests/{crawl_id}.jsonl)")
    print(f"Log:    {workdir / f'crawl-{crawl_id}.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
