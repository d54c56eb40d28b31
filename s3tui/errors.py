"""Errors a person can act on, each carrying the exit code it ends the process with."""

from __future__ import annotations

import signal

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SIGHUP = 129
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

# The signals that stop a job through its one stop path, with the exit code and the words for
# each. SIGHUP is what a headless upload gets when its ssh session drops.
STOP_SIGNALS: dict[int, tuple[int, str]] = {
    signal.SIGINT: (EXIT_SIGINT, "interrupted (Ctrl-C)"),
    signal.SIGTERM: (EXIT_SIGTERM, "terminated (SIGTERM)"),
    signal.SIGHUP: (EXIT_SIGHUP, "hung up (SIGHUP: the terminal or ssh session went away)"),
}


class S3tuiError(Exception):
    """Base: ``str(err)`` is the one line shown to the user, ``exit_code`` ends the process."""

    exit_code = EXIT_FAILED


class UsageError(S3tuiError):
    """Bad command-line input, caught before any data is read (exit 2)."""

    exit_code = EXIT_USAGE


class UploadError(S3tuiError):
    """The upload could not be completed; everything it started has been cleaned up (exit 1)."""


class Cancelled(S3tuiError):
    """Stopped by a signal or the user; the exit code says which."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
