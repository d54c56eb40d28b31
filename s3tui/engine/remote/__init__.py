"""The one package that talks to S3; nothing else in s3tui imports botocore.

``client`` makes the botocore client (and the connections the watchdog can cut), ``calls`` holds
the requests (:class:`Remote`), ``direct`` a lean PutObject for small bodies, and ``errors``
decides what a failure means and whether another attempt can help.
"""

from s3tui.engine.remote.calls import (
    Remote,
    check_bucket_name,
    composite_crc32c_b64,
    crc32c_b64,
)
from s3tui.engine.remote.client import make_client
from s3tui.engine.remote.errors import Failure, RemoteError, classify

__all__ = [
    "Failure",
    "Remote",
    "RemoteError",
    "check_bucket_name",
    "classify",
    "composite_crc32c_b64",
    "crc32c_b64",
    "make_client",
]
