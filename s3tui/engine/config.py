"""One configuration object for an upload, with the defaults documented where they are set.

Like the s3-upload seed's ``UploadConfig``: the knobs of the deadline/retry algorithm live here,
and the command line exposes the few that users need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from s3tui.engine.plan import DEFAULT_CHUNK

# What both HTTP stacks (botocore's and the fast path's) use. The read timeout is a per-socket
# backstop only; the watchdog enforces the real, adaptive deadline.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 300.0


@dataclass(frozen=True)
class ObjectOptions:
    """What is stored with the object (headers of CreateMultipartUpload / PutObject)."""

    content_type: str | None = None
    acl: str | None = None
    sse: str | None = None
    sse_kms_key_id: str | None = None
    storage_class: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def to_s3_args(self) -> dict[str, object]:
        args: dict[str, object] = {}
        if self.content_type:
            args["ContentType"] = self.content_type
        if self.acl:
            args["ACL"] = self.acl
        if self.sse:
            args["ServerSideEncryption"] = self.sse
        if self.sse_kms_key_id:
            args["SSEKMSKeyId"] = self.sse_kms_key_id
        if self.storage_class:
            args["StorageClass"] = self.storage_class
        if self.metadata:
            args["Metadata"] = dict(self.metadata)
        return args


@dataclass(frozen=True)
class UploadConfig:
    """How an upload behaves. Every field has a default that suits a multi-hour dump."""

    # Parts in flight at once (the ceiling; SlowDown answers lower it for a while).
    concurrency: int = 8
    # First part size; parts double every 1,000 parts when the total size is unknown.
    chunk_size: int = DEFAULT_CHUNK
    # Cap on temp-disk use by spooled chunks; reading pauses when it is reached. None: two
    # chunks per request in flight (128 MiB at the defaults), following part-size growth. More
    # buys nothing once uploads lag the source, and measured here a 1 GiB spool of dirty pages
    # doubled the client's kernel time (writeback) against 128 MiB.
    max_spool: int | None = None

    def spool_limit(self, part_size: int, concurrency: int) -> int:
        if self.max_spool is not None:
            return self.max_spool
        return 2 * max(1, concurrency) * part_size

    spool_dir: Path | None = None
    # Size hint (plans the part size, fails if exceeded) and floor (fails if not reached).
    expected_size: int | None = None
    min_size: int | None = None

    # --- Bandwidth estimate (EWMA of per-request throughput, shared by all workers) ---
    initial_bandwidth: float = 2e6  # bytes/s before the first request completes
    ewma_alpha: float = 0.25  # weight of the newest sample

    # --- Per-attempt deadline: (latency + size / estimate * timeout_factor) * backoff**retry ---
    latency_allowance: float = 2.0  # seconds for connect + first byte + server work
    timeout_factor: float = 3.0  # safety margin over the expected transfer time
    deadline_backoff: float = 2.0  # each retry of the same part gets this much longer
    min_deadline: float = 5.0
    max_deadline: float = 3600.0

    # --- Retries ---
    max_attempts: int = 10  # per part or file, first try included
    retry_base_delay: float = 0.25  # exponential back-off with full jitter between attempts
    retry_max_delay: float = 20.0
    give_up_after: float = 600.0  # fail once requests kept failing, none succeeding, this long
    slowdown_hold: float = 5.0  # seconds a SlowDown-halved concurrency is held before climbing

    # Whole-process upload rate cap in bytes/s (None: unlimited).
    bwlimit: float | None = None
