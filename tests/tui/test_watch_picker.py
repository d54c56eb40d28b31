"""`s3tui watch` with no ID while several uploads run: a picker listing them as `ps` does; arrows
and enter choose the one to watch, q leaves them all running."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

from textual.widgets import DataTable

from s3tui.live import store
from s3tui.tui.picker import PickUpload

from .conftest import SIZE

IDS = ("aaaa1111", "bbbb2222", "cccc3333")


def _publish(base: Path, ident: str, uploaded: int, dest: str) -> None:
    """A running upload's state as a put publishes it (this test process is its live pid)."""
    (base / ident).mkdir(mode=0o700, exist_ok=True)
    state = {
        "id": ident,
        "pid": os.getpid(),
        "source": "stdin",
        "dest": dest,
        "started": time.time() - 60,
        "updated": time.time(),
        "bytes_uploaded": uploaded,
        "total_size": 40 << 20,
    }
    store.write_json(base / ident / "state.json", state)


def _several() -> Path:
    base = store.ensure_base()
    for i, ident in enumerate(IDS):
        _publish(base, ident, (i + 1) << 20, f"s3://bkt/db-{i}.gz")
    return base


async def test_arrows_and_enter_choose_an_upload_and_the_rows_stay_current() -> None:
    base = _several()
    app = PickUpload(store.entries(), refresh=0.2)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(DataTable)
        assert [str(k.value) for k in table.rows] == list(IDS)
        assert table.get_row("bbbb2222")[2] == "s3://bkt/db-1.gz"
        assert table.get_row("bbbb2222")[4] == "2 MiB / 40 MiB"
        _publish(base, "bbbb2222", 30 << 20, "s3://bkt/db-1.gz")  # it goes on meanwhile
        await pilot.pause(0.6)
        assert table.get_row("bbbb2222")[4] == "30 MiB / 40 MiB"
        await pilot.press("down", "down", "up")
        assert app.chosen_id() == "bbbb2222"  # the cursor stayed put through the refresh
        await pilot.press("enter")
    assert app.return_value == "bbbb2222"


async def test_q_chooses_none() -> None:
    _several()
    app = PickUpload(store.entries())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "q")
    assert app.return_value is None


def test_s3tui_watch_in_a_terminal_picks_then_watches_the_chosen_one(
    s3_env: dict[str, str],
) -> None:
    """The CLI's own path under a real pseudo-terminal: the picker, then the dashboard on the
    upload chosen, then q detaches from it."""
    from tests.integration.cli_runner import s3tui_cmd
    from tests.tui.test_tui_pty import _ANSI, COLS, ROWS, _become_tty_owner

    _several()
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    watch = subprocess.Popen(
        s3tui_cmd("watch"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=s3_env,
        start_new_session=True,
        preexec_fn=_become_tty_owner,
    )
    os.close(slave)
    out = bytearray()

    def screen() -> str:
        while select.select([master], [], [], 0.05)[0]:
            try:
                out.extend(os.read(master, 65536))
            except OSError:
                break
        return _ANSI.sub(b"", bytes(out)).decode("utf-8", errors="replace")

    def wait_for(text: str) -> None:
        deadline = time.monotonic() + 30
        while text not in screen():
            assert watch.poll() is None, screen()[-2000:]
            assert time.monotonic() < deadline, screen()[-2000:]

    try:
        wait_for("3 uploads are running: which one to watch?")
        wait_for("cccc3333")
        time.sleep(0.5)
        os.write(master, b"\x1b[B\x1b[B")  # down, down
        time.sleep(0.5)
        os.write(master, b"\r")
        wait_for("Parts in flight")
        time.sleep(0.5)
        os.write(master, b"q")
        deadline = time.monotonic() + 15
        while watch.poll() is None:
            screen()
            assert time.monotonic() < deadline, screen()[-2000:]
        text = screen()
    finally:
        if watch.poll() is None:
            watch.kill()
        os.close(master)
    assert watch.returncode == 0, text[-2000:]
    assert "detached from upload cccc3333; it goes on" in text
