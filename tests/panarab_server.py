"""The generated pan-Arab site (``newsroom.panarab``) served by ``newsroom.bigsite serve`` in a child process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newsroom.panarab import PanArabSite
from tests.crawling import REPO, scrapy_env


@contextmanager
def serve_panarab(articles: int, workdir: Path, libya_percent: int = 4) -> Iterator[tuple[Path, PanArabSite]]:
    """Serve one pan-Arab site until the block ends; yields its hand-written sources file and the site."""
    sources = workdir / "sources.yaml"
    cmd = [sys.executable, "-m", "newsroom.bigsite", "serve", "--articles", str(articles), "--sites", "1"]
    cmd += ["--gated-share", "0", "--libya-percent", str(libya_percent), "--sources-out", str(sources)]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=scrapy_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        base = ""
        for raw in proc.stdout:
            line = raw.decode()
            if line.startswith("big01 "):
                base = line.split()[1]
            if line.strip() == "READY":
                break
        assert base, "the pan-Arab site did not start"
        yield sources, PanArabSite("big01", 0, articles, libya_percent=libya_percent, base_url=base)
    finally:
        proc.terminate()
        proc.wait(10)
