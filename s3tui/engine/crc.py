"""CRC32C (hardware), from the ``crc32c`` package's C extension, loaded without its ``__init__``.

Why: ``import crc32c`` looks its own version up through ``importlib.metadata`` (which imports
``email``, ``zipfile``, ``csv``...): ~15-25 ms here, a sixth of the time before a tree's first
request and as much of a stream's start-up. The extension alone loads in under a millisecond. If
the package's layout ever changes, the plain import is used, so a newer ``crc32c`` costs only
those milliseconds back, never correctness.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

CRC32C = Callable[..., int]


def _from_extension() -> CRC32C | None:
    spec = importlib.util.find_spec("crc32c")  # finds the package; runs none of it
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder) / f"_crc32c{suffix}"
            if not path.is_file():
                continue
            # The name's last part must stay "_crc32c": it names the extension's init function.
            ext = importlib.util.spec_from_file_location("crc32c._crc32c", path)
            if ext is None or ext.loader is None:
                return None
            module: Any = importlib.util.module_from_spec(ext)
            ext.loader.exec_module(module)
            fn = getattr(module, "crc32c", None)
            return fn if callable(fn) else None
    return None


def _load() -> CRC32C:
    try:
        fn = _from_extension()
    except (ImportError, OSError, ValueError):  # ValueError: a module without a __spec__
        fn = None
    if fn is not None and fn(b"123456789") == 0xE3069283:  # the CRC-32C check value
        return fn
    import crc32c as package

    return package.crc32c


crc32c: CRC32C = _load()
"""``crc32c(data, value=0)``: the CRC32C of ``data`` (any buffer, mmap included), continuing
``value``."""
