"""Headless progress carries the ETA when the size is known (--expected-size, files, trees), on
the line and in --json, and none when it is not."""

from __future__ import annotations

from s3tui.live.model import snapshot_from
from s3tui.report.headless import progress_dict, progress_line

MB = 1_000_000


def test_eta_when_the_size_is_known_and_none_when_it_is_not() -> None:
    running = {"phase": "running", "bytes_read": 60 * MB, "bytes_uploaded": 40 * MB}
    rate = 2 * MB
    stream = snapshot_from({**running, "expected_size": 100 * MB})  # 60 MB left at 2 MB/s
    assert progress_line(stream, rate).endswith("ETA 30s")
    assert progress_dict(stream, rate)["eta_s"] == 30.0
    tree = snapshot_from({**running, "total_size": 400 * MB, "files_total": 9})
    assert progress_line(tree, rate).endswith("ETA 3m00s")
    assert progress_dict(tree, rate)["eta_s"] == 180.0
    unknown = snapshot_from(running)
    assert "ETA" not in progress_line(unknown, rate)
    assert "eta_s" not in progress_dict(unknown, rate)
