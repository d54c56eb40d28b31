"""Reading keys from the terminal while the data comes down a pipe.

Textual's Linux driver reads keys from file descriptor 0. With ``... | s3tui put - DEST --tui``,
fd 0 is the pipe, so the terminal must be put on fd 0 at the descriptor level before the app
starts (``sys.stdin = open("/dev/tty")`` changes nothing for the driver), keeping a duplicate
of the pipe for the engine. Nothing here imports Textual, so the CLI can decide cheaply.
"""

from __future__ import annotations

import os

from s3tui.errors import UsageError

TTY = "/dev/tty"


def terminal_available() -> bool:
    """True when the process has a controlling terminal (``isatty`` alone cannot tell: cron
    and CI have none, and opening /dev/tty then fails with ENXIO)."""
    try:
        fd = os.open(TTY, os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def swap_tty_onto_stdin() -> int:
    """Put the terminal on fd 0 and return a new fd that still reads the original stdin data.

    Raises :class:`~s3tui.errors.UsageError` when there is no terminal (``--tui`` from cron).
    """
    try:
        tty = os.open(TTY, os.O_RDWR)
    except OSError as e:
        raise UsageError(
            f"--tui needs a terminal, and {TTY} cannot be opened ({e.strerror}); "
            "drop --tui to run headless"
        ) from e
    try:
        data_fd = os.dup(0)
        os.dup2(tty, 0)
    finally:
        os.close(tty)
    return data_fd
