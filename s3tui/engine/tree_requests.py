"""The requests of a tree upload, one small unit per kind, and the bookkeeping around each.

A kind (:func:`put`, :func:`create`, :func:`part`, :func:`complete`, :func:`head`) says what one
request of a file sends (``call``, in a worker, once per attempt) and what its success means for
the file (``done``, in the worker). :class:`FileRequest` wraps it as a pool
:class:`~s3tui.engine.transfer.Task`: the file's counters and state, its progress, a request
withdrawn because its file already failed, and what a failure means (the job decides).

Each request computes the checksum (the store's algorithm in effect, engine/checksums.py) of
what it sends just before sending it, in the worker, so many files are hashed in parallel; the
server verifies it. Bigger files are stat'ed before every
request and again after all their bytes were read (never stored torn).

Resuming (engine/tree_resume.py): a multipart file's first request may take over an upload an
interrupted run left open instead of creating one, and a part whose stored copy proves to be the
local bytes is kept, not sent (:class:`Reused`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from s3tui.engine.checksums import CRC32C
from s3tui.engine.journal import Journal
from s3tui.engine.localfile import FileProblem, open_body, read_unchanged
from s3tui.engine.multipart import (
    CONTROL_DEADLINE,
    PREFLIGHT_ATTEMPTS,
    Completion,
    IntegrityError,
    verify_stored,
)
from s3tui.engine.progress import FileState, Progress
from s3tui.engine.remote import Failure, ObjectInfo, S3Store, Stored, UploadInfo
from s3tui.engine.remote.errors import answer_lost, error_code
from s3tui.engine.resume import copies_by_number
from s3tui.engine.scheduler import FileUpload, Probe, Request, RequestKind, Scheduler
from s3tui.engine.skip import FileFacts, same_object
from s3tui.engine.transfer import Task, Transfer, Withdrawn
from s3tui.engine.tree_resume import (
    MAX_CANDIDATES,
    Candidate,
    TakenOver,
    fingerprint,
    foreign,
    proves,
    source_of,
    stored_copy,
    stored_plan,
)
from s3tui.engine.walk import Entry

INLINE_MAX = 1024 * 1024  # files up to this size are sent from memory, as bytes


class TreeJob(Protocol):
    """What the requests use of the tree job (:class:`~s3tui.engine.tree.TreeUpload`)."""

    remote: S3Store
    transfer: Transfer
    progress: Progress
    scheduler: Scheduler
    journal: Journal | None
    _cond: threading.Condition

    def classify_for(self, e: BaseException, key: str = "") -> Failure: ...
    def _began_locked(self) -> None: ...
    def _probe_passed(self, probe: Probe) -> None: ...
    def _on_task_failure(self, req: Request, failure: Failure) -> None: ...
    def _task_finished(self, f: FileUpload) -> None: ...
    def _check_unchanged(self, f: FileUpload, allow_vanished: bool = False) -> None: ...
    def _object_args(self, e: Entry) -> dict[str, Any]: ...
    def _file_done(self, f: FileUpload) -> None: ...
    def _file_skipped(self, f: FileUpload, why: str) -> None: ...
    def _fail_file(self, f: FileUpload, message: str) -> None: ...
    def _delete_object(self, f: FileUpload) -> None: ...
    def _delete_failed(self, f: FileUpload, e: BaseException) -> None: ...
    def _open_uploads(self) -> tuple[list[UploadInfo], set[str]]: ...
    def _taken_over(self, f: FileUpload, taken: TakenOver) -> None: ...
    def _left_alone(self, f: FileUpload, cand: Candidate, why: str) -> None: ...
    def _part_reused(self, f: FileUpload, n: int, etag: str, crc: int, length: int) -> None: ...
    def _part_differs(self, f: FileUpload, n: int) -> None: ...


class Reused(Withdrawn):
    """The part an interrupted run stored is the local bytes: kept, nothing to send (no attempt
    recorded, no bandwidth sample: what was measured is a local read)."""


Call = Callable[[Callable[[int], None]], Any]
Done = Callable[[Any], None]


class FileRequest:
    """One request of file ``req.file`` as a pool task."""

    def __init__(
        self, job: TreeJob, req: Request, label: str, size: int, call: Call, done: Done
    ) -> None:
        self.job, self.req, self.file = job, req, req.file
        self.label, self.size, self.call, self.done = label, size, call, done
        self._started = False
        self.data = req.kind.carries_data
        with job._cond:
            self.file.inflight += 1
        if self.data:  # control requests (create, complete, head) are not shown as parts
            job.progress.part_added(label, size, number=req.part, file=self.file.entry.path)

    def task(self) -> Task:
        key = self.file.entry.key
        return Task(
            self.label,
            self.size,
            self.attempt,
            self.on_success,
            self.on_failure,
            part=self.req.part,
            file=self.file.entry.path if self.data else None,
            fixed_deadline=None if self.data else CONTROL_DEADLINE,
            max_attempts=PREFLIGHT_ATTEMPTS if self.req.probe else None,
            classify=lambda e: self.job.classify_for(e, key),
            hedge=self.req.kind is RequestKind.PART,
        )

    def attempt(self, sent: Callable[[int], None]) -> Any:
        job, f = self.job, self.file
        t0 = time.monotonic()
        with job._cond:
            if not self._started:
                self._started = True
                job._began_locked()
                if f.first_start is None:
                    f.first_start = t0
            if self.data and f.failed is None:
                f.attempts += 1
            begin = (
                self.req.kind is not RequestKind.HEAD
                and f.state == FileState.QUEUED
                and f.failed is None
            )
            if begin:
                f.state = FileState.UPLOADING
            failed = f.failed
        if begin:
            job.progress.file_state(f.entry.path, FileState.UPLOADING)
        if failed is not None:
            raise Withdrawn(f"not sent: the file already failed ({failed})")
        counted = 0

        def on_sent(n: int) -> None:
            nonlocal counted
            counted += n
            sent(n)
            job.progress.file_sent(f.entry.path, n)

        try:
            result = self.call(on_sent)
        except Exception as e:
            if isinstance(e, Reused):
                with job._cond:
                    f.attempts -= 1  # nothing was sent
            if self.req.kind is RequestKind.PUT:
                f.unanswered = answer_lost(e)
            if counted:
                job.progress.file_sent(f.entry.path, -counted)
            raise
        f.unanswered = False
        if self.data:
            t1 = time.monotonic()
            with job._cond:
                f.ok_start = t0 if f.ok_start is None else min(f.ok_start, t0)
                f.ok_end = t1 if f.ok_end is None else max(f.ok_end, t1)
        return result

    def on_success(self, result: Any) -> None:
        try:
            if self.req.probe:
                self.job._probe_passed(self.req.kind.probe)
            self.done(result)
        except FileProblem as e:
            self.job._fail_file(self.file, str(e))
        except Exception as e:  # never let a callback kill a worker thread
            self.job._fail_file(self.file, f"internal error: {type(e).__name__}: {e}")
        finally:
            self.job._task_finished(self.file)

    def on_failure(self, failure: Failure) -> None:
        try:
            self.job._on_task_failure(self.req, failure)
        finally:
            self.job._task_finished(self.file)


# --- the kinds: (label, size, call, done) ---
Parts = tuple[str, int, Call, Done]


def put(job: TreeJob, f: FileUpload) -> Parts:
    """A whole file in one PutObject."""
    e, args, limiter = f.entry, job._object_args(f.entry), job.transfer.limiter
    inline = e.size <= INLINE_MAX
    tries = 0

    def call(sent: Callable[[int], None]) -> tuple[str | None, Stored]:
        nonlocal tries
        tries += 1
        checksum = job.remote.checksum
        if inline:
            # Small files go as bytes: one read serves the checksum and the body, and botocore
            # sends no "Expect: 100-continue" for bytes, saving a round trip per file. What
            # is sent is fixed once read, so the file is checked right after the read.
            data = read_unchanged(e)
            crc = checksum.algorithm.of(data)
            if limiter is not None:
                limiter.throttle(len(data))
            resp = job.remote.put_object(e.key, data, len(data), crc, args, tries > 1)
            sent(len(data))
            # A store that refused the checksum was sent the fallback's (at once, from data).
            now = job.remote.checksum
            return now.single(crc if now == checksum else now.algorithm.of(data)), resp
        job._check_unchanged(f)
        crc = checksum.algorithm.of_file(e.path, 0, e.size)
        with open_body(e.path, 0, e.size, sent, limiter) as body:
            resp = job.remote.put_object(e.key, body, e.size, crc, args, tries > 1)
            return checksum.single(crc), resp

    def done(result: tuple[str | None, Stored]) -> None:
        expected, stored = result
        if not inline:  # its body was read while it was sent: was the file changed?
            try:
                job._check_unchanged(f, allow_vanished=True)
            except FileProblem:
                job._delete_object(f)
                raise
        f.etag = stored.etag
        f.checksum = expected
        job.progress.add_read(e.size)
        job._file_done(f)

    return e.rel, e.size, call, done


def create(job: TreeJob, f: FileUpload) -> Parts:
    """CreateMultipartUpload, or the take-over of an upload an interrupted run left open (first
    aborting s3tui's own ones that cannot be resumed): the file's parts may go once it answered."""
    e, args = f.entry, job._object_args(f.entry)

    def call(sent: Callable[[int], None]) -> str | TakenOver:
        job._check_unchanged(f)
        plan = f.resume
        while plan.drop:  # a retry goes on where the last attempt stopped
            job.remote.abort(e.key, plan.drop[0])
            plan.drop.pop(0)
        taken = take_over(job, f)
        if taken is not None:
            return taken
        if job.journal is not None:
            source = source_of(e, f.part_size, fingerprint(args))
            job.journal.describe(job.remote.bucket, e.key, source)
        return job.remote.create_multipart(e.key, args)

    def done(result: str | TakenOver) -> None:
        if isinstance(result, TakenOver):
            job._taken_over(f, result)
            upload_id = result.upload_id
        else:
            upload_id = result
        with job._cond:
            f.upload_id = upload_id
            job.scheduler.created(f)
            job._cond.notify_all()

    return f"{e.rel} (create)", 0, call, done


# Answers that mean an upload's parts cannot be listed: it is not resumed (and not touched).
_UNLISTABLE = frozenset({"NoSuchUpload", "404", "AccessDenied", "NotImplemented"})


def take_over(job: TreeJob, f: FileUpload) -> TakenOver | None:
    """The first candidate upload of ``f``'s key whose stored parts can be resumed; own ones
    that cannot are aborted, other ones left alone. Candidates the journal names come first,
    then (once) the key's other open uploads, newest first."""
    e, plan = f.entry, f.resume
    tried = 0
    while True:
        if not plan.candidates and not plan.listed:
            found, known = job._open_uploads()
            plan.candidates = foreign(found, e.key, known, MAX_CANDIDATES - tried)
            plan.listed = True
        if not plan.candidates:
            return None
        cand = plan.candidates[0]
        try:
            listed = job.remote.list_parts(e.key, cand.upload_id)
        except Exception as err:
            if error_code(err) not in _UNLISTABLE:
                raise  # retried: the candidate stays first
            plan.candidates.pop(0)
            tried += 1
            continue
        found_plan = stored_plan(copies_by_number(listed), e.size, cand.part_size, f.part_size)
        plan.candidates.pop(0)
        tried += 1
        if found_plan is not None:
            part_size, fit = found_plan
            if cand.vouched or proves(e.path, part_size, e.size, fit):
                # Older own uploads of the key are of no more use.
                plan.drop.extend(c.upload_id for c in plan.candidates if c.own)
                plan.candidates.clear()
                while plan.drop:
                    job.remote.abort(e.key, plan.drop[0])
                    plan.drop.pop(0)
                stored = sum(c[0].size for c in fit.values())
                return TakenOver(cand.upload_id, part_size, fit, stored, cand.own)
        why = "holds no part of this file's bytes"
        if cand.own:
            job.remote.abort(e.key, cand.upload_id)
            job._left_alone(f, cand, f"{why}: aborted, the file starts over")
        else:
            job._left_alone(f, cand, f"{why} (not s3tui's by this host's journal): left alone")


def part(job: TreeJob, f: FileUpload, n: int) -> Parts:
    """UploadPart ``n``: its range of the file, read straight from the file; or, when an upload
    taken over holds a copy of it that is the local bytes, nothing sent (:class:`Reused`)."""
    e = f.entry
    offset, length = f.part_range(n)
    upload_id = f.upload_id
    assert upload_id is not None
    copies = f.stored.get(n)

    def call(sent: Callable[[int], None]) -> tuple[str, int]:
        nonlocal copies
        job._check_unchanged(f)
        crc: int | None = None
        algorithm = job.remote.checksum.algorithm
        if copies:  # hashed in this worker: a big file's parts are checked in parallel
            copy, local = stored_copy(e.path, copies, n, offset, length)
            if copy is not None and copy.etag:
                value = (
                    local.crc32c
                    if algorithm is CRC32C
                    else algorithm.of_file(e.path, offset, length)
                )
                job._part_reused(f, n, copy.etag, value, length)
                raise Reused(f"part {n} of {e.rel} is stored already")
            copies = None  # a retry sends without hashing again
            if algorithm is CRC32C:
                crc = local.crc32c
            job._part_differs(f, n)
        if crc is None:
            crc = algorithm.of_file(e.path, offset, length)
        with open_body(e.path, offset, length, sent, job.transfer.limiter) as body:
            stored = job.remote.upload_part(e.key, upload_id, n, body, length, crc)
        return stored.etag or "", crc

    def done(result: tuple[str, int]) -> None:
        job.progress.add_read(length)
        if f.parts.add(n, *result, length) == f.nparts:
            with job._cond:
                job.scheduler.parts_stored(f)
                job._cond.notify_all()

    return f"{e.rel}#{n}", length, call, done


def complete(job: TreeJob, f: FileUpload) -> Parts:
    """CompleteMultipartUpload, then the check of what was stored."""
    e = f.entry
    assert f.upload_id is not None
    completion = Completion(job.remote, e.key, f.upload_id, f.parts, e.size)

    def call(sent: Callable[[int], None]) -> Stored:
        # After every part was read: a change since the listing means a torn object.
        job._check_unchanged(f, allow_vanished=True)
        f.completing = True
        return completion.attempt()

    def verify_head() -> ObjectInfo | None:
        try:
            with job.transfer.watchdog.guard(CONTROL_DEADLINE):
                return job.remote.head(e.key)
        except Exception as err:
            raise FileProblem("integrity", f"stored, but not verified: {err}") from None

    def done(stored: Stored) -> None:
        with job._cond:
            f.upload_id = None  # completed: nothing to abort any more
        try:
            verify_stored(
                job.remote,
                job.transfer.watchdog,
                e.key,
                e.size,
                stored,
                completion.expected,
                verify_head,
            )
        except IntegrityError as err:
            if err.delete_error is not None:
                job._delete_failed(f, err.delete_error)
            raise FileProblem(
                "integrity", f"integrity check failed ({err.problem}); the object was deleted"
            ) from None
        f.etag = stored.etag
        f.checksum = completion.expected
        job._file_done(f)

    return f"{e.rel} (complete)", 0, call, done


def head(job: TreeJob, f: FileUpload) -> Parts:
    """HeadObject for --skip-existing: skip the file, or queue it to be written."""
    e = f.entry

    def call(sent: Callable[[int], None]) -> ObjectInfo | None:
        return job.remote.head(e.key)

    def done(found: ObjectInfo | None) -> None:
        facts = FileFacts(e.path, e.size, f.part_ranges(), lambda: job._check_unchanged(f))
        why = same_object(found, facts)
        if why is not None:
            job._file_skipped(f, why)
            return
        with job._cond:
            job.scheduler.checked(f)
            job._cond.notify_all()

    return f"{e.rel} (check)", 0, call, done


def task_for(job: TreeJob, req: Request) -> Task:
    """The pool task of one scheduled request."""
    f = req.file
    if req.kind is RequestKind.PART:
        assert req.part is not None
        parts = part(job, f, req.part)
    else:
        parts = {
            RequestKind.PUT: put,
            RequestKind.CREATE: create,
            RequestKind.COMPLETE: complete,
            RequestKind.HEAD: head,
        }[req.kind](job, f)
    return FileRequest(job, req, *parts).task()
