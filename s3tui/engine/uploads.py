"""Incomplete multipart uploads across a bucket: what each holds, whose it is, and aborting it
until the parts are really gone.

Why ListParts per upload: ListMultipartUploads says nothing of the bytes an upload keeps
(and bills), and after an abort it is the only way to see that the parts were freed: AWS
documents that an abort racing a part still being sent may need repeating, and that an empty
part list (or NoSuchUpload) is the proof. A bucket may hold hundreds of uploads, so the
ListParts run on a small pool.

Whose: an upload this host's s3tui opened is in its journal (:mod:`journal`); one whose writer
is still alive is being written right now and is never aborted unless asked to (``force``), so
a cron'd ``uploads abort --older-than 1d`` cannot cut a long upload that runs beside it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TypeVar

from s3tui.engine.journal import Entry
from s3tui.engine.redact import without_userinfo
from s3tui.engine.remote.errors import classify, error_code
from s3tui.engine.remote.store import PartInfo, S3Store, UploadInfo

A = TypeVar("A")
T = TypeVar("T")

WORKERS = 8  # ListParts / aborts in flight: enough for hundreds of uploads, gentle on the store
ABORT_TRIES = 3  # aborts of one upload while ListParts still shows parts after it
REQUEST_TRIES = 3  # attempts of one request that failed in a way another attempt can fix
LIST_DEADLINE = 120.0  # seconds for one listing (all its pages)
ABORT_DEADLINE = 30.0

# A guard that bounds one call in wall-clock time (the watchdog's), or none.
Guard = Callable[[float], AbstractContextManager[object]]


@dataclass(frozen=True)
class Writer:
    """The s3tui process of this host that opened an upload, from its journal entry."""

    pid: int
    alive: bool  # still running: the upload is being written now
    entry: Entry


@dataclass(frozen=True)
class OpenUpload:
    key: str
    upload_id: str
    initiated: float | None  # unix seconds, server's clock
    age: float | None  # seconds, server_time - initiated
    parts: int | None  # distinct part numbers; None when ListParts failed
    part_copies: int | None  # parts as listed: a part sent twice may be kept (and billed) twice
    stored_bytes: int | None  # every listed copy, since each is stored
    error: str | None  # why parts/bytes are unknown
    writer: Writer | None  # this host's s3tui opened it (same endpoint, bucket, key and id)


@dataclass(frozen=True)
class Survey:
    uploads: list[OpenUpload]  # by key, then oldest first
    server_time: float


@dataclass(frozen=True)
class AbortOutcome:
    upload: OpenUpload
    confirmed: bool  # ListParts shows no part (or the upload is gone)
    aborts: int  # abort requests sent
    error: str | None


def same_endpoint(a: str | None, b: str | None) -> bool:
    """The journal keeps the endpoint without ``user:password@``, None for AWS's default."""
    return (without_userinfo(a or "") or "").rstrip("/") == (
        without_userinfo(b or "") or ""
    ).rstrip("/")


def writers(entries: list[Entry], endpoint: str | None, bucket: str) -> dict[str, Writer]:
    """Upload id -> this host's writer, for the journal entries of this endpoint and bucket."""
    found: dict[str, Writer] = {}
    for e in entries:
        if e.pending or e.bucket != bucket or not same_endpoint(e.endpoint, endpoint):
            continue
        found[e.upload_id] = Writer(e.pid, e.writer_alive(), e)
    return found


def survey(
    store: S3Store,
    prefix: str,
    *,
    own: dict[str, Writer] | None = None,
    guard: Guard | None = None,
    workers: int = WORKERS,
    on_progress: Callable[[int, int], None] | None = None,
) -> Survey:
    """Every open upload under ``prefix`` with its parts and bytes. An upload that is gone by
    the time its parts are listed (completed or aborted meanwhile) is left out. Raises when the
    uploads cannot be listed at all."""
    bounded = guard or (lambda _s: nullcontext())
    with bounded(LIST_DEADLINE):
        listing = retrying(lambda: store.list_uploads(prefix))
    own = own or {}
    total = len(listing.uploads)
    done = 0
    lock = threading.Lock()

    def look(u: UploadInfo) -> OpenUpload | None:
        nonlocal done
        writer = own.get(u.upload_id)
        if writer is not None and writer.entry.key != u.key:
            writer = None
        age = None if u.initiated is None else max(0.0, listing.server_time - u.initiated)
        try:
            with bounded(LIST_DEADLINE):
                parts = retrying(lambda: store.list_parts(u.key, u.upload_id))
        except Exception as e:
            if error_code(e) in ("NoSuchUpload", "404"):
                result = None
            else:
                why = classify(e, store.bucket, u.key, store.endpoint).message
                result = OpenUpload(
                    u.key, u.upload_id, u.initiated, age, None, None, None, why, writer
                )
        else:
            result = OpenUpload(
                u.key,
                u.upload_id,
                u.initiated,
                age,
                len({p.number for p in parts}),
                len(parts),
                sum(p.size for p in parts),
                None,
                writer,
            )
        with lock:
            done += 1
            if on_progress is not None:
                on_progress(done, total)
        return result

    found = [u for u in _pooled(look, listing.uploads, workers) if u is not None]
    found.sort(key=lambda u: (u.key, u.initiated or 0.0, u.upload_id))
    return Survey(found, listing.server_time)


def abort_confirmed(
    store: S3Store, upload: OpenUpload, *, guard: Guard | None = None, tries: int = ABORT_TRIES
) -> AbortOutcome:
    """Abort, then ListParts: NoSuchUpload or no part listed is the proof the parts are gone.
    Parts still listed: abort again (a part that was in flight during the abort can land after
    it), up to ``tries`` aborts."""
    bounded = guard or (lambda _s: nullcontext())
    error: str | None = None
    for attempt in range(1, tries + 1):
        if attempt > 1:
            time.sleep(0.5 * attempt)
        try:
            with bounded(ABORT_DEADLINE):
                retrying(lambda: store.abort(upload.key, upload.upload_id))
        except Exception as e:
            f = classify(e, store.bucket, upload.key, store.endpoint)
            return AbortOutcome(upload, False, attempt, f.message)
        try:
            with bounded(LIST_DEADLINE):
                left = retrying(lambda: store.list_parts(upload.key, upload.upload_id))
        except Exception as e:
            if error_code(e) in ("NoSuchUpload", "404"):
                return AbortOutcome(upload, True, attempt, None)
            f = classify(e, store.bucket, upload.key, store.endpoint)
            error = f"aborted, but ListParts could not confirm it: {f.message}"
            continue
        if not left:
            return AbortOutcome(upload, True, attempt, None)
        error = f"{_held(left)} still listed after {attempt} abort{'s' if attempt > 1 else ''}"
    return AbortOutcome(upload, False, tries, error)


def abort_all(
    store: S3Store,
    uploads: list[OpenUpload],
    *,
    guard: Guard | None = None,
    workers: int = WORKERS,
    tries: int = ABORT_TRIES,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[AbortOutcome]:
    """:func:`abort_confirmed` for each, on a pool; the outcomes in the order given."""
    done = 0
    lock = threading.Lock()

    def one(u: OpenUpload) -> AbortOutcome:
        nonlocal done
        outcome = abort_confirmed(store, u, guard=guard, tries=tries)
        with lock:
            done += 1
            if on_progress is not None:
                on_progress(done, len(uploads))
        return outcome

    return _pooled(one, uploads, workers)


def retrying(call: Callable[[], T], tries: int = REQUEST_TRIES) -> T:
    """``call`` again after a failure another attempt can fix (timeouts, resets, 5xx,
    SlowDown), with a growing pause; any other failure at once. botocore's retries are off in
    s3tui's clients: the policy is the caller's."""
    for attempt in range(1, tries + 1):
        try:
            return call()
        except Exception as e:
            if attempt == tries or not classify(e).retryable:
                raise
            time.sleep(0.5 * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def _held(parts: list[PartInfo]) -> str:
    n = len({p.number for p in parts})
    return f"{n} part{'s' if n != 1 else ''}"


def _pooled(fn: Callable[[A], T], items: list[A], workers: int) -> list[T]:
    """``fn`` of each item on a small pool (none for one item); results in the items' order."""
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(min(workers, len(items)), thread_name_prefix="s3tui-uploads") as pool:
        return list(pool.map(fn, items))
