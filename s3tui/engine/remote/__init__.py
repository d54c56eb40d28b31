"""The one package that talks to S3; nothing else in s3tui imports botocore.

``client`` makes the botocore client (and the connections the watchdog can cut), ``calls`` holds
the requests (:class:`Remote`), ``store`` what the engine may know of S3 (typed answers and the
:class:`S3Store` protocol that ``Remote`` implements), ``start`` opens one for a job, and
``errors`` decides what a failure means and whether another attempt can help. ``fast`` is the
optional start-up fast path (a lean PutObject for small bodies, its templates, an S3-only model
loader), reached only through its ``__init__`` and off with ``S3TUI_FAST_PATH=0``.

botocore is imported by ``client`` alone, and only when a client is made: ``make_client`` is
loaded on first use, so a job that never needs botocore does not pay ~0.1 s to import it.
"""

from typing import Any

from s3tui.engine.remote.calls import (
    Remote,
    check_bucket_name,
    composite_crc32c_b64,
    crc32c_b64,
)
from s3tui.engine.remote.errors import Failure, RemoteError, Scope, Withdrawal, classify
from s3tui.engine.remote.start import open_remote
from s3tui.engine.remote.store import (
    ObjectInfo,
    PartInfo,
    S3Store,
    Stored,
    UploadInfo,
    UploadListing,
)

__all__ = [
    "Failure",
    "ObjectInfo",
    "PartInfo",
    "Remote",
    "RemoteError",
    "S3Store",
    "Scope",
    "Stored",
    "UploadInfo",
    "UploadListing",
    "Withdrawal",
    "check_bucket_name",
    "classify",
    "composite_crc32c_b64",
    "crc32c_b64",
    "make_client",
    "open_remote",
]


def __getattr__(name: str) -> Any:
    if name == "make_client":
        from s3tui.engine.remote.client import make_client

        return make_client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
