"""A small file is read whole and checked against its listing once the read ended: a change
before or during the read fails the file with a reason, and nothing is sent for it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from s3tui.engine.tree import CHANGED, _FileProblem, _read_unchanged
from s3tui.engine.walk import Entry


def _listed(path: Path) -> Entry:
    st = path.stat()
    return Entry(str(path), path.name, path.name, st.st_size, st.st_mtime_ns)


def test_an_unchanged_file_is_read_whole(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"x" * 70_000)
    assert _read_unchanged(_listed(p)) == b"x" * 70_000
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert _read_unchanged(_listed(empty)) == b""


@pytest.mark.parametrize(
    ("change", "reason", "how"),
    [
        (lambda p: p.write_bytes(b"hello world!"), "changed", "size 11 -> 12"),
        (lambda p: p.write_bytes(b"hello"), "changed", "size 11 -> 5"),
        # Same size, new content: only the mtime tells (set apart from the listing's).
        (
            lambda p: (p.write_bytes(b"HELLO WORLD"), os.utime(p, ns=(1, 1))),
            "changed",
            "modified",
        ),
        (lambda p: p.unlink(), "vanished", "vanished"),
    ],
)
def test_a_change_since_the_listing_fails_the_file(
    tmp_path: Path, change: object, reason: str, how: str
) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"hello world")
    entry = _listed(p)
    change(p)  # type: ignore[operator]
    with pytest.raises(_FileProblem) as info:
        _read_unchanged(entry)
    assert info.value.reason == reason
    assert how in str(info.value)
    if reason == "changed":
        assert CHANGED in str(info.value)


def test_a_read_error_is_reported_as_unreadable(tmp_path: Path) -> None:
    """(A directory where the file was: it opens, and the read fails with EISDIR, as root too.)"""
    p = tmp_path / "f"
    p.write_bytes(b"data")
    entry = _listed(p)
    p.unlink()
    p.mkdir()
    with pytest.raises(_FileProblem) as info:
        _read_unchanged(entry)
    assert info.value.reason == "unreadable"
    assert "cannot read" in str(info.value)
