"""Upload files and directory trees: ``put ./dir s3://b/p/``, ``put a b s3://b/p/``, ``put f s3://b/k``.

One :class:`~s3tui.engine.transfer.Transfer` (worker pool, bandwidth estimate, deadlines,
retries) serves every file. Files below the chunk size are one PutObject each; bigger files are
multipart uploads whose parts are read straight from the file at their offsets (no spool). Each
request computes the CRC32C of what it sends in the worker, just before sending, so many files
are hashed in parallel; the server verifies it.

A scheduler in the caller's thread hands tasks to the pool a few at a time (about twice the
concurrency), in this order: completions, parts of open multipart uploads, new files. So few
uploads are open at once, memory stays flat however big the tree, and a file that fails stops
before its remaining parts are sent.

Never stored torn: a size or mtime different from the listing fails that file ("changed while
being uploaded") and aborts its upload. A file of up to 1 MiB is read whole into memory and
checked once the read ended, before anything is sent. Bigger files are stat'ed before every
request and again after all their bytes were read: before CompleteMultipartUpload, and after a
PutObject (whose object is then deleted again).

One bad file does not stop the rest: a file's own failure (vanished, changed, AccessDenied on its
key, retries exhausted) is recorded on that file and the job goes on, ending with exit 1 and
``Result.failed_files``. Failures that doom every file (credentials, missing bucket, unreachable
endpoint) stop the job with one message. The preflight: the first write request (and with
``--skip-existing`` the first HeadObject) runs alone, with few retries; any failure of it that is
not about the local file stops the job before anything else is sent.

``--skip-existing`` sends a HeadObject per file and skips the file when the object has the same
size and, as far as S3 can tell, the same content: its CRC32C (s3tui's single puts; the composite
``b64-N`` of a multipart upload, recomputed locally with this run's part plan), a full-object
CRC32 (aws cli), or the MD5 ETag of a single-part object. An object with none of those is skipped
on size alone; a multipart object with a different part count (another ``--chunk-size`` or tool)
is uploaded again, since its content cannot be compared.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import os
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from s3tui.engine.config import ObjectOptions, UploadConfig
from s3tui.engine.crc import crc32c
from s3tui.engine.gate import LIGHT_PER_SLOT
from s3tui.engine.job import ABORT_ATTEMPT, AbortOutcome, Result, SteeredJob
from s3tui.engine.localfile import FileProblem as _FileProblem
from s3tui.engine.localfile import (
    blocks,
    crc32c_range,
    local_problem,
    open_body,
    read_unchanged,
    require_listed,
)
from s3tui.engine.plan import plan_parts
from s3tui.engine.progress import FileState, Phase, Progress
from s3tui.engine.remote import Failure, Remote, classify, composite_crc32c_b64, crc32c_b64
from s3tui.engine.stats import AttemptRecord, FileStat
from s3tui.engine.transfer import Task, Transfer, Withdrawn, error_line
from s3tui.engine.walk import (
    Entry,
    Filter,
    SourceError,
    exact_key,
    guess_content_type,
    prefix_of,
    scan,
)
from s3tui.errors import EXIT_FAILED
from s3tui.sizes import format_size

INLINE_MAX = 1024 * 1024  # files up to this size are sent from memory, as bytes
CONTROL_DEADLINE = 60.0  # create / complete / head: no body
PREFLIGHT_ATTEMPTS = 4  # ~2 s of back-off: an unusable destination fails fast
# Failures that would hit every file alike: the job stops instead of failing files one by one.
JOB_FATAL = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "NoSuchBucket",
        "AllAccessDisabled",
        "InvalidBucketName",
        "ExpiredToken",
        "InvalidToken",
        "PermanentRedirect",
        "AuthorizationHeaderMalformed",
        "KMS.NotFoundException",
        "no credentials",
        "credentials",
        "cannot connect",
    }
)
# Failures about the local file, never the destination: they never stop the job.
LOCAL_REASONS = frozenset({"changed", "vanished", "unreadable", "withdrawn"})


class _Stop(Exception):
    """Internal: the stop flag was raised while the scheduler waited."""


class _File:
    """One file's upload state; mutated under the job's condition lock."""

    __slots__ = (
        "attempts",
        "checksum",
        "completing",
        "end",
        "entry",
        "etag",
        "failed",
        "first_start",
        "inflight",
        "next_part",
        "nparts",
        "ok_end",
        "ok_start",
        "part_size",
        "parts",
        "settled",
        "stat",
        "state",
        "upload_id",
    )

    def __init__(self, entry: Entry, chunk: int) -> None:
        self.entry = entry
        if entry.size < chunk:
            self.part_size, self.nparts = 0, 1  # one PutObject
        else:
            self.part_size = plan_parts(chunk, expected_size=entry.size).base
            self.nparts = -(-entry.size // self.part_size)
        self.state = FileState.QUEUED
        self.failed: str | None = None
        self.settled = False
        self.upload_id: str | None = None
        self.completing = False  # CompleteMultipartUpload was sent: the upload may be gone
        self.parts: dict[int, tuple[str, int]] = {}
        self.next_part = 1
        self.inflight = 0
        self.attempts = 0
        self.first_start: float | None = None
        self.ok_start: float | None = None
        self.ok_end: float | None = None
        self.end: float | None = None
        self.etag: str | None = None
        self.checksum: str | None = None
        self.stat: FileStat | None = None  # frozen when the file settles

    def part_range(self, n: int) -> tuple[int, int]:
        offset = (n - 1) * self.part_size
        return offset, min(self.part_size, self.entry.size - offset)


class TreeUpload(SteeredJob):
    """An :class:`~s3tui.engine.job.UploadJob` for files and directory trees."""

    # What a cancel leaves behind, for the driver's "interrupted: ..." message.
    stop_note = "open multipart uploads were aborted; files already uploaded stay"

    def __init__(
        self,
        sources: Sequence[str],
        remote: Remote,
        dest_key: str,
        cfg: UploadConfig,
        options: ObjectOptions | None = None,
        *,
        filt: Filter | None = None,
        follow_symlinks: bool = False,
        skip_existing: bool = False,
        on_record: list[Callable[[AttemptRecord], None]] | None = None,
        on_file: list[Callable[[FileStat], None]] | None = None,
    ) -> None:
        self.sources = list(sources)
        self.remote = remote
        self.dest_key = dest_key
        self.cfg = cfg
        self.options = options or ObjectOptions()
        self.filt = filt or Filter()
        self.follow_symlinks = follow_symlinks
        self.skip_existing = skip_existing
        self._on_file = list(on_file or [])
        single = exact_key(dest_key, self.sources)
        target = single if single is not None else prefix_of(dest_key)
        source = self.sources[0] if len(self.sources) == 1 else f"{len(self.sources)} sources"
        self.progress = Progress(source, f"s3://{remote.bucket}/{target}")
        self.transfer = Transfer(cfg, self.progress, classify=self._classify, on_record=on_record)
        self._init_steering()
        self.files: list[_File] = []
        self.walk_failures: list[tuple[str, str]] = []
        self.file_stats: list[FileStat] = []
        # Scheduler queues (under _cond): see the module docstring for the order.
        self._completes: deque[_File] = deque()
        self._ready: deque[_File] = deque()
        self._writes: deque[_File] = deque()
        self._heads: deque[_File] = deque()
        self._waiting = 0  # tasks handed to the pool whose first attempt has not begun
        self._unsettled = 0
        self._total_bytes = 0  # still to upload: skipped files leave the totals
        self._total_parts = 0
        self._probe = {"write": "none", "head": "none"}  # none -> flying -> passed
        self._base_args = self.options.to_s3_args()
        self._unconfirmed = 0  # aborts the stop path could not confirm

    # --- the job ---
    def run(self) -> Result:
        try:
            self._prepare()
            self.progress.set_phase(Phase.RUNNING)
            self.transfer.start()
            self._feed()
        except _Stop:
            pass
        except SourceError as e:
            self.fail(str(e))
        except Exception as e:  # the stop path reports it; nothing may escape uncleaned
            self.fail(f"unexpected error: {type(e).__name__}: {e}")
        finally:
            self._cleanup()
        return self._result()

    def _prepare(self) -> None:
        listing = scan(self.sources, self.dest_key, self.filt, self.follow_symlinks)
        for path, why in listing.warnings:
            self.progress.event("warning", path, reason=why)
        for path, why in listing.failures:
            self.walk_failures.append((path, why))
            self.progress.file_added(path, "", 0)
            self.progress.file_state(path, FileState.FAILED, reason=why)
        for e in listing.entries:
            try:
                f = _File(e, self.cfg.chunk_size)
            except ValueError as err:  # larger than S3's largest object
                self.walk_failures.append((e.path, str(err)))
                self.progress.file_added(e.path, e.key, e.size)
                self.progress.file_state(e.path, FileState.FAILED, reason=str(err))
                continue
            self.files.append(f)
            self.progress.file_added(e.path, e.key, e.size)
        self._total_bytes = sum(f.entry.size for f in self.files)
        self._total_parts = sum(f.nparts for f in self.files)
        self.progress.set_total(self._total_bytes, parts_total=self._total_parts)
        with self._cond:
            self._unsettled = len(self.files)
            (self._heads if self.skip_existing else self._writes).extend(self.files)

    def _feed(self) -> None:
        """Hand tasks to the pool, keeping two per light request the gate admits queued (cheap:
        a queued task holds no bytes), until every file settled."""
        while True:
            with self._cond:
                while True:
                    if self._stop.is_set():
                        raise _Stop
                    if self._unsettled == 0:
                        return
                    if self._waiting < self._queued_max():
                        task = self._next_locked()
                        if task is not None:
                            self._waiting += 1
                            break
                    self._cond.wait(0.25)
            self.transfer.submit(task)

    def _queued_max(self) -> int:
        return 2 * LIGHT_PER_SLOT * self.transfer.gate.ceiling

    def _next_locked(self) -> Task | None:
        while self._completes:
            f = self._completes.popleft()
            if f.failed is None:
                return self._complete_task(f)
        while self._ready:
            f = self._ready[0]
            if f.failed is not None or f.next_part > f.nparts:
                self._ready.popleft()
                continue
            n = f.next_part
            f.next_part += 1
            if f.next_part > f.nparts:
                self._ready.popleft()
            return self._part_task(f, n)
        for kind, q in (("write", self._writes), ("head", self._heads)):
            if self._probe[kind] == "flying":
                continue
            while q:
                f = q.popleft()
                if f.failed is not None:
                    continue
                probe = self._probe[kind] == "none"
                if probe:
                    self._probe[kind] = "flying"
                if kind == "head":
                    return self._head_task(f, probe)
                return self._put_task(f, probe) if f.part_size == 0 else self._create_task(f, probe)
        return None

    # --- tasks ---
    def _task(
        self,
        f: _File,
        label: str,
        size: int,
        call: Callable[[Callable[[int], None]], Any],
        done: Callable[[Any], None],
        kind: str,
        part: int | None = None,
        probe: bool = False,
    ) -> Task:
        """Wrap one request of file ``f``: bookkeeping around ``call`` (in the worker, once per
        attempt) and ``done`` (in the worker, after the request succeeded)."""
        data = kind == "data"
        probe_kind = "head" if kind == "head" else "write"
        started = False
        key, path = f.entry.key, f.entry.path
        f.inflight += 1
        if data:  # control requests (create, complete, head) are not shown as parts
            self.progress.part_added(label, size, number=part, file=path)

        def attempt(sent: Callable[[int], None]) -> Any:
            nonlocal started
            t0 = time.monotonic()
            with self._cond:
                if not started:
                    started = True
                    self._waiting -= 1
                    if self._waiting == self._queued_max() // 2:
                        self._cond.notify_all()  # refill in a batch, not one wake-up per task
                    if f.first_start is None:
                        f.first_start = t0
                if data and f.failed is None:
                    f.attempts += 1
                begin = kind != "head" and f.state == FileState.QUEUED and f.failed is None
                if begin:
                    f.state = FileState.UPLOADING
                failed = f.failed
            if begin:
                self.progress.file_state(path, FileState.UPLOADING)
            if failed is not None:
                raise Withdrawn(f"not sent: the file already failed ({failed})")
            counted = 0

            def on_sent(n: int) -> None:
                nonlocal counted
                counted += n
                sent(n)
                self.progress.file_sent(path, n)

            try:
                result = call(on_sent)
            except Exception as e:
                if counted:
                    self.progress.file_sent(path, -counted)
                if not isinstance(e, _FileProblem):
                    with contextlib.suppress(Exception):
                        e.s3tui_key = key  # type: ignore[attr-defined]
                raise
            if data:
                t1 = time.monotonic()
                with self._cond:
                    f.ok_start = t0 if f.ok_start is None else min(f.ok_start, t0)
                    f.ok_end = t1 if f.ok_end is None else max(f.ok_end, t1)
            return result

        def on_success(result: Any) -> None:
            try:
                if probe:
                    self._set_probe(probe_kind, "passed")
                done(result)
            except _FileProblem as e:
                self._fail_file(f, str(e))
            except Exception as e:  # never let a callback kill a worker thread
                self._fail_file(f, f"internal error: {type(e).__name__}: {e}")
            finally:
                self._task_finished(f)

        def on_failure(failure: Failure) -> None:
            try:
                self._on_task_failure(f, failure, kind, probe)
            finally:
                self._task_finished(f)

        return Task(
            label,
            size,
            attempt,
            on_success,
            on_failure,
            part=part,
            file=path if data else None,
            fixed_deadline=None if data else CONTROL_DEADLINE,
            max_attempts=PREFLIGHT_ATTEMPTS if probe else None,
        )

    def _on_task_failure(self, f: _File, failure: Failure, kind: str, probe: bool) -> None:
        if self._stop.is_set():
            return  # cut by the stop path: not this file's fault
        message = failure.message
        if kind == "head" and failure.reason == "AccessDenied":
            message = (
                f"access denied reading s3://{self.remote.bucket}/{f.entry.key}: --skip-existing "
                "needs s3:GetObject (or drop --skip-existing)"
            )
        local = failure.reason in LOCAL_REASONS
        if (probe and not local) or failure.reason in JOB_FATAL:
            self.fail(message)
            return
        if probe:
            self._set_probe("head" if kind == "head" else "write", "none")
        if failure.reason != "withdrawn":
            self._fail_file(f, message)

    def _put_task(self, f: _File, probe: bool) -> Task:
        e = f.entry
        args = self._object_args(e)

        inline = e.size <= INLINE_MAX

        def call(sent: Callable[[int], None]) -> tuple[int, dict[str, Any]]:
            if inline:
                # Small files go as bytes: one read serves the CRC and the body, and botocore
                # sends no "Expect: 100-continue" for bytes, saving a round trip per file
                # (py-spy: ~15% of a 2,000-small-file run waited on 100-continue). What is
                # sent is fixed once read, so the file is checked right after the read.
                data = read_unchanged(e)
                crc = crc32c(data)
                if self.transfer.limiter is not None:
                    self.transfer.limiter.throttle(len(data))
                resp = self.remote.put_object(e.key, data, len(data), crc, args)
                sent(len(data))
                return crc, resp
            self._check_unchanged(f)
            crc = crc32c_range(e.path, 0, e.size)
            with open_body(e.path, 0, e.size, sent, self.transfer.limiter) as body:
                return crc, self.remote.put_object(e.key, body, e.size, crc, args)

        def done(result: tuple[int, dict[str, Any]]) -> None:
            crc, resp = result
            if not inline:  # its body was read while it was sent: was the file changed?
                try:
                    self._check_unchanged(f, allow_vanished=True)
                except _FileProblem:
                    self._delete_object(f)
                    raise
            f.etag = (resp.get("ETag") or "").strip('"') or None
            f.checksum = crc32c_b64(crc)
            self.progress.add_read(e.size)
            self._file_done(f)

        return self._task(f, e.rel, e.size, call, done, "data", probe=probe)

    def _create_task(self, f: _File, probe: bool) -> Task:
        e = f.entry
        args = self._object_args(e)

        def call(sent: Callable[[int], None]) -> str:
            self._check_unchanged(f)
            return self.remote.create_multipart(e.key, args)

        def done(upload_id: str) -> None:
            with self._cond:
                f.upload_id = upload_id
                self._ready.append(f)
                self._cond.notify_all()

        return self._task(f, f"{e.rel} (create)", 0, call, done, "control", probe=probe)

    def _part_task(self, f: _File, n: int) -> Task:
        e = f.entry
        offset, length = f.part_range(n)
        upload_id = f.upload_id
        assert upload_id is not None

        def call(sent: Callable[[int], None]) -> tuple[str, int]:
            self._check_unchanged(f)
            crc = crc32c_range(e.path, offset, length)
            with open_body(e.path, offset, length, sent, self.transfer.limiter) as body:
                etag, _ = self.remote.upload_part(e.key, upload_id, n, body, length, crc)
            return etag, crc

        def done(result: tuple[str, int]) -> None:
            self.progress.add_read(length)
            with self._cond:
                f.parts[n] = result
                if len(f.parts) == f.nparts:
                    self._completes.append(f)
                    self._cond.notify_all()

        return self._task(f, f"{e.rel}#{n}", length, call, done, "data", part=n)

    def _complete_task(self, f: _File) -> Task:
        e = f.entry
        upload_id = f.upload_id
        assert upload_id is not None
        ordered = sorted((n, etag, crc) for n, (etag, crc) in f.parts.items())
        expected = composite_crc32c_b64([crc for _, _, crc in ordered])

        attempts = itertools.count()

        def call(sent: Callable[[int], None]) -> dict[str, Any]:
            # After every part was read: a change since the listing means a torn object.
            self._check_unchanged(f, allow_vanished=True)
            f.completing = True
            retried = next(attempts) > 0
            return self.remote.complete_or_confirm(e.key, upload_id, ordered, e.size, retried)

        def done(resp: dict[str, Any]) -> None:
            with self._cond:
                f.upload_id = None  # completed: nothing to abort any more
            reported = resp.get("ChecksumCRC32C")
            problem = None
            if reported is not None and reported != expected:
                problem = f"checksum {reported} != local {expected}"
            elif reported is None:  # a store that reports no checksum: check the size at least
                try:
                    with self.transfer.watchdog.guard(CONTROL_DEADLINE):
                        head = self.remote.head(e.key)
                except Exception as err:
                    raise _FileProblem("integrity", f"stored, but not verified: {err}") from None
                if head is None or head.get("ContentLength") != e.size:
                    problem = f"size {head and head.get('ContentLength')} != {e.size} bytes read"
            if problem:
                self._delete_object(f)
                raise _FileProblem(
                    "integrity", f"integrity check failed ({problem}); the object was deleted"
                )
            f.etag = (resp.get("ETag") or "").strip('"') or None
            f.checksum = expected
            self._file_done(f)

        return self._task(f, f"{e.rel} (complete)", 0, call, done, "control")

    def _head_task(self, f: _File, probe: bool) -> Task:
        e = f.entry

        def call(sent: Callable[[int], None]) -> dict[str, Any] | None:
            return self.remote.head(e.key)

        def done(head: dict[str, Any] | None) -> None:
            why = self._same_object(f, head)
            if why is not None:
                self._file_skipped(f, why)
                return
            with self._cond:
                self._writes.append(f)
                self._cond.notify_all()

        return self._task(f, f"{e.rel} (check)", 0, call, done, "head", probe=probe)

    # --- file outcomes ---
    def _file_done(self, f: _File) -> None:
        with self._cond:
            if f.failed is not None:
                return
            f.state = FileState.DONE
        self.progress.file_state(f.entry.path, FileState.DONE)

    def _file_skipped(self, f: _File, why: str) -> None:
        with self._cond:
            f.state = FileState.SKIPPED
            self._total_bytes -= f.entry.size
            self._total_parts -= f.nparts
            total, parts = self._total_bytes, self._total_parts
        self.progress.set_total(total, parts_total=parts)
        self.progress.file_state(f.entry.path, FileState.SKIPPED, reason=why)

    def _fail_file(self, f: _File, message: str) -> None:
        with self._cond:
            if f.failed is not None or f.state in (FileState.DONE, FileState.SKIPPED):
                return
            f.failed = message
            f.state = FileState.FAILED
        self.progress.file_state(f.entry.path, FileState.FAILED, reason=message)
        self.progress.event("warning", f.entry.path, reason=message, next="the other files go on")

    def _task_finished(self, f: _File) -> None:
        with self._cond:
            f.inflight -= 1
            settle = (
                f.inflight == 0
                and not f.settled
                and (f.failed is not None or f.state in (FileState.DONE, FileState.SKIPPED))
            )
            if settle:
                f.settled = True
        if not settle:
            return
        if f.failed is not None:
            self._abort(f)
        f.end = time.monotonic()
        f.stat = self._file_stat(f)
        self._tell_file(f.stat)
        with self._cond:
            self._unsettled -= 1
            if self._unsettled == 0:
                self._cond.notify_all()

    def _set_probe(self, kind: str, state: str) -> None:
        with self._cond:
            if self._probe[kind] != "passed":
                self._probe[kind] = state
            self._cond.notify_all()

    # --- local file checks ---
    def _check_unchanged(self, f: _File, allow_vanished: bool = False) -> None:
        """The file must still be what was listed; a vanished file is fine once fully read."""
        try:
            st = os.stat(f.entry.path)
        except OSError as err:
            if allow_vanished and isinstance(err, FileNotFoundError):
                return
            raise local_problem(err) from None
        require_listed(f.entry, st)

    def _same_object(self, f: _File, head: dict[str, Any] | None) -> str | None:
        """Why the stored object already holds this file (skip it), or None (upload it)."""
        e = f.entry
        if head is None or head.get("ContentLength") != e.size:
            return None
        self._check_unchanged(f)
        crc_c, crc_32 = head.get("ChecksumCRC32C"), head.get("ChecksumCRC32")
        if crc_c:
            count = crc_c.partition("-")[2]
            if not count:
                same = crc_c == crc32c_b64(crc32c_range(e.path, 0, e.size))
            elif int(count) == 1:
                same = crc_c == composite_crc32c_b64([crc32c_range(e.path, 0, e.size)])
            elif f.part_size and int(count) == f.nparts:
                crcs = [crc32c_range(e.path, *f.part_range(n)) for n in range(1, f.nparts + 1)]
                same = crc_c == composite_crc32c_b64(crcs)
            else:
                return None  # another part plan: cannot compare, so upload again
            return "exists with the same size and CRC32C" if same else None
        if crc_32:
            if "-" in crc_32:
                return None
            crc = 0
            for block in blocks(e.path, 0, e.size):
                crc = zlib.crc32(block, crc)
            same = crc_32 == base64.b64encode(crc.to_bytes(4, "big")).decode()
            return "exists with the same size and CRC32" if same else None
        etag = str(head.get("ETag") or "").strip('"')
        if len(etag) == 32 and "-" not in etag:
            md5 = hashlib.md5(usedforsecurity=False)
            for block in blocks(e.path, 0, e.size):
                md5.update(block)
            return "exists with the same size and MD5" if md5.hexdigest() == etag else None
        return "exists with the same size (no checksum to compare)"

    # --- S3 side effects outside the retry loop ---
    def _object_args(self, e: Entry) -> dict[str, Any]:
        args = dict(self._base_args)
        args.setdefault("ContentType", guess_content_type(e.path))
        return args

    def _abort(self, f: _File) -> None:
        with self._cond:
            upload_id, f.upload_id = f.upload_id, None
        if upload_id is None:
            return
        self._abort_uploads([(f.entry.key, upload_id, f.entry.path)])

    def _tell_file(self, stat: FileStat) -> None:
        for fn in list(self._on_file):
            try:
                fn(stat)
            except Exception as e:  # e.g. --stats-file on a full disk: say so once, go on
                with self._cond:
                    if fn not in self._on_file:
                        continue  # another worker's call failed first and said so
                    self._on_file.remove(fn)
                self.progress.event(
                    "warning",
                    "stats",
                    reason=f"cannot record files: {error_line(e)}",
                    next="the upload goes on without them",
                )

    def _delete_object(self, f: _File) -> None:
        try:
            with self.transfer.watchdog.guard(CONTROL_DEADLINE):
                self.remote.delete(f.entry.key)
        except Exception as e:  # reported; the file is failed either way
            self.progress.event(
                "warning",
                f.entry.path,
                reason=f"could not delete s3://{self.remote.bucket}/{f.entry.key}: {e}",
                next="delete it by hand",
            )

    def _classify(self, e: BaseException) -> Failure:
        if isinstance(e, _FileProblem):
            return Failure(False, False, e.reason, str(e))
        key = getattr(e, "s3tui_key", "")
        return classify(e, self.remote.bucket, key, self.remote.endpoint)

    # --- the end ---
    def _cleanup(self) -> None:
        self._stop_workers()
        try:
            self._settle_open_uploads()
            self._settle_lost_creates()
        finally:
            self.transfer.close()
        for f in self.files:
            if not f.settled:
                self._tell_file(self._file_stat(f))
        self.file_stats = [f.stat or self._file_stat(f) for f in self.files]

    def _settle_open_uploads(self) -> None:
        """Abort every upload still open, all at once; a file whose completion was sent and
        whose upload is gone may have been stored after all: it counts as uploaded only if
        the object is exactly its parts."""
        open_files = [f for f in self.files if f.upload_id is not None]
        ids = {f.upload_id: f for f in open_files}
        for f in open_files:
            f.upload_id = None
        outcomes = self._abort_uploads([(f.entry.key, u, f.entry.path) for u, f in ids.items()])
        for upload_id, outcome in outcomes.items():
            f = ids[upload_id]
            if outcome is AbortOutcome.UNCONFIRMED:
                self._unconfirmed += 1
            if outcome is AbortOutcome.ABORTED or not f.completing or f.failed is not None:
                continue
            ordered = sorted((n, etag, crc) for n, (etag, crc) in f.parts.items())
            seconds = self._stop_time_left(ABORT_ATTEMPT)
            with contextlib.suppress(Exception), self.transfer.watchdog.guard(seconds):
                found = self.remote.completed_already(f.entry.key, f.entry.size, ordered)
                if found is not None:
                    f.etag = (found.get("ETag") or "").strip('"') or None
                    f.checksum = composite_crc32c_b64([crc for _, _, crc in ordered])
                    f.state = FileState.DONE
                    self.progress.file_state(f.entry.path, FileState.DONE)

    def left_behind(self) -> str | None:
        if self._unconfirmed:
            n = self._unconfirmed
            return (
                f"{n} multipart upload{'s' if n != 1 else ''} could not be aborted (`s3tui "
                "cleanup` retries); files already uploaded stay"
            )
        return None

    def _file_stat(self, f: _File) -> FileStat:
        end = f.end if f.end is not None else time.monotonic()
        total = (end - f.first_start) * 1000 if f.first_start is not None else 0.0
        success = None
        if f.state == FileState.DONE and f.ok_start is not None and f.ok_end is not None:
            success = (f.ok_end - f.ok_start) * 1000
        return FileStat(
            file=f.entry.path,
            key=f.entry.key,
            state=f.state.value if f.settled else "unfinished",
            bytes=f.entry.size,
            parts=f.nparts,
            attempts=f.attempts,
            success_ms=round(success, 1) if success is not None else None,
            total_ms=round(total, 1),
            MBps=round(f.entry.size / success / 1000, 5) if success else 0.0,
            MBps_est=round(self.transfer.estimator.value / 1e6, 5),
            reason=f.failed or "",
        )

    def _result(self) -> Result:
        snap = self.progress.snapshot()
        done = [f for f in self.files if f.state == FileState.DONE]
        skipped = sum(1 for f in self.files if f.state == FileState.SKIPPED)
        failed = [*self.walk_failures, *((f.entry.path, f.failed) for f in self.files if f.failed)]
        total = len(self.files) + len(self.walk_failures)
        size = sum(f.entry.size for f in done)
        secs = snap.elapsed
        rate = size / secs / 1e6 if secs > 0 else 0.0
        what = f"{len(done)} file{'s' if len(done) != 1 else ''} ({format_size(size)})"
        extra = f", {skipped} skipped (already there)" if skipped else ""
        if self._outcome is not None:
            code, message = self._final_outcome()
            if done:
                message += f" ({len(done)} of {total} files had been uploaded)"
            phase = Phase.FAILED if code == EXIT_FAILED else Phase.CANCELLED
            failed = [(p, r) for p, r in failed if "not sent" not in r]
        elif failed:
            code = EXIT_FAILED
            message = (
                f"{len(failed)} of {total} files failed; uploaded {what} to "
                f"{self.progress.dest} in {secs:.1f}s{extra}"
            )
            phase = Phase.FAILED
        elif not total:
            code, message, phase = 0, "nothing to upload: no files matched", Phase.DONE
        else:
            code = 0
            message = (
                f"uploaded {what} to {self.progress.dest} in {secs:.1f}s ({rate:.1f} MB/s, "
                f"{snap.parts_done} part{'s' if snap.parts_done != 1 else ''}, "
                f"{snap.retries} {'retry' if snap.retries == 1 else 'retries'}){extra}"
            )
            phase = Phase.DONE
        self.progress.set_phase(phase, message)
        one = done[0] if len(self.files) == 1 and done else None
        return Result(
            code,
            message,
            size=size,
            seconds=secs,
            parts=snap.parts_done,
            retries=snap.retries,
            etag=one.etag if one else None,
            checksum=one.checksum if one else None,
            failed_files=tuple(failed),
        )
