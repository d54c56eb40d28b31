"""``s3tui verify``'s bad input: one line, exit 2, before any request."""

from __future__ import annotations

from pathlib import Path

import pytest

from s3tui.cli import main


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["-", "s3://bkt/k"], "not '-'"),
        (["{missing}", "s3://bkt/k"], "no such file or directory"),
        (["{file}", "bkt/k"], "not an S3 URL"),
        (["{file}", "s3://B/k"], "invalid bucket name"),
        (["{file}", "s3://bkt/k", "--concurrency", "0"], "--concurrency"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f").write_bytes(b"x")
    paths = {"missing": str(tmp_path / "nope"), "file": str(tmp_path / "f")}
    assert main(["verify", *(a.format(**paths) for a in argv)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
