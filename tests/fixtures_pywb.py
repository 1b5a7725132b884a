"""pytest plugin: a real pywb replay server over given WARC files, on 127.0.0.1 with a port the OS picks.

pywb lives in its own virtual environment (``.pywb-venv``, made by ``scripts/pywb-venv.sh``; its pins clash
with the main one). The session fixture ``pywb_venv`` runs that idempotent script, so a fresh machine gets
the venv on first use. ``pywb_replay(warc_files)`` makes a collection with ``wb-manager init/add`` in a
temporary directory, starts pywb's WSGI app on port 0 (a tiny launcher prints the bound port, so there is
no pick-a-free-port race), waits until it answers, and stops it after the test.

Enable with ``pytest_plugins = ["tests.fixtures_pywb"]`` in a test module or conftest.
Env: ``PYWB_VENV`` overrides the venv location.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Runs inside .pywb-venv: serve the collections under the working directory, print the port, serve forever.
_LAUNCHER = """
from gevent.monkey import patch_all; patch_all()
import sys
from pywb.apps.frontendapp import FrontEndApp
from pywb.utils.geventserver import GeventServer, RequestURIWSGIHandler
app = FrontEndApp()
server = GeventServer(app, port=0, hostname="127.0.0.1", handler_class=RequestURIWSGIHandler, direct=False)
print("PORT", server.port, flush=True)
server.join()
"""


@dataclass(frozen=True)
class PywbServer:
    """A running pywb: ``url(ts, mode, target)`` builds ``/<coll>/<ts><mode>/<target>``."""

    base_url: str
    port: int
    coll: str
    directory: Path

    def url(self, ts: str, mode: str, target: str) -> str:
        return f"{self.base_url}/{self.coll}/{ts}{mode}/{target}"


def _venv_dir() -> Path:
    return Path(os.environ.get("PYWB_VENV", ROOT / ".pywb-venv"))


@pytest.fixture(scope="session")
def pywb_venv() -> Path:
    """The pywb virtual environment, created by scripts/pywb-venv.sh when missing."""
    venv = _venv_dir()
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "pywb-venv.sh"), str(venv)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"scripts/pywb-venv.sh failed:\n{result.stdout}\n{result.stderr}"
    return venv


def _wait_until_up(proc: subprocess.Popen[str], base_url: str) -> None:
    # pywb answers its home page once the app is loaded; poll it (bounded by attempts, not by a timer).
    last_error: Exception | None = None
    for _ in range(300):
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(base_url + "/", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last_error = exc
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.1)  # a pause between attempts that also notices an early exit
    raise RuntimeError(f"pywb did not come up at {base_url}: {last_error}")


def _launch(
    bin_dir: Path,
    directory: Path,
    coll: str,
    procs: list[subprocess.Popen[str]],
    logs: list[IO[str]],
    extra_env: dict[str, str] | None = None,
) -> PywbServer:
    """pywb with ``directory`` as its working directory (its config.yaml, if any, is used)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **(extra_env or {})}
    log = (directory / "wayback.log").open("w")
    logs.append(log)
    proc = subprocess.Popen(
        [str(bin_dir / "python"), "-c", _LAUNCHER],
        cwd=directory,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    procs.append(proc)
    assert proc.stdout is not None
    # pywb may print notices (e.g. no config.yaml: defaults are used) before the launcher's port line.
    line = proc.stdout.readline()
    for _ in range(50):
        if line.startswith("PORT ") or not line:
            break
        line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"pywb failed to start: {line!r}; see {directory / 'wayback.log'}")
    port = int(line.split()[1])
    base_url = f"http://127.0.0.1:{port}"
    _wait_until_up(proc, base_url)
    return PywbServer(base_url=base_url, port=port, coll=coll, directory=directory)


def _stop(procs: list[subprocess.Popen[str]], logs: list[IO[str]]) -> None:
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    for log in logs:
        log.close()


@pytest.fixture
def pywb_in(pywb_venv: Path) -> Iterator[Callable[..., PywbServer]]:
    """Factory: ``pywb_in(directory, coll, env=None)`` -> pywb running in ``directory`` with its own
    config.yaml (``env``: more environment variables, e.g. the AWS_* of an S3 archive path)."""
    procs: list[subprocess.Popen[str]] = []
    logs: list[IO[str]] = []
    yield lambda directory, coll, env=None: _launch(pywb_venv / "bin", directory, coll, procs, logs, env)
    _stop(procs, logs)


@pytest.fixture
def pywb_replay(
    pywb_venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., PywbServer]]:
    """Factory: ``pywb_replay(warc_files, coll="test")`` -> a running ``PywbServer`` replaying them."""
    procs: list[subprocess.Popen[str]] = []
    logs: list[IO[str]] = []
    bin_dir = pywb_venv / "bin"

    def start(warc_files: Sequence[Path], coll: str = "test", cdxj_files: Sequence[Path] = ()) -> PywbServer:
        directory = tmp_path_factory.mktemp("pywb")
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        subprocess.run(
            [str(bin_dir / "wb-manager"), "init", coll],
            cwd=directory,
            env=env,
            check=True,
            capture_output=True,
        )
        if cdxj_files:
            # Use the given indexes as they are: copy the WARCs into the collection, the CDXJ into indexes/.
            for path in warc_files:
                shutil.copy(path, directory / "collections" / coll / "archive" / Path(path).name)
            for path in cdxj_files:
                shutil.copy(path, directory / "collections" / coll / "indexes" / Path(path).name)
        else:
            subprocess.run(
                [str(bin_dir / "wb-manager"), "add", coll, *[str(p) for p in warc_files]],
                cwd=directory,
                env=env,
                check=True,
                capture_output=True,
            )
        return _launch(bin_dir, directory, coll, procs, logs)

    yield start
    _stop(procs, logs)
