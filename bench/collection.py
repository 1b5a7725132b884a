"""What keeping the store's replay collection costs at each crawl's close (archive/collection.py ``add_crawl``).

Builds a synthetic store: ``--crawls`` earlier crawls of ``--lines`` CDXJ lines each (SURT-sorted, realistic
line length), adds them one by one as the crawler's closing step does, then times adding one more crawl,
and a full ``build_collection`` over the same store for comparison. Prints, for each: seconds, the parts
after it, the records and the index bytes on disk (ZipNum parts are compressed).

    .venv/bin/python bench/collection.py                      # 30 crawls x 20,000 lines (600,000 records)
    .venv/bin/python bench/collection.py --crawls 10 --lines 100000

The crawl's close waits for ``add_crawl``; a full rebuild is what ``scrapy collection build`` does.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive.collection import ZIPNUM_MIN_LINES, add_crawl, build_collection


def write_crawl(root: Path, crawl: str, lines: int, rng: random.Random, day: int) -> Path:
    hosts = [f"ly,{name})" for name in ("alwasat", "libyaobserver", "libyaherald", "alnabaa", "218tv")]
    keys = sorted(
        f"{rng.choice(hosts)}/{rng.randrange(2015, 2027)}/{rng.randrange(1, 13):02d}/article-{rng.randrange(10**7)}"
        for _ in range(lines)
    )
    warc = f"LIBYA-2026{day:04d}000000000-00000-w.warc.gz"
    out = root / "warc" / crawl / (warc.removesuffix(".warc.gz") + ".cdxj")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for n, key in enumerate(keys):
            fields = {
                "url": "https://" + key.replace(",", ".").replace(")", "", 1),
                "mime": "text/html",
                "status": "200",
                "digest": f"sha256:{rng.getrandbits(256):064x}",
                "length": str(rng.randrange(2000, 40000)),
                "offset": str(n * 20000),
                "filename": warc,
            }
            fh.write(f"{key} 2026{(day % 12) + 1:02d}01000000 {json.dumps(fields)}\n")
    return out


def index_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "collection" / "indexes").iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crawls", type=int, default=30)
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--zipnum-lines", type=int, default=ZIPNUM_MIN_LINES)
    args = parser.parse_args()
    rng = random.Random(22)
    with tempfile.TemporaryDirectory(prefix="bench-collection-") as tmp:
        root = Path(tmp) / "store"
        slowest = (0.0, 0.0)
        for n in range(args.crawls):
            cdxj = write_crawl(root, f"crawl-{n:03d}", args.lines, rng, n)
            update = add_crawl(root, f"crawl-{n:03d}", [cdxj], zipnum_min_lines=args.zipnum_lines)
            slowest = max(slowest, (update.seconds, update.cpu_seconds))
        cdxj = write_crawl(root, "crawl-last", args.lines, rng, args.crawls)
        update = add_crawl(root, "crawl-last", [cdxj], zipnum_min_lines=args.zipnum_lines)
        parts = update.collection.parts
        print(
            f"records {update.collection.records:,} in {len(parts)} part(s) ({sum(p.zipnum for p in parts)} ZipNum)"
        )
        print(
            f"add one crawl of {args.lines:,} lines at close: {update.seconds:.2f} s ({update.cpu_seconds:.2f} s CPU)"
        )
        print(
            f"slowest close over the {args.crawls} earlier crawls: {slowest[0]:.2f} s ({slowest[1]:.2f} s CPU; "
            "a compaction)"
        )
        print(f"index on disk: {index_bytes(root) / 1e6:.1f} MB")
        started = time.monotonic()
        collection = build_collection(root, zipnum_min_lines=args.zipnum_lines)
        print(
            f"full rebuild (scrapy collection build): {time.monotonic() - started:.2f} s, "
            f"{collection.records:,} records, {index_bytes(root) / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
