"""What each site sees of a crawl with the project's politeness: spacing and concurrency per download slot.

Runs ``scrapy crawl libya`` with the default politeness (AutoThrottle, DOWNLOAD_DELAY,
CONCURRENT_REQUESTS_PER_DOMAIN) against ``--sites`` ``newsroom.faults.FaultSite`` servers on 127.0.0.1 (one
port each, answers slowed by ``--answer`` seconds), by one worker, or by ``--workers N`` workers sharing one
crawl through a local ``redis-server``. Prints per site: requests, the closest and median spacing between
two arrivals, the most requests in flight at once, and the crawl's wall time.

    .venv/bin/python bench/politeness.py [--sites 3] [--articles 10] [--answer 0.5] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crawler import settings as project  # noqa: E402
from newsroom.faults import FaultSite  # noqa: E402

SEED = [sys.executable, "-m", "scrapy", "seed", "-a"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(sources: Path, work: Path, worker: str, redis_url: str | None, crawl_id: str) -> list[str]:
    settings = {
        "ARCHIVE_URI": str(work / "archive"),
        "ARCHIVE_SPOOL_DIR": str(work / f"spool-{worker}"),
        "CRAWL_ID": crawl_id,
        "EXTRACT_WORKERS": "1",
        "LOG_FILE": str(work / f"{worker}.log"),
        "CRAWL_STATS_FILE": str(work / f"stats-{worker}.json"),
    }
    if redis_url:
        settings |= {"CRAWL_REDIS_URL": redis_url, "CRAWL_WORKER_ID": worker, "CRAWL_REDIS_IDLE_CLOSE": "8"}
    cmd = [sys.executable, "-m", "scrapy", "crawl", "libya", "-a", f"sources={sources}"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    return cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sites", type=int, default=3)
    parser.add_argument("--articles", type=int, default=10)
    parser.add_argument("--answer", type=float, default=0.5, help="seconds each article answer takes")
    parser.add_argument("--workers", type=int, default=1, help="more than 1: a distributed crawl on Redis")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    work = Path(tempfile.mkdtemp(prefix="bench-politeness-"))
    crawl_id = f"polite-{int(time.time())}"
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        sites = [
            stack.enter_context(
                FaultSite(
                    f"s{i}",
                    articles=args.articles,
                    faults=(),
                    first_story=i * args.articles,
                    article_delay=args.answer,
                )
            )
            for i in range(args.sites)
        ]
        sources = sites[0].write_sources(work / "sources.yaml", *sites[1:])
        redis_url = None
        if args.workers > 1:
            port = _free_port()
            server = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--dir",
                    str(work),
                ],
                stdout=subprocess.DEVNULL,
            )
            stack.callback(server.wait, 10)
            stack.callback(server.terminate)
            time.sleep(0.5)
            redis_url = f"redis://127.0.0.1:{port}/0"
        names = [f"w{i + 1}" for i in range(args.workers)]
        started = time.monotonic()
        procs = [
            subprocess.Popen(_command(sources, work, name, redis_url, crawl_id), cwd=REPO, env=env)
            for name in names
        ]
        if redis_url:
            time.sleep(8)  # every worker up before the seeds arrive
            subprocess.run(
                [
                    *SEED,
                    f"sources={sources}",
                    "-s",
                    f"CRAWL_REDIS_URL={redis_url}",
                    "-s",
                    f"CRAWL_ID={crawl_id}",
                ],
                cwd=REPO,
                env=env,
                check=True,
                capture_output=True,
            )
        codes = [proc.wait() for proc in procs]
        wall = time.monotonic() - started
        responses = [
            json.loads((work / f"stats-{n}.json").read_text()).get("downloader/response_count", 0)
            for n in names
        ]
        print(
            f"{args.workers} worker(s) {codes}, responses per worker {responses}; defaults: AutoThrottle "
            f"{project.AUTOTHROTTLE_ENABLED}, DOWNLOAD_DELAY {project.DOWNLOAD_DELAY}, "
            f"CONCURRENT_REQUESTS_PER_DOMAIN {project.CONCURRENT_REQUESTS_PER_DOMAIN}; wall {wall:.1f} s"
        )
        print(f"{'site':<6} {'requests':>8} {'closest s':>10} {'median s':>9} {'max in flight':>14}")
        for site in sites:
            gaps = site.spacings()
            print(
                f"{site.name:<6} {len(site.requests):>8} {min(gaps):>10.3f} {statistics.median(gaps):>9.3f} "
                f"{site.max_in_flight():>14}"
            )
    return 0 if all(code == 0 for code in codes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
