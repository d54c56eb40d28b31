"""Errors a person can act on, each carrying the exit code it ends the process with."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


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
