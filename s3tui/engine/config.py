"""One configuration object for an upload, with the defaults documented where they are set.

Like the s3-upload seed's ``UploadConfig``: the knobs of the deadline/retry algorithm live here,
and the command line exposes the few that users need.

Both objects check their values when they are made (:class:`OptionError`, a ValueError), so a bad
value fails before any request and before stdin is read, for the CLI (exit 2) and library alike.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from s3tui.engine.plan import DEFAULT_CHUNK, MAX_OBJECT, plan_parts, validate_chunk_size
from s3tui.sizes import format_size

# An HTTP header name (RFC 9110 token): what a metadata key becomes after ``x-amz-meta-``.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # fullmatch: "$" would let "k\n" through


class OptionError(ValueError):
    """A field of :class:`ObjectOptions`/:class:`UploadConfig` has a value that cannot work.

    ``name`` is the field, ``value`` what was given (shown with ``repr``, so a control character
    stays visible and the message stays one line), ``problem`` what is wrong and what to do.
    """

    def __init__(self, name: str, value: object, problem: str) -> None:
        super().__init__(f"{name} {value!r}: {problem}")
        self.name, self.value, self.problem = name, value, problem


def header_value_problem(text: str) -> str | None:
    """Why ``text`` cannot be an HTTP header value in an S3 request, or None.

    S3 signs and carries header values as US-ASCII: a non-ASCII value fails with an encoding
    error or a misleading SignatureDoesNotMatch, and a control character (CR, LF, ...) would
    split or corrupt the request.
    """
    for ch in text:
        code = ord(ch)
        if code < 0x20 or code == 0x7F:
            return f"contains the control character {ch!r}: remove it"
        if code > 0x7E:
            return (
                f"contains {ch!r}, and S3 carries only US-ASCII in headers: encode the value "
                "first, e.g. RFC 2047 (=?UTF-8?B?...?=) or percent-encoding"
            )
    return None


MAX_TAGS = 10  # S3's limit per object
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")

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
    # Object tags, sent as the Tagging header (a URL-encoded query string) with the object.
    tags: dict[str, str] = field(default_factory=dict)
    # Never replace an existing object: ``If-None-Match: *`` on PutObject and on
    # CompleteMultipartUpload (Remote carries it from the create to the complete).
    no_clobber: bool = False
    # Object lock (WORM): a retention mode with the date it holds until, and/or a legal hold.
    # The bucket must have object lock enabled (the put checks it before uploading).
    object_lock_mode: str | None = None  # GOVERNANCE or COMPLIANCE
    retain_until: datetime | None = None  # timezone-aware
    legal_hold: bool = False

    def __post_init__(self) -> None:
        if (self.object_lock_mode is None) != (self.retain_until is None):
            raise OptionError(
                "object_lock_mode",
                self.object_lock_mode,
                "a retention needs both a mode (GOVERNANCE or COMPLIANCE) and a date to hold until",
            )
        if self.object_lock_mode not in (None, *LOCK_MODES):
            raise OptionError("object_lock_mode", self.object_lock_mode, "GOVERNANCE or COMPLIANCE")
        if self.retain_until is not None and self.retain_until.tzinfo is None:
            raise OptionError("retain_until", self.retain_until, "needs a time zone (e.g. Z)")
        for name in ("content_type", "acl", "sse", "sse_kms_key_id", "storage_class"):
            value = getattr(self, name)
            if value is not None and (problem := header_value_problem(value)):
                raise OptionError(name, value, problem)
        for key, value in self.metadata.items():
            if not _TOKEN.fullmatch(key):
                raise OptionError(
                    "metadata",
                    f"{key}={value}",
                    "a metadata key is sent as a header name: use ASCII letters, digits and "
                    "-_. (no spaces or other characters)",
                )
            if problem := header_value_problem(value):
                raise OptionError("metadata", f"{key}={value}", f"the value {problem}")
        if len(self.tags) > MAX_TAGS:
            raise OptionError(
                "tags", f"{len(self.tags)} tags", f"S3 keeps at most {MAX_TAGS} tags per object"
            )
        for key, value in self.tags.items():
            for what, text, most in (("key", key, 128), ("value", value, 256)):
                if what == "key" and not text:
                    raise OptionError("tags", f"{key}={value}", "a tag key cannot be empty")
                if len(text) > most:
                    raise OptionError(
                        "tags",
                        f"{key}={value}",
                        f"a tag {what} is at most {most} characters in S3 ({len(text)} given)",
                    )
                if problem := header_value_problem(text):
                    raise OptionError("tags", f"{key}={value}", f"the {what} {problem}")

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
        if self.tags:
            args["Tagging"] = "&".join(
                f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in self.tags.items()
            )
        if self.no_clobber:
            args["IfNoneMatch"] = "*"
        if self.object_lock_mode and self.retain_until:
            args["ObjectLockMode"] = self.object_lock_mode
            args["ObjectLockRetainUntilDate"] = self.retain_until
        if self.legal_hold:
            args["ObjectLockLegalHoldStatus"] = "ON"
        return args

    @property
    def object_lock(self) -> bool:
        """Whether the object is to be locked (the bucket must allow it)."""
        return self.object_lock_mode is not None or self.legal_hold


@dataclass(frozen=True)
class UploadConfig:
    """How an upload behaves. Every field has a default that suits a multi-hour dump."""

    # Parts in flight at once (the ceiling; SlowDown answers lower it for a while).
    concurrency: int = 8
    # Tune the ceiling while running, starting at ``concurrency`` (engine/autoconc.py): more
    # requests while the aggregate throughput grows with them, fewer when it does not. The
    # CLI turns it on when --concurrency is not given; set_concurrency pins it.
    auto_concurrency: bool = False
    # Send a second copy of a straggling part when a slot is free (engine/hedge.py).
    hedge: bool = True
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

    # --- Stalls: a request whose bytes stop moving is cut long before its deadline ---
    # While its socket holds bytes the peer has not acknowledged, a request with a body is cut
    # after max(stall_floor, stall_factor x the time the estimate gives one 1 MiB block) with
    # no progress; once the body is out, when the answer is stall_floor + latency_allowance
    # late on the estimate's predicted end of the request. 0 turns stall cuts off (deadlines
    # only). Requests without a body (create, complete, abort, head) and light ones (a body of
    # at most 1 MiB: a small file, whose time is its round trip) keep only their deadline.
    stall_floor: float = 1.5
    stall_factor: float = 3.0

    # --- Retries ---
    max_attempts: int = 10  # per part or file, first try included
    retry_base_delay: float = 0.25  # exponential back-off with full jitter between attempts
    retry_max_delay: float = 20.0
    # Fail once requests kept failing, none succeeding, this long: errors the server answered
    # with (5xx), and network failures before they count as an outage. The time of an outage
    # does not count: ``patience`` bounds that.
    give_up_after: float = 600.0
    # How long an unreachable endpoint (refused, reset, DNS, timeouts, nothing answered) is
    # waited out, probing it, before the upload gives up (see engine/outage.py). Long enough
    # for a router's reboot or a store's maintenance window in the middle of a nightly dump.
    patience: float = 3600.0
    slowdown_hold: float = 5.0  # seconds a SlowDown-halved concurrency is held before climbing

    # Whole-process upload rate cap in bytes/s (None: unlimited).
    bwlimit: float | None = None

    def __post_init__(self) -> None:
        """Every number must be finite and in its range: a NaN deadline never expires (the
        watchdog busy-spins and stalls are never cut), an infinite one is no deadline at all."""

        def need(name: str, ok: bool, what: str) -> None:
            value = getattr(self, name)
            if value is not None and not _finite(value):
                raise OptionError(name, value, f"not a finite number: must be {what}")
            if value is not None and not ok:
                raise OptionError(name, value, f"must be {what}")

        need("concurrency", 1 <= self.concurrency <= 64, "a whole number from 1 to 64")
        try:
            validate_chunk_size(self.chunk_size)
        except ValueError as e:
            raise OptionError("chunk_size", self.chunk_size, str(e)) from None
        need("max_spool", (self.max_spool or 0) >= self.chunk_size, "at least one chunk")
        need(
            "expected_size",
            0 <= (self.expected_size or 0) <= MAX_OBJECT,
            f"at most S3's largest object, {format_size(MAX_OBJECT)} (10,000 parts of 5 GiB): "
            "split the data into several objects",
        )
        if self.min_size is not None:
            if self.expected_size is not None:
                need(
                    "min_size",
                    self.min_size <= self.expected_size,
                    "at most expected_size: no stream can satisfy both",
                )
            cap = plan_parts(self.chunk_size, self.expected_size).capacity()
            need(
                "min_size",
                0 <= self.min_size <= cap,
                f"at most {format_size(cap)}, the most 10,000 parts of this chunk size hold",
            )
        need("initial_bandwidth", self.initial_bandwidth > 0, "a positive number (bytes/s)")
        need("ewma_alpha", 0 < self.ewma_alpha <= 1, "above 0 and at most 1")
        need("latency_allowance", self.latency_allowance >= 0, "0 or more (seconds)")
        need("timeout_factor", self.timeout_factor > 0, "a positive number, e.g. 3")
        need("deadline_backoff", self.deadline_backoff >= 1, "1 or more")
        need("min_deadline", self.min_deadline > 0, "a positive number (seconds)")
        need("max_deadline", self.max_deadline >= self.min_deadline, "at least min_deadline")
        need("stall_floor", self.stall_floor >= 0, "0 (off) or more (seconds)")
        need("stall_factor", self.stall_factor > 0, "a positive number, e.g. 3")
        need("max_attempts", self.max_attempts >= 1, "1 or more")
        need("retry_base_delay", self.retry_base_delay >= 0, "0 or more (seconds)")
        need("retry_max_delay", self.retry_max_delay >= 0, "0 or more (seconds)")
        need("give_up_after", self.give_up_after > 0, "a positive number (seconds)")
        need("patience", self.patience >= 0, "0 or more (seconds)")
        need("slowdown_hold", self.slowdown_hold >= 0, "0 or more (seconds)")
        need("bwlimit", (self.bwlimit or 1) > 0, "a positive rate (bytes/s), or None")


def _finite(value: object) -> bool:
    try:
        return math.isfinite(value)  # type: ignore[arg-type]
    except (TypeError, OverflowError):
        return False
