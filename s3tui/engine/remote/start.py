"""How a job gets its :class:`~s3tui.engine.remote.calls.Remote`: with a botocore client made
at once, or, when an earlier run left a template for these inputs (see
:mod:`~s3tui.engine.remote.fast`), with the direct path alone and the client made only when a
request needs it."""

from __future__ import annotations

from typing import Any

from s3tui.engine.checksums import DEFAULT, Checksum
from s3tui.engine.journal import Journal
from s3tui.engine.remote import fast
from s3tui.engine.remote.calls import Remote
from s3tui.engine.remote.checksum_support import ChecksumSupport


def open_remote(
    bucket: str,
    *,
    endpoint_url: str | None,
    region: str | None,
    profile: str | None,
    max_connections: int,
    journal: Journal | None = None,
    quick: bool = False,
    checksum: Checksum = DEFAULT,
    reprobe: bool = False,
) -> Remote:
    """The destination. ``quick``: the job's first requests may be small PutObjects, so a
    remembered template lets it start before botocore is imported. ``checksum``: what the
    requests carry, unless the endpoint is remembered to refuse it (``reprobe``: probe again)."""
    templates = fast.template_cache(endpoint_url, region, profile)

    def connect(direct: Any = None) -> Any:
        from s3tui.engine.remote.client import make_client

        return make_client(
            endpoint_url,
            region,
            profile,
            max_connections=max_connections,
            templates=templates,
            direct=direct,
        )

    def support(endpoint: str) -> ChecksumSupport:
        return ChecksumSupport(checksum, endpoint, memory=True, reprobe=reprobe)

    direct = fast.quick_direct(templates, profile) if quick else None
    if direct is not None:
        endpoint = direct.endpoint or endpoint_url or ""
        return Remote(
            None,
            bucket,
            journal,
            connect=lambda: connect(direct),
            direct=direct,
            endpoint=endpoint,
            checksum=support(endpoint),
        )
    client = connect()
    # ``connect`` again makes a client on a fresh load of the credentials (when they expire).
    return Remote(
        client, bucket, journal, connect=connect, checksum=support(client.meta.endpoint_url)
    )
