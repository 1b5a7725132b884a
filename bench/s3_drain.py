"""The S3 run of ``bench/pipeline.py`` alone, with and without rotation: how long the drain after the crawl is.

``python bench/s3_drain.py [--articles N] [--set NAME=VALUE ...] [--baseline NAME=VALUE ...]`` starts
``newsroom.bigsite`` and SeaweedFS as ``bench/pipeline.py`` does and runs the full pipeline into S3 once per
setting group: "baseline" (``--baseline``, default: one WARC file for the whole crawl, as before rotation
by size and age) and "rotating" (``--set``, default: the project's settings with WARC_MAX_AGE scaled to
the crawl, 10 s). For each: crawl seconds (Scrapy's elapsed time), the drain after the crawl (the
session's own measure, from its log line), the backlog when the crawl ended, WARC files and packages.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import bigsite, crawl, seaweedfs

DRAIN = re.compile(r"Upload drain after the crawl: ([0-9.]+) s; (\d+) object")
BACKLOG = re.compile(r"Upload backlog at the end of the crawl: (\d+) object\(s\), (\d+) bytes \(peak (\d+)")


def run(name: str, sources: Path, workdir: Path, settings: dict[str, str], s3: Any) -> str:
    bucket = s3.create_bucket(name)
    merged = {
        "ARCHIVE_URI": f"s3://{bucket}/archive",
        "AWS_ENDPOINT_URL": s3.endpoint_url,
        "AWS_REGION_NAME": s3.region,
        "S3_ADDRESSING_STYLE": "path",
        **settings,
    }
    env = {"AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key}
    row, stats = crawl(f"S3 {name}", sources, workdir, merged, env=env, concurrency=64, per_domain=16)
    log = (workdir / re.sub(r"[^a-z0-9]+", "-", f"S3 {name}".lower()).strip("-") / "crawl.log").read_text()
    drain = DRAIN.search(log)
    backlog = BACKLOG.search(log)
    wall = row.extra["wall"]
    drained = float(drain.group(1)) if drain else float("nan")
    return (
        f"| {name} | {row.pages} | {row.seconds:.1f} | {drained:.1f} | {100 * drained / row.seconds:.0f} % | "
        f"{wall:.1f} | {int(backlog.group(1)) if backlog else '?'} / "
        f"{int(backlog.group(2)) / 1e6 if backlog else float('nan'):.1f} MB | "
        f"{stats.get('warc/files', '?')} | {row.pages / wall:.1f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--baseline", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args(argv)
    rotating = {"WARC_MAX_AGE": "10", **dict(item.split("=", 1) for item in args.set)}
    baseline = {
        "WARC_MAX_AGE": "0",
        "WARC_MAX_SIZE": str(10**10),
        "ARCHIVE_UPLOAD_CONCURRENCY": "1",
        **dict(item.split("=", 1) for item in args.baseline),
    }
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="bench-s3-drain-"))
    lines = [
        "| run | pages | crawl s | drain s | drain / crawl | wall s | backlog at end | WARC files | pages/s end to end |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    with bigsite(workdir, args.articles) as (_server, sources), seaweedfs(workdir) as s3:
        groups = (
            [("rotating", rotating)]
            if args.skip_baseline
            else [("baseline", baseline), ("rotating", rotating)]
        )
        for name, settings in groups:
            print(f"{name}: {settings} ...", flush=True)
            lines.append(run(name, sources, workdir, settings, s3))
            print(lines[-1], flush=True)
    print("\n".join(lines))
    print(f"work dir {workdir} (remove it when done)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
