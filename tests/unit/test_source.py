import os
import threading
from pathlib import Path

import crc32c
import pytest

from s3tui.engine.source import Stopped, StreamSource, file_crc32c


def _feed(data: bytes) -> int:
    r, w = os.pipe()

    def writer() -> None:
        with os.fdopen(w, "wb") as f:
            f.write(data)

    threading.Thread(target=writer, daemon=True).start()
    return r


@pytest.mark.parametrize("kind", ["pipe", "file"])
def test_fill_chunks_with_crc(kind: str, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    if kind == "pipe":
        src_fd = _feed(data)
    else:
        (tmp_path / "in").write_bytes(data)
        src_fd = os.open(tmp_path / "in", os.O_RDONLY)
    read: list[int] = []
    src = StreamSource(src_fd, "stdin", threading.Event(), read.append)
    assert src.is_pipe == (kind == "pipe")
    out = []
    for i in range(3):
        fd = os.open(tmp_path / f"c{i}", os.O_RDWR | os.O_CREAT, 0o600)
        n, crc, eof = src.fill(fd, 2 * 1024 * 1024)
        os.close(fd)
        chunk = (tmp_path / f"c{i}").read_bytes()
        assert len(chunk) == n and crc == crc32c.crc32c(chunk)
        out.append(chunk)
        if eof:
            break
    assert b"".join(out) == data and sum(read) == len(data)
    os.close(src_fd)


def test_stop_while_the_producer_is_silent(tmp_path: Path) -> None:
    r, w = os.pipe()  # nobody writes
    stop = threading.Event()
    src = StreamSource(r, "stdin", stop, lambda n: None)
    threading.Timer(0.3, stop.set).start()
    fd = os.open(tmp_path / "c", os.O_RDWR | os.O_CREAT, 0o600)
    with pytest.raises(Stopped):
        src.fill(fd, 1024)
    for f in (fd, r, w):
        os.close(f)


def test_file_crc_of_empty_file(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "e", os.O_RDWR | os.O_CREAT, 0o600)
    assert file_crc32c(fd, 0) == 0
    os.close(fd)
