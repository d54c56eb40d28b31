from pathlib import Path

import pytest

from s3tui.engine.body import REPORT_EVERY, FileRangeBody
from s3tui.engine.watchdog import DeadlineExceeded, Watchdog


def test_reads_the_range_and_counts_once_per_pass(tmp_path: Path) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB
    f = tmp_path / "src"
    f.write_bytes(data)
    sent: list[int] = []
    with FileRangeBody(f, 1000, 1_500_000, sent.append) as body:
        assert len(body) == 1_500_000
        first = body.read(8192)
        assert first == data[1000 : 1000 + len(first)]
        body.seek(0)  # botocore rewinds before sending
        assert sum(sent) == 0
        sent.clear()
        out = b""
        while chunk := body.read(8192):
            out += chunk
        assert out == data[1000:1_501_000]
        assert sum(sent) == 1_500_000
        assert all(n >= REPORT_EVERY for n in sent[:-1])  # coalesced, not per read


def test_read_fails_after_the_deadline(tmp_path: Path) -> None:
    f = tmp_path / "src"
    f.write_bytes(b"x" * 10)
    wd = Watchdog()
    with wd.guard(0.0) as guard, FileRangeBody(f, 0, 10) as body:
        guard.fire()
        with pytest.raises(DeadlineExceeded):
            body.read(5)
    wd.stop()


def test_shrunk_file_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "src"
    f.write_bytes(b"x" * 10)
    with FileRangeBody(f, 0, 20) as body:
        body.read(10)
        with pytest.raises(OSError, match="shrank"):
            body.read(10)
