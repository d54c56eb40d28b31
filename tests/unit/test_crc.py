"""s3tui.engine.crc: the crc32c extension loaded on its own gives the package's answers."""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
from pathlib import Path

import crc32c as package
import pytest

from s3tui.engine import crc


def test_extension_is_loaded_and_agrees_with_the_package(tmp_path: Path) -> None:
    fn = crc._from_extension()
    assert fn is not None, "the crc32c package's layout changed: the fast load fell back"
    # The module in use is the one loaded alone, not the package's registered submodule.
    assert crc.crc32c.__self__ is not sys.modules["crc32c._crc32c"]  # type: ignore[attr-defined]
    data = os.urandom(3 * 1024 * 1024 + 17)
    assert fn(data) == package.crc32c(data)
    assert fn(data[1000:], fn(data[:1000])) == package.crc32c(data)  # continues a value
    assert fn(b"") == 0
    f = tmp_path / "chunk"
    f.write_bytes(data)
    with open(f, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert fn(m) == package.crc32c(data)  # the stream hashes chunk files through mmap
        assert fn(memoryview(m)[5:50]) == package.crc32c(data[5:50])


def test_falls_back_to_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crc, "_from_extension", lambda: None)
    assert crc._load() is package.crc32c

    def broken() -> None:
        raise ImportError("layout changed")

    monkeypatch.setattr(crc, "_from_extension", broken)
    assert crc._load() is package.crc32c


def test_import_skips_importlib_metadata() -> None:
    code = (
        "import sys; from s3tui.engine.crc import crc32c; "
        "print(crc32c(b'123456789'), 'importlib.metadata' in sys.modules, 'crc32c' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(0xE3069283), "False", "False"]
