"""Reading local files (engine/localfile.py). A small file is read whole and checked against its
listing once the read ended: a change before or during the read fails the file with a reason,
and nothing is sent for it. A file whose size says 0 (procfs) is read to its end, bounded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from s3tui.engine import localfile
from s3tui.engine.localfile import CHANGED, FileProblem, read_unchanged
from s3tui.engine.walk import Entry


def _listed(path: Path) -> Entry:
    st = path.stat()
    return Entry(str(path), path.name, path.name, st.st_size, st.st_mtime_ns)


def test_an_unchanged_file_is_read_whole(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"x" * 70_000)
    assert read_unchanged(_listed(p)) == b"x" * 70_000
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert read_unchanged(_listed(empty)) == b""


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
    with pytest.raises(FileProblem) as info:
        read_unchanged(entry)
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
    with pytest.raises(FileProblem) as info:
        read_unchanged(entry)
    assert info.value.reason == "unreadable"
    assert "cannot read" in str(info.value)


@pytest.mark.skipif(not Path("/proc/version").is_file(), reason="needs procfs")
def test_a_file_whose_size_says_0_is_read_to_its_end() -> None:
    """/proc files list as size 0 and have content: reading only the listed 0 bytes stored an
    empty object for `put /proc/cpuinfo`."""
    p = Path("/proc/version")
    entry = _listed(p)
    assert entry.size == 0
    data = read_unchanged(entry)
    assert data and data == p.read_bytes()


def test_a_real_empty_file_that_grows_after_listing_is_changed(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"")
    entry = _listed(p)
    p.write_bytes(b"appeared later")
    with pytest.raises(FileProblem) as info:
        read_unchanged(entry)
    assert info.value.reason == "changed" and "size 0 -> 14" in str(info.value)


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="needs procfs")
def test_a_size_0_file_is_read_only_up_to_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(localfile, "PSEUDO_MAX", 64)
    entry = _listed(Path("/proc/self/maps"))  # thousands of bytes, size 0
    with pytest.raises(FileProblem) as info:
        read_unchanged(entry)
    assert info.value.reason == "unreadable"
    assert "size says 0 but it holds more than 64 B" in str(info.value)


SYSFS = Path("/sys/kernel/mm/transparent_hugepage/enabled")


@pytest.mark.skipif(not SYSFS.is_file(), reason="needs this sysfs attribute")
def test_a_sysfs_attribute_that_ends_before_its_size_is_read_as_it_is() -> None:
    """sysfs lists 4096 bytes and holds a few: it failed as 'changed while being uploaded'."""
    entry = _listed(SYSFS)
    assert entry.size == 4096
    data = read_unchanged(entry)
    assert data == SYSFS.read_bytes() and 0 < len(data) < 4096
