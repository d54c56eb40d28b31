"""``s3tui put --from CMD``: run the command that writes the stream, so its exit status decides.

Behind a bare pipe (``pg_dump | s3tui put -``) a producer that dies mid-dump closes the pipe
exactly as one that finished does, and a truncated dump would replace a good backup. When s3tui
starts the command itself it can wait for it: the upload completes only if the command exits 0.

The command runs under ``bash -o pipefail -c`` (so a failing first stage of ``pg_dump | gzip``
counts), in a session of its own: a stop signals its whole process group, SIGTERM first and
SIGKILL after a grace period, and it cannot stop on a terminal it does not own. Its stderr is
drained by a thread of its own and handed on as ``stderr`` events of the job's
:class:`~s3tui.engine.progress.Progress` through a bounded queue, so a slow or closed stderr of
s3tui never blocks the command (lines that do not fit are counted and reported as dropped).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from s3tui.engine.progress import STDERR_EVENT, EventKind, Progress

LABEL = "command"
GRACE = 3.0  # seconds between SIGTERM and SIGKILL to the command's process group
MAX_LINE = 8192  # a longer stderr "line" (e.g. a progress meter without newlines) is split
QUEUE_LINES = 10_000  # stderr lines waiting for the reporter before new ones are dropped
FLUSH_WAIT = 2.0  # at the end: how long the command's last stderr lines may take to be shown


@dataclass(frozen=True)
class Shell:
    argv: tuple[str, ...]  # the command string is appended
    pipefail: bool


def find_shell(which: Callable[[str], str | None] = shutil.which) -> Shell:
    """bash with pipefail; else ``sh``, with pipefail only if that sh accepts it (dash does not)."""
    bash = which("bash")
    if bash:
        return Shell((bash, "-o", "pipefail", "-c"), True)
    sh = which("sh") or "/bin/sh"
    try:
        probe = subprocess.run(
            [sh, "-o", "pipefail", "-c", ":"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
        )
        ok = probe.returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return Shell((sh, "-o", "pipefail", "-c") if ok else (sh, "-c"), ok)


def describe_exit(returncode: int) -> str | None:
    """None for success, else one line on how the command failed (as ``Popen.returncode``)."""
    if returncode == 0:
        return None
    if returncode < 0:
        return f"the command was killed by {_signal_name(-returncode)}"
    hint = ""
    if returncode == 127:
        hint = " (command not found)"
    elif returncode == 126:
        hint = " (command found but not executable)"
    elif 128 < returncode <= 128 + 64:
        # What a shell reports for a pipeline stage (or the command it ran) killed by a signal.
        hint = f" (likely killed by {_signal_name(returncode - 128)})"
    return f"the command exited with status {returncode}{hint}"


def _signal_name(n: int) -> str:
    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"


def command_label(command: str) -> str:
    """What the dashboard shows as the source: the program's name only, never its arguments
    (a command line may carry a password, e.g. ``mysqldump -pSECRET``)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    for word in words:
        if "=" in word.split("/")[0]:  # VAR=value before the program
            continue
        name = os.path.basename(word)
        if name:
            return f"{name} (--from)"
    return "command (--from)"


class CommandProducer:
    """A :class:`~s3tui.engine.stream.Producer`: the command whose stdout is the stream.

    Make it, pass :attr:`stdout_fd` to the job as its source, then :meth:`start` it with the
    job's progress model and stop flag (a stop of the job must not hang in :meth:`finished`).
    """

    def __init__(
        self,
        command: str,
        *,
        stdin: int = subprocess.DEVNULL,
        shell: Shell | None = None,
        grace: float = GRACE,
    ) -> None:
        self.command = command
        self.shell = shell or find_shell()
        self.grace = grace
        self._stdin = stdin
        self.stdout_fd, self._stdout_w = os.pipe()  # both close-on-exec; the child gets a dup
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop_flag: threading.Event | None = None
        self._progress: Progress | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._stdout_closed = False
        self._lines: queue.Queue[str | None] = queue.Queue(QUEUE_LINES)
        self._dropped = 0
        self._drainer: threading.Thread | None = None
        self._teller: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, progress: Progress, stop_flag: threading.Event) -> None:
        """Start the command. Raises OSError if the shell cannot be started."""
        self._progress, self._stop_flag = progress, stop_flag
        if not self.shell.pipefail:
            progress.event(
                EventKind.WARNING,
                LABEL,
                reason=f"bash not found: the command runs under {self.shell.argv[0]}, which has"
                " no pipefail: only the last stage of a pipeline can fail the upload",
            )
        try:
            self._proc = subprocess.Popen(
                [*self.shell.argv, self.command],
                stdin=self._stdin,
                stdout=self._stdout_w,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group; no terminal to stop on
            )
        finally:
            os.close(self._stdout_w)  # the child holds the write end: its exit is our EOF
            self._stdout_w = -1
        assert self._proc.stderr is not None
        self._drainer = threading.Thread(
            target=self._drain, args=(self._proc.stderr.fileno(),), name="s3tui-cmd-stderr"
        )
        self._teller = threading.Thread(target=self._tell, name="s3tui-cmd-stderr-out")
        self._drainer.daemon = self._teller.daemon = True
        self._drainer.start()
        self._teller.start()

    # --- the Producer protocol ---
    def finished(self) -> str | None:
        """Wait for the command's exit (the stop flag ends the wait); its failure in one line."""
        proc = self._proc
        if proc is None:
            return "the command was not started"
        while True:
            try:
                returncode = proc.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                if self._stop_flag is not None and self._stop_flag.is_set():
                    return "the upload was stopped before the command ended"
        self._flush()
        return describe_exit(returncode)

    def stop(self) -> None:
        """Stop what is left of the command's process group (SIGTERM, then SIGKILL), reap it
        and close its pipes. Idempotent. After a success only background processes the command
        left in its group are left to stop: s3tui leaves nothing of the command running."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        proc = self._proc
        if proc is None:
            if self._stdout_w >= 0:  # never started: the write end is still ours
                os.close(self._stdout_w)
                self._stdout_w = -1
        else:
            if proc.poll() is None or _group_alive(proc.pid):
                self._kill_group(proc)
            self._flush()
            # Not under a drainer still reading it (its number could be reused at once).
            if proc.stderr is not None and not (self._drainer and self._drainer.is_alive()):
                with contextlib.suppress(OSError):
                    proc.stderr.close()
        self._close_stdout()

    # --- internals ---
    def _close_stdout(self) -> None:
        if not self._stdout_closed:  # once: the number may name another file afterwards
            self._stdout_closed = True
            with contextlib.suppress(OSError):
                os.close(self.stdout_fd)

    def _kill_group(self, proc: subprocess.Popen[bytes]) -> None:
        _signal_group(proc.pid, signal.SIGTERM)
        # A writer that ignores SIGTERM gets SIGPIPE (or EPIPE) at its next write instead.
        self._close_stdout()
        end = time.monotonic() + self.grace
        while time.monotonic() < end:
            if proc.poll() is not None and not _group_alive(proc.pid):
                return
            time.sleep(0.05)
        _signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def _drain(self, fd: int) -> None:
        """Read the command's stderr until EOF, whatever happens to the lines afterwards."""
        pending = b""
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                break
            pending += data
            while True:
                cut = pending.find(b"\n")
                if cut < 0:
                    if len(pending) < MAX_LINE:
                        break
                    cut = MAX_LINE - 1
                self._queue(pending[: cut + 1])
                pending = pending[cut + 1 :]
        if pending:
            self._queue(pending)
        with contextlib.suppress(queue.Full):
            self._lines.put(None, timeout=FLUSH_WAIT)

    def _queue(self, raw: bytes) -> None:
        line = raw.rstrip(b"\n").rstrip(b"\r").decode(errors="replace")
        try:
            self._lines.put_nowait(line)
        except queue.Full:
            self._dropped += 1

    def _tell(self) -> None:
        """Hand lines to the progress model; a reporter whose output fails loses them, only."""
        assert self._progress is not None
        while (line := self._lines.get()) is not None:
            with contextlib.suppress(Exception):
                self._progress.event(STDERR_EVENT, LABEL, reason=line)
        if self._dropped:
            with contextlib.suppress(Exception):
                self._progress.event(
                    EventKind.WARNING,
                    LABEL,
                    reason=f"{self._dropped} lines of the command's stderr were dropped: "
                    "s3tui's own stderr was not keeping up",
                )

    def _flush(self) -> None:
        """Let the command's last stderr lines (often its error message) be shown before the
        result; bounded, as a leftover background process may hold stderr open."""
        for thread in (self._drainer, self._teller):
            if thread is not None:
                thread.join(FLUSH_WAIT)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """Does a process of the group still run? Zombies do not count: an orphaned member is
    reaped by init, which in a container may never happen."""
    try:
        names = os.listdir("/proc")
    except OSError:
        names = []
    if not names:  # no procfs: signal 0 (counts zombies, so a stop may wait out the grace)
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False
