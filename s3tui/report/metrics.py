"""``put --metrics-file PATH``: the result of the run in the Prometheus text exposition format,
for node_exporter's textfile collector (``--collector.textfile.directory``), the usual way the
result of a cron backup reaches alerting.

The file is rewritten whole at the end of every run, whatever the outcome (stored, failed, a
usage error, a stop by a signal): a temp file in the same directory, then ``os.replace``, so
the collector never reads half a file. It is 0644, not 0600 as s3tui's other files: the
collector runs as another user and must read it; it holds the bucket and the key and nothing
else of the run's setup (no endpoint, no credential). A SIGKILLed run cannot write it: the
``last_success`` timestamp going stale is what tells that (and a run that never started).

Written here rather than with prometheus-client: the format is a few lines of text, and the
tests parse the file with prometheus-client's parser, an implementation independent of this one.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from s3tui.engine.job import Result
from s3tui.errors import EXIT_FAILED, EXIT_SIGINT, S3tuiError

PREFIX = "s3tui_upload_"
LAST_SUCCESS = PREFIX + "last_success_timestamp_seconds"
FILE_MODE = 0o644  # node_exporter reads it as its own user

# name (after the prefix), HELP text. Every metric is a gauge: each is the value of one run.
HELP = {
    "success": "1 if the last run stored its upload (exit code 0), else 0.",
    "exit_code": "Exit code of the last run (0 ok, 1 failed, 2 usage, 129/130/143 signals).",
    "bytes": "Bytes the last run uploaded (a failed stream: what it read before it stopped; "
    "none of it is stored).",
    "duration_seconds": "How long the last run's upload took.",
    "retries": "Requests the last run retried.",
    "parts": "Parts (or files) the last run uploaded.",
    "files_failed": "Files of a directory upload that failed in the last run.",
    "start_timestamp_seconds": "When the last run started, in unix seconds.",
    "end_timestamp_seconds": "When the last run ended (completed or failed), in unix seconds.",
    "last_success_timestamp_seconds": "When a run writing this file last succeeded, in unix "
    "seconds (kept from the file's previous version by a failed run; absent before one).",
}


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(
    result: Result,
    labels: dict[str, str],
    started: float,
    ended: float,
    last_success: float | None,
) -> str:
    """The file's text: HELP, TYPE and one sample per metric, every sample with ``labels``."""
    values: dict[str, float | None] = {
        "success": 1 if result.ok else 0,
        "exit_code": result.exit_code,
        "bytes": result.size,
        "duration_seconds": round(result.seconds or (ended - started), 3),
        "retries": result.retries,
        "parts": result.parts,
        "files_failed": len(result.failed_files),
        "start_timestamp_seconds": round(started, 3),
        "end_timestamp_seconds": round(ended, 3),
        "last_success_timestamp_seconds": round(ended, 3) if result.ok else last_success,
    }
    text = ",".join(f'{k}="{_label_value(v)}"' for k, v in labels.items())
    text = f"{{{text}}}" if text else ""
    lines = []
    for name, value in values.items():
        if value is None:
            continue
        metric = PREFIX + name
        lines += [
            f"# HELP {metric} {HELP[name]}",
            f"# TYPE {metric} gauge",
            f"{metric}{text} {_number(value)}",
        ]
    return "\n".join(lines) + "\n"


_SAMPLE = re.compile(rf"^{LAST_SUCCESS}(?:\{{.*\}})?\s+(\S+)\s*$")


def previous_success(path: Path) -> float | None:
    """The last-success timestamp the file holds now (a run of the same job wrote it)."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in path.read_text().splitlines():
            m = _SAMPLE.match(line)
            if m:
                with contextlib.suppress(ValueError):
                    return float(m.group(1))
    return None


def write_atomically(path: Path, text: str) -> None:
    """A temp file in the same directory (same filesystem), fsynced, then renamed over."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), FILE_MODE)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass
class MetricsFile:
    """One run's ``--metrics-file``: :meth:`done` writes the result; :meth:`recording` writes
    a failure for a run that ended with an error before it had one."""

    path: Path
    started: float = field(default_factory=time.time)
    labels: dict[str, str] = field(default_factory=dict)
    written: bool = False

    def destination(self, bucket: str, key: str) -> None:
        self.labels = {"bucket": bucket, "key": key}

    def done(self, result: Result) -> None:
        """Write the file for ``result``; a write that fails is a warning (the run stands)."""
        try:
            ended = time.time()
            text = render(result, self.labels, self.started, ended, previous_success(self.path))
            write_atomically(self.path, text)
            self.written = True
        except OSError as e:
            print(
                f"s3tui: warning: --metrics-file {self.path}: cannot write it "
                f"({e.strerror or e}); monitoring will see no result for this run",
                file=sys.stderr,
            )

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Around the whole run: an error that ends it still leaves its result in the file."""
        try:
            yield
        except S3tuiError as e:
            self._failed(Result(e.exit_code, str(e)))
            raise
        except KeyboardInterrupt:
            self._failed(Result(EXIT_SIGINT, "interrupted"))
            raise
        except Exception as e:
            self._failed(Result(EXIT_FAILED, f"unexpected {type(e).__name__}: {e}"))
            raise

    def _failed(self, result: Result) -> None:
        if self.path.parent.is_dir():  # else the usage error says so; no second message
            self.done(result)
