"""Memory of the near-duplicate index per 100,000 article versions, before and after it moved to SQLite.

Feeds ``--versions`` synthetic versions (random MinHash signatures, a fifth of them near copies of an
earlier one, so clusters and merges happen) to ``corpus.neardup.NearDupIndex`` and reports how the process's
resident memory grew over the second half of them (VmRSS, which counts SQLite's own allocations too:
what each further version costs, past fixed costs such as SQLite's page cache) and the state file's
size, both scaled to 100,000 versions, and the CPU time an assignment took. ``--before REV`` runs the same in a
subprocess against the ``corpus`` package of git revision REV (for example the one before the index
moved to SQLite) and prints both::

    .venv/bin/python bench/corpus_memory.py --versions 20000 --before 5c280ed

Reads no settings; writes only to a temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class DiscardLog:
    """An event log that keeps nothing (the crawl's journals are on disk), for the old index and the new."""

    def load(self, skip: object = ()) -> list[object]:
        return []

    def sync(self) -> list[object]:
        return []

    def append(self, event: object) -> None:
        pass

    def flush(self) -> list[str]:
        return []

    def close(self) -> None:
        pass

    def lock(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


def measure(versions: int, state: str | None) -> dict[str, float]:
    """Grow an index to ``versions`` and report its memory (run in a fresh process)."""
    import numpy as np

    from corpus.neardup import NearDupIndex, Signature

    rng = np.random.default_rng(7)
    sigs = rng.integers(0, 2**31 - 1, size=(versions, 128), dtype=np.int64).astype(np.uint32)
    copies = rng.random(versions) < 0.2
    for i in np.flatnonzero(copies)[1:]:
        source = int(rng.integers(0, i))
        changed = rng.random(128) < 0.2
        sigs[i] = np.where(changed, sigs[i], sigs[source])
    kwargs: dict[str, object] = {"log": DiscardLog()}
    if state:
        kwargs["state_path"] = state
    before = rss_kib()
    index = NearDupIndex(**kwargs)  # type: ignore[arg-type]
    started = time.process_time()
    half = before
    for i in range(versions):
        if i == versions // 2:
            half = rss_kib()
        key = f"{i:016x}{i:016x}-{i:016x}"  # the shape of a real version key (article id, text digest)
        index.assign(key, "", f"2020-01-01T00:00:{i % 60:02d}Z", signature=Signature(sigs[i], 300))
    cpu = time.process_time() - started
    end = rss_kib()
    # the growth over the second half: what each further version costs, past fixed costs (caches, imports)
    grown = (end - half) * 2
    size = Path(state).stat().st_size if state and Path(state).exists() else 0
    return {
        "versions": versions,
        "rss_mib_per_100k": grown / 1024 * 100_000 / versions,
        "rss_mib_total": (end - before) / 1024,
        "disk_mib_per_100k": size / 2**20 * 100_000 / versions,
        "ms_per_assign": 1000 * cpu / versions,
        "copies": int(copies.sum()),
    }


def run(versions: int, root: Path, *, on_disk: bool) -> dict[str, float]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2]);"
        "from corpus_memory import measure;"
        "print(json.dumps(measure(int(sys.argv[3]), sys.argv[4] or None)))"
    )
    with tempfile.TemporaryDirectory(prefix="bench-neardup-") as tmp:
        state = str(Path(tmp) / "neardup.sqlite") if on_disk else ""
        out = subprocess.run(
            [sys.executable, "-c", code, str(root), str(Path(__file__).parent), str(versions), state],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return json.loads(out.splitlines()[-1])


def show(label: str, result: dict[str, float]) -> None:
    disk = f", {result['disk_mib_per_100k']:.0f} MiB on disk" if result["disk_mib_per_100k"] else ""
    print(
        f"{label}: {result['rss_mib_per_100k']:.1f} MiB resident per 100k versions (growth over the second "
        f"half; {result['rss_mib_total']:.1f} MiB in all){disk}; "
        f"{result['ms_per_assign']:.2f} CPU ms an assignment ({result['versions']:,} versions, "
        f"{result['copies']:,} near copies)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=20_000)
    parser.add_argument("--before", default=None, help="git revision whose corpus package to measure too")
    args = parser.parse_args()
    if args.before:
        with tempfile.TemporaryDirectory(prefix="bench-corpus-before-") as tmp:
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", args.before, "corpus"], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            for package in ("relevance", "archive"):  # what corpus imports, as it is now
                (Path(tmp) / package).symlink_to(REPO / package)
            show(f"before ({args.before}, in memory)", run(args.versions, Path(tmp), on_disk=False))
    show("now, SQLite in the spool", run(args.versions, REPO, on_disk=True))
    show("now, SQLite in memory (evaluation)", run(args.versions, REPO, on_disk=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
