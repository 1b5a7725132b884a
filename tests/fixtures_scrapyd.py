"""A real scrapyd on 127.0.0.1, started with scripts/scrapyd.sh from the project's venv, for deploy/schedule tests.

Load it as a pytest plugin (``pytest_plugins = ["tests.fixtures_scrapyd"]``). ``scrapyd`` (session scope) is
a running server on a free port with its own working directory (config, eggs, logs, dbs); ``deployed``
is the same server with the project deployed by ``scrapyd-deploy`` from a copy of the repository whose
scrapy.cfg names that port (so the repository gets no build leftovers and the real deploy command runs).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROJECT = "libya"
# What the egg is built from (pyproject.toml's package list, plus its readme).
PROJECT_FILES = (
    "crawler",
    "spiders",
    "archive",
    "reporting",
    "devtools",
    "extraction",
    "relevance",
    "corpus",
    "newsroom",
    "sources",
)
PROJECT_TOP = ("setup.py", "pyproject.toml", "README.md")
STARTUP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Scrapyd:
    """One scrapyd process and helpers for its JSON API."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.output = home / "scrapyd.out"

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCRAPY_SETTINGS_MODULE")}
        env.update(SCRAPYD_HOME=str(self.home), SCRAPYD_PORT=str(self.port), VENV=str(BIN.parent))
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [str(REPO / "scripts" / "scrapyd.sh")],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"scrapyd exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if self.get("daemonstatus.json").get("status") == "ok":
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"scrapyd did not answer on {self.url} within {STARTUP_SECONDS}s:\n{self.tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def tail(self, lines: int = 40) -> str:
        if not self.output.exists():
            return ""
        return "\n".join(self.output.read_text(errors="replace").splitlines()[-lines:])

    # --- API ---------------------------------------------------------------------------------------------

    def get(self, endpoint: str, **params: str) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/{endpoint}{query}", timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    def deploy(self, workdir: Path, version: str = "1") -> subprocess.CompletedProcess[str]:
        """Copy the project to ``workdir`` with a scrapy.cfg target for this server; run scrapyd-deploy."""
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for name in PROJECT_FILES:
            shutil.copytree(REPO / name, workdir / name, ignore=ignore)
        for name in PROJECT_TOP:
            shutil.copy2(REPO / name, workdir / name)
        (workdir / "scrapy.cfg").write_text(
            f"[settings]\ndefault = crawler.settings\n\n[deploy:test]\nurl = {self.url}/\nproject = {PROJECT}\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCRAPY_SETTINGS_MODULE")}
        return subprocess.run(
            [str(BIN / "scrapyd-deploy"), "test", "-v", version],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def schedule(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``scrapy schedule --url <this server> ARGS`` from the repository, as an operator would."""
        return subprocess.run(
            [str(BIN / "scrapy"), "schedule", "--url", self.url, *args],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def job_state(self, jobid: str) -> str | None:
        """ "pending", "running", "finished" or None (unknown job)."""
        jobs = self.get("listjobs.json", project=PROJECT)
        for state in ("pending", "running", "finished"):
            if any(job.get("id") == jobid for job in jobs.get(state, [])):
                return state
        return None

    def wait(self, jobid: str, deadline_seconds: float = 900.0) -> dict[str, Any]:
        """Poll listjobs.json until the job is finished; return its entry (the deadline only stops a hang)."""
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            jobs = self.get("listjobs.json", project=PROJECT)
            for job in jobs.get("finished", []):
                if job.get("id") == jobid:
                    return dict(job)
            time.sleep(0.5)
        raise RuntimeError(f"job {jobid} did not finish:\n{self.log(jobid)[-4000:]}\n{self.tail()}")

    def log(self, jobid: str, spider: str = "libya") -> str:
        path = self.home / "logs" / PROJECT / spider / f"{jobid}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


@pytest.fixture(scope="session")
def scrapyd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrapyd]:
    server = Scrapyd(tmp_path_factory.mktemp("scrapyd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def deployed(scrapyd: Scrapyd, tmp_path_factory: pytest.TempPathFactory) -> Scrapyd:
    result = scrapyd.deploy(tmp_path_factory.mktemp("deploy") / "project")
    assert result.returncode == 0, result.stdout + result.stderr
    return scrapyd


__all__ = ["Scrapyd", "deployed", "free_port", "scrapyd"]
