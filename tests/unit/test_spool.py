import os
import stat
import threading
from pathlib import Path

import pytest

from s3tui.engine.spool import Spool
from s3tui.errors import UploadError


def test_private_permissions_and_cleanup(tmp_path: Path) -> None:
    spool = Spool(tmp_path, limit=100)
    assert stat.S_IMODE(spool.dir.stat().st_mode) == 0o700
    fd, path = spool.create("part-00001")
    os.write(fd, b"secret")
    os.close(fd)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    spool.cleanup()
    assert not spool.dir.exists()


def test_reservation_blocks_until_space_is_freed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, limit=100)
    stop = threading.Event()
    assert spool.reserve(60, stop)
    fd, path = spool.create("a")
    os.close(fd)
    got: list[bool] = []
    t = threading.Thread(target=lambda: got.append(spool.reserve(60, stop)))
    t.start()
    t.join(0.4)
    assert t.is_alive()  # 60 + 60 > 100: backpressure
    spool.remove(path, 60)
    t.join(2)
    assert got == [True]
    assert spool.usage()[0] == 60


def test_one_oversized_chunk_is_allowed_when_empty(tmp_path: Path) -> None:
    spool = Spool(tmp_path, limit=10)
    assert spool.reserve(50, threading.Event())


def test_stop_releases_a_waiting_reader(tmp_path: Path) -> None:
    spool = Spool(tmp_path, limit=10)
    stop = threading.Event()
    spool.reserve(10, stop)
    stop.set()
    assert spool.reserve(10, stop) is False


def test_unwritable_base_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UploadError, match="--spool-dir"):
        Spool(blocker / "sub", limit=10)
