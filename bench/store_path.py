"""CPU seconds of the store path: small objects put directly and through the spool, one WARC through the spool.

    .venv/bin/python bench/store_path.py [SMALL_OBJECTS] [WARC_MIB]     (default 2000 objects, 200 MiB)

Into a FileStore in a temporary directory. To compare with an older tree, run this file with
``PYTHONPATH=<that tree>`` (it imports ``archive.storage`` where ``archive.store`` does not exist yet).
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

try:
    from archive.store import open_store
except ImportError:  # a tree from before archive/store/
    from archive.storage import open_store  # type: ignore[no-redef]
from archive.spool import Spool


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(small: int, warc_mib: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="store-path-"))
    try:
        store = open_store(str(work / "archive"))
        data = [os.urandom(3000) for _ in range(small)]
        start = cpu()
        for i, blob in enumerate(data):
            store.put_bytes(f"text/s/2024/05/{i:06d}.json", blob)
        direct = cpu() - start
        spool = Spool(work / "spool", store, start=False)
        start = cpu()
        for i, blob in enumerate(data):
            spool.add_bytes(f"text/t/2024/05/{i:06d}.txt", blob)
        spool.start()
        left = spool.drain(600)
        spool.close()
        spooled = cpu() - start
        warc = work / "big.warc.gz"
        warc.write_bytes(os.urandom(warc_mib * 1024 * 1024))
        spool = Spool(work / "spool2", store, start=False)
        start = cpu()
        spool.add_file("warc/c/big.warc.gz", warc)
        spool.start()
        spool.drain(600)
        spool.close()
        whole = cpu() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{small} small objects put directly: {direct:.2f} CPU s; through the spool: {spooled:.2f} CPU s "
        f"({left.count} left); one {warc_mib} MiB WARC through the spool: {whole:.2f} CPU s"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000, int(sys.argv[2]) if len(sys.argv) > 2 else 200)
