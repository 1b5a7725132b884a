"""``make demo``: an offline crawl of the local newsroom on the embedded defaults, then a summary.

Starts the newsroom (five Arabic news sites on 127.0.0.1), writes its sources file, runs
``scrapy crawl libya`` in a child process exactly as a user would, and prints articles per site, where the
output is, and how to replay the WARCs in pywb.

By default the crawl writes to S3: a SeaweedFS server the demo starts on 127.0.0.1 (data in
``.demo/seaweedfs``), so the demo exercises the S3 path; afterwards the crawl's objects are exported from S3
into ``./archive-data`` for reading. ``--store file`` crawls straight into ``./archive-data`` instead (the
embedded default of ``scrapy crawl``). ``--workdir DIR`` (default .demo).
"""

from __future__ import annotations

import argparse
import contextlib
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


def run_crawl(
    sources: Path, archive_uri: str, crawl_id: str, workdir: Path, extra: list[str], env: dict[str, str]
) -> int:
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
    return subprocess.call(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), **env})


def read_manifest(archive_uri: str, crawl_id: str, options: dict[str, Any]) -> list[dict[str, Any]]:
    from archive.keys import manifest_key
    from archive.store import open_store

    store = open_store(archive_uri, **options)
    data = store.get_bytes(manifest_key(crawl_id))
    if not data:
        return []
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=("s3", "file"), default="s3")
    parser.add_argument("--output", default="./archive-data")
    parser.add_argument("--workdir", default=".demo")
    args = parser.parse_args(argv)

    from devtools.seaweed import SeaweedS3
    from newsroom import Newsroom

    workdir = (REPO / args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    output = (REPO / args.output).resolve()
    crawl_id = "demo-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    store_options: dict[str, Any] = {}
    extra: list[str] = []
    env: dict[str, str] = {}
    seaweed: SeaweedS3 | None = None
    started = time.monotonic()
    if args.store == "s3":
        print("Starting a local S3 server (SeaweedFS) ...", flush=True)
        seaweed = SeaweedS3(workdir / "seaweedfs")
        seaweed.start()
        bucket = "archive"
        with contextlib.suppress(Exception):  # already there from an earlier demo
            seaweed.client().create_bucket(Bucket=bucket)
        archive_uri = f"s3://{bucket}/libya"
        store_options = seaweed.store_options(retries=3)
        # Credentials go through the environment (the standard AWS chain), never on a command line.
        env = {"AWS_ACCESS_KEY_ID": seaweed.access_key, "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}
        extra = ["-s", f"AWS_ENDPOINT_URL={seaweed.endpoint_url}", "-s", "S3_ADDRESSING_STYLE=path"]
        extra += ["-s", f"AWS_REGION_NAME={seaweed.region}"]
    else:
        archive_uri = str(output)
    try:
        with Newsroom() as newsroom:
            sources = workdir / "sources.yaml"
            newsroom.write_sources(sources)
            for newsroom_site in newsroom.sites.values():
                print(f"  newsroom site {newsroom_site.name:8s} {newsroom_site.base_url}")
            code = run_crawl(sources, archive_uri, crawl_id, workdir, extra, env)
            gold = newsroom.articles
        if code != 0:
            print(f"The crawl failed (exit code {code}); see the log above.", file=sys.stderr)
            return code
        manifest = read_manifest(archive_uri, crawl_id, store_options)
        if seaweed is not None:
            exported = export_crawl(archive_uri, store_options, crawl_id, output)
            print(f"Exported {exported} object(s) of crawl {crawl_id} from {archive_uri} to {output}")
    finally:
        if seaweed is not None:
            seaweed.stop()
    per_site = Counter(line["site"] for line in manifest)
    expected = Counter(a.site for a in gold if a.relevant)
    print()
    print(f"Crawl {crawl_id} finished in {time.monotonic() - started:.0f} s")
    print(f"{'site':10s} {'articles stored':>16s} {'relevant in newsroom':>21s}")
    for name in sorted(set(per_site) | set(expected)):
        print(f"{name:10s} {per_site.get(name, 0):16d} {expected.get(name, 0):21d}")
    print(f"{'total':10s} {sum(per_site.values()):16d} {sum(expected.values()):21d}")
    print()
    from archive.keys import manifest_key, wacz_packages_dir, warc_key

    warc_dir = warc_key(crawl_id, "x")[:-1]
    print(f"Output: {output} (text/<site>/<yyyy>/<mm>/<id>.txt + .json, {warc_dir},")
    print(f"        {wacz_packages_dir(crawl_id)}/*.wacz, {manifest_key(crawl_id)})")
    if seaweed is not None:
        print(f"        written to {archive_uri} on the demo's SeaweedFS (data in {seaweed.data_dir})")
    print(f"Log:    {workdir / f'crawl-{crawl_id}.log'}")
    reports = sorted((workdir / "spool" / "reports").glob("*/report.html"), key=lambda p: p.stat().st_mtime)
    if reports:
        print(f"Report: {reports[-1]} (and {reports[-1].with_suffix('.md').name} beside it)")
    print()
    print(
        "Replay the WARCs in pywb (its own virtual environment, made by `make test` or scripts/pywb-venv.sh):"
    )
    print(f"  cd {workdir} && ../.pywb-venv/bin/wb-manager init {crawl_id}")
    print(f"  ../.pywb-venv/bin/wb-manager add {crawl_id} {output}/{warc_dir}*.warc.gz")
    print(
        f"  ../.pywb-venv/bin/wayback -p 8080 --bind 127.0.0.1   # then open http://127.0.0.1:8080/{crawl_id}/"
    )
    print(f"Or open a package of {output}/{wacz_packages_dir(crawl_id)}/ in ReplayWeb.page.")
    from archive.collection import build_collection

    collection = build_collection(output)
    print()
    print(
        f"Every crawl in {output} as one collection ({collection.records} records, {len(collection.crawls)} crawl(s)):"
    )
    print(
        f"  scrapy replay --archive-uri {output}   # pywb; then open http://localhost:8080/{collection.name}/"
    )
    print(
        f"  scrapy replay --archive-uri {output} --viewer replaywebpage   # ReplayWeb.page on collection.json "
        "(every crawl's signed WACZ), http://localhost:8080/"
    )
    print(f"  or load {collection.description} (or one WACZ) in ReplayWeb.page served over HTTP(S)")
    return 0


def export_crawl(archive_uri: str, options: dict[str, Any], crawl_id: str, output: Path) -> int:
    """Copy what the crawl stored in S3 into a local directory with the same layout."""
    from archive.keys import manifest_key, wacz_packages_dir, warc_key
    from archive.store import open_store

    store = open_store(archive_uri, **options)
    manifest = read_manifest(archive_uri, crawl_id, options)
    keys = [line["text_key"] for line in manifest] + [line["json_key"] for line in manifest]
    warc_prefix = warc_key(crawl_id, "x")[:-1]
    keys += [*store.list(warc_prefix), *store.list(wacz_packages_dir(crawl_id) + "/"), manifest_key(crawl_id)]
    count = 0
    for key in keys:
        data = store.get_bytes(key)
        if data is None:
            continue
        target = output / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        count += 1
    return count


if __name__ == "__main__":
    sys.exit(main())
