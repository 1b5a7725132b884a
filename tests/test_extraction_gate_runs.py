"""The real-page gate of `make test`: without the eval data it says it did not run; under CI that is an error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_gate(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EVALDATA_DIR": str(tmp_path / "no-evaldata"), "CI": ci}
    return subprocess.run(
        [sys.executable, "bench/eval_extraction.py", "--gate"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_missing_evaldata_is_reported_not_silent(tmp_path: Path) -> None:
    done = run_gate(tmp_path, "")
    assert done.returncode == 0, done.stderr
    assert "real-page gate NOT RUN" in done.stdout


def test_missing_evaldata_fails_under_ci(tmp_path: Path) -> None:
    done = run_gate(tmp_path, "true")
    assert done.returncode == 1
    assert "CI=true" in done.stderr
