"""Command line: ``python -m newsroom serve`` runs the newsroom until SIGINT/SIGTERM;
``python -m newsroom gold --out FILE`` writes the gold articles as JSON lines."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
import threading
from types import FrameType

from .server import Newsroom

logger = logging.getLogger(__name__)


def _serve(args: argparse.Namespace) -> int:
    newsroom = Newsroom(host=args.host, base_port=args.base_port).start()
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        for site in newsroom.sites.values():
            print(f"{site.name:8s} {site.base_url}", flush=True)
        if args.sources_out:
            path = newsroom.write_sources(args.sources_out)
            print(f"sources  {path}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        newsroom.stop()
    return 0


def _gold(args: argparse.Namespace) -> int:
    with Newsroom(host=args.host) as newsroom:
        lines = []
        for gold in newsroom.articles:
            record = dataclasses.asdict(gold)
            record["text"] = gold.text
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.writelines(lines)
    else:
        sys.stdout.writelines(lines)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m newsroom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the five sites until SIGINT/SIGTERM")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--base-port", type=int, default=0, help="first port (sites use N..N+4); 0 = any")
    serve.add_argument("--sources-out", help="write a sources YAML for the running sites here")
    gold = sub.add_parser("gold", help="write the gold articles as JSON lines (URLs use random ports)")
    gold.add_argument("--host", default="127.0.0.1")
    gold.add_argument("--out", help="output file (default stdout)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return _serve(args) if args.command == "serve" else _gold(args)


if __name__ == "__main__":
    sys.exit(main())
