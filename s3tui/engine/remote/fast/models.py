"""botocore's data loader, made cheap for a client that only ever speaks S3.

Why: making the S3 client was ~45% of a 1 KiB upload's start-up. Two costs in it do nothing for
s3tui: botocore lists every service it knows (~900 directory reads) to check that ``s3`` is one,
and it parses ~3.5 MB of JSON (the S3 model, its endpoint rules, and ``endpoints.json`` for every
AWS service) on each run.

* :class:`S3Loader` answers "which services exist" for ``s3`` alone, from the same search path.
* :class:`CachedJSONLoader` parses each model file once per botocore version and keeps the result
  as ``marshal`` data in the user's cache dir (0700; files 0600, written whole by rename), one
  entry per file, stamped with its size and mtime, botocore's version and Python's: any change
  means a reparse that overwrites the entry.
  ``endpoints.json`` is kept with the ``s3`` service only, the one an S3 client resolves.

Everything else is botocore's own code on the same files: a missing or unwritable cache only
costs the time it would have saved.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import marshal
import os
import sys
from pathlib import Path
from typing import Any

import botocore
import botocore.loaders

from s3tui.engine.remote.fast.cachefiles import cache_root, usable, write_whole

SERVICE = "s3"


def cache_dir() -> Path:
    return cache_root() / "botocore-models"


def _only_s3(endpoints: dict[str, Any]) -> dict[str, Any]:
    """``endpoints.json`` as an S3 client sees it: each partition whole, its services s3 only."""
    out = dict(endpoints)
    out["partitions"] = [
        {**p, "services": {k: v for k, v in p.get("services", {}).items() if k == SERVICE}}
        for p in endpoints.get("partitions", [])
    ]
    return out


_TRANSFORMS = {"endpoints": _only_s3}
_OPENERS = {".json": open, ".json.gz": gzip.open}


class CachedJSONLoader(botocore.loaders.JSONFileLoader):
    """botocore's JSON model loader with a parsed-once cache (plain dicts, which keep order)."""

    def __init__(self, directory: Path | None = None) -> None:
        self._dir = directory if directory is not None else cache_dir()
        self._usable: bool | None = None

    def load_file(self, file_path: str) -> Any:
        for ext, opener in _OPENERS.items():
            full = file_path + ext
            try:
                st = os.stat(full)
            except OSError:
                continue
            transform = _TRANSFORMS.get(os.path.basename(file_path))
            entry = self._entry(full) if self._ready() else None
            stamp = (
                f"{st.st_size}:{st.st_mtime_ns}:{transform is not None}:{botocore.__version__}:"
                f"{sys.version_info[0]}.{sys.version_info[1]}:{marshal.version}\n"
            ).encode()
            if entry is not None:
                with contextlib.suppress(OSError, EOFError, ValueError, TypeError):
                    blob = entry.read_bytes()
                    if blob.startswith(stamp):
                        return marshal.loads(blob[len(stamp) :])
            with opener(full, "rb") as fp:
                data = json.loads(fp.read().decode("utf-8"))
            if transform is not None:
                data = transform(data)
            if entry is not None:
                self._store(entry, stamp, data)
            return data
        return None

    def _entry(self, full: str) -> Path:
        """One entry per model file: a new botocore overwrites it, so the cache never grows."""
        digest = hashlib.sha256(full.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        return self._dir / f"{digest}.marshal"

    def _ready(self) -> bool:
        """The cache dir exists, is ours and private; decided once per loader."""
        if self._usable is None:
            self._usable = usable(self._dir)
        return self._usable

    def _store(self, entry: Path, stamp: bytes, data: Any) -> None:
        try:
            blob = stamp + marshal.dumps(data)
        except ValueError:  # not plain JSON types: keep it uncached
            return
        write_whole(entry, blob)


class S3Loader(botocore.loaders.Loader):
    """botocore's Loader that knows one service: s3 (where the search path has it)."""

    @botocore.loaders.instance_cache
    def list_available_services(self, type_name: str) -> list[str]:
        for base in self.search_paths:
            service_dir = os.path.join(base, SERVICE)
            with contextlib.suppress(OSError):
                for version in os.listdir(service_dir):
                    if self.file_loader.exists(os.path.join(service_dir, version, type_name)):
                        return [SERVICE]
        return []


def make_loader(data_path: str | None) -> S3Loader:
    """Like ``botocore.loaders.create_loader``: AWS_DATA_PATH / ``data_path`` still come first."""
    extra = [os.path.expanduser(os.path.expandvars(p)) for p in (data_path or "").split(os.pathsep)]
    return S3Loader(extra_search_paths=extra if data_path else None, file_loader=CachedJSONLoader())
