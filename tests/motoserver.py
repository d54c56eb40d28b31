"""moto's server mode as a second S3 implementation for the integration tests.

moto follows AWS's API semantics (object lock, tagging, conditional writes, checksum types) where
SeaweedFS has its own reading of them; it does not verify checksums or credentials, so tests of
checksum rejection stay on SeaweedFS. Started like :class:`~s3tui.lab.LocalS3`: a subprocess on a
free loopback port, in its own process group, stopped by its PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def moto_available() -> bool:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoS3:
    """``python -m moto.server`` on 127.0.0.1; the same surface as LocalS3 for the tests."""

    region = "us-east-1"
    access_key = "s3tui-moto"
    secret_key = "s3tui-moto-secret"
    name = "moto"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.endpoint_url = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> MotoS3:
        from botocore.exceptions import BotoCoreError, ClientError

        self.workdir.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # the port may be taken between the check and moto's bind
            port = _free_port()
            self.endpoint_url = f"http://127.0.0.1:{port}"
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            with open(self.workdir / "moto.log", "ab") as log:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            probe = self.client(connect_timeout=1, read_timeout=3)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self._proc.poll() is None:
                try:
                    probe.list_buckets()
                    return self
                except (BotoCoreError, ClientError):
                    time.sleep(0.2)
            self.stop()
        raise RuntimeError("moto_server did not start: " + (self.workdir / "moto.log").read_text())

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def client(self, endpoint_url: str | None = None, **config_kwargs: Any) -> Any:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )
        return session.client(
            "s3",
            endpoint_url=endpoint_url or self.endpoint_url,
            config=Config(s3={"addressing_style": "path"}, **config_kwargs),
        )

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }
