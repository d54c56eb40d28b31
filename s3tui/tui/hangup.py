"""A dashboard that survives its terminal going away (SIGHUP: the ssh session dropped).

Once the terminal hangs up, every write to it fails with EIO. Textual's output thread dies on
the first such error and the app then blocks for good on its full write queue while shutting
down, so the upload's stop path would run but the process would never exit. Writes to a
terminal that is gone are dropped instead: the app shuts down and the exit code is SIGHUP's.
"""

from __future__ import annotations

import os
from typing import IO, Any

from textual.driver import Driver


class _DropWhenGone:
    """A text stream that drops writes once the terminal is gone, and reads through."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._out.write(text)
            except OSError:  # EIO: hung up
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._out.flush()
            except OSError:
                self.gone = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._out, name)


def driver_class() -> type[Driver] | None:
    """Textual's own POSIX driver, made to outlive a hang-up; None where it is not used."""
    if os.name != "posix":
        return None
    from textual.drivers.linux_driver import LinuxDriver

    class HangUpSafeDriver(LinuxDriver):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._file = _DropWhenGone(self._file)  # type: ignore[assignment]

    return HangUpSafeDriver
