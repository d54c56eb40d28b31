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


def _on_disk(spool: Spool) -> int:
    return sum(f.stat().st_size for f in spool.dir.iterdir())


def _chunk(spool: Spool, name: str, data: bytes, stop: threading.Event) -> Path:
    assert spool.reserve(len(data), stop)
    fd, path = spool.create(name)
    os.write(fd, data)
    spool.shrink(len(data), len(data), fd)
    os.close(fd)
    assert _on_disk(spool) <= spool.limit
    assert spool.usage()[0] == _on_disk(spool)
    return path


def test_a_stored_chunks_file_is_overwritten_by_the_next_chunk(tmp_path: Path) -> None:
    spool = Spool(tmp_path, limit=100)
    stop = threading.Event()
    first = _chunk(spool, "part-00001", b"A" * 40, stop)
    inode = first.stat().st_ino
    spool.remove(first, 40)
    assert spool.usage()[:2] == (40, 1)  # idle, still on disk
    second = _chunk(spool, "part-00002", b"bb", stop)  # shorter: the old tail is cut
    assert not first.exists()
    assert second.stat().st_ino == inode
    assert second.read_bytes() == b"bb"
    assert stat.S_IMODE(second.stat().st_mode) == 0o600
    spool.remove(second, 2)
    spool.last_chunk_written()
    assert list(spool.dir.iterdir()) == []
    third = _chunk(spool, "part-00003", b"c", stop)
    spool.remove(third, 1)  # after the last chunk: deleted, not kept
    assert list(spool.dir.iterdir()) == []
    assert spool.usage()[:2] == (0, 0)


def test_idle_files_and_reservations_never_pass_the_limit(tmp_path: Path) -> None:
    spool = Spool(tmp_path, limit=100)
    stop = threading.Event()
    paths = [_chunk(spool, f"part-{i}", b"x" * 30, stop) for i in range(3)]  # 90 reserved
    for p in paths:
        spool.remove(p, 30)
        assert _on_disk(spool) <= 100
        assert spool.usage()[0] == _on_disk(spool)
    assert len(list(spool.dir.iterdir())) == 3  # 3 x 30 fit under 100
    # Growing chunks: each reuses one idle file and deletes the idle ones that no longer fit.
    big = [_chunk(spool, f"big-{i}", b"y" * 45, stop) for i in range(2)]
    assert len(list(spool.dir.iterdir())) == 2
    spool.remove(big[0], 45)  # 45 reserved + 45 = 90 <= 100: kept
    assert big[0].exists()
    assert spool.usage()[:2] == (90, 2)
    spool.cleanup()
    assert not spool.dir.exists()
