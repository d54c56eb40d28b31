"""Upload a stream (stdin, a pipe) of unknown length: spool chunks, upload parts as they fill.

The reader runs in the caller's thread: it reserves spool space (waiting while the spool is full),
writes one chunk file while computing its CRC32C, and hands the full chunk to the worker pool.
Workers upload it as one part and delete it. At end of stream the last part goes up and the
upload is completed and verified. A stream shorter than one chunk becomes a single PutObject.

Every way out of :meth:`StreamUpload.run` goes through one ``finally``: cut requests in flight,
abort the multipart upload unless it completed, delete the spool, report the exit code.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from s3tui.engine.body import FileRangeBody
from s3tui.engine.config import ObjectOptions, UploadConfig
from s3tui.engine.job import ABORT_ATTEMPT, AbortOutcome, Result, SteeredJob, Stop
from s3tui.engine.multipart import (
    CONTROL_DEADLINE,
    PREFLIGHT_ATTEMPTS,
    Completion,
    IntegrityError,
    PartTable,
    uploaded_line,
    verify_stored,
)
from s3tui.engine.plan import MAX_PARTS, plan_parts
from s3tui.engine.progress import PartState, Phase, Progress
from s3tui.engine.remote import Failure, S3Store, Stored, classify, crc32c_b64
from s3tui.engine.remote.errors import answer_lost
from s3tui.engine.source import SourceError, Stopped, StreamSource
from s3tui.engine.spool import Spool
from s3tui.engine.stats import AttemptRecord, FileStat
from s3tui.engine.transfer import Task, Transfer
from s3tui.errors import EXIT_FAILED
from s3tui.sizes import format_size


class Producer(Protocol):
    """The process writing the stream, when s3tui started it (``put --from CMD``).

    A pipe's end looks the same whether the producer finished or died, so only a producer whose
    exit status s3tui can see may decide that the stream is whole.
    """

    def finished(self) -> str | None:
        """Called at end of stream, before anything completes: waits for the producer's exit;
        None if it succeeded, else one line saying how it failed (the upload is aborted)."""
        ...

    def stop(self) -> None:
        """The upload is stopping (failure, signal): stop the producer too. Idempotent."""
        ...


class StreamUpload(SteeredJob):
    """An :class:`~s3tui.engine.job.UploadJob` for one stream to one key."""

    def __init__(
        self,
        source_fd: int,
        remote: S3Store,
        key: str,
        cfg: UploadConfig,
        options: ObjectOptions | None = None,
        on_record: list[Callable[[AttemptRecord], None]] | None = None,
        source_label: str = "stdin",
        producer: Producer | None = None,
    ) -> None:
        self.source_fd = source_fd
        self.producer = producer
        self.remote = remote
        self.key = key
        self.cfg = cfg
        self.options = options or ObjectOptions()
        self.progress = Progress(source_label, f"s3://{remote.bucket}/{key}")
        self.progress.set_expected(cfg.expected_size)
        self.transfer = Transfer(
            cfg,
            self.progress,
            classify=lambda e: classify(e, remote.bucket, key, remote.endpoint),
            on_record=on_record,
        )
        self._init_steering()
        # Hedges are always worth a slot once the last part is submitted; the spool holds one
        # chunk per request in flight, so --max-spool bounds a tuned concurrency.
        self.transfer.tail = lambda: self.progress.phase is Phase.COMPLETING
        self._part_size = cfg.chunk_size
        if cfg.max_spool is not None:
            max_spool = cfg.max_spool
            self.transfer.spool_bound = lambda: max(1, max_spool // self._part_size)
        self._parts = PartTable()
        self._outstanding = 0
        self.spool: Spool | None = None
        self._source: StreamSource | None = None
        self.upload_id: str | None = None
        # The request that makes the object (PutObject, or CompleteMultipartUpload with its
        # parts), once it was sent: a stop after that must find out what the server did.
        self._final_put: tuple[int, int] | None = None  # (size, crc32c)
        self._final_parts: tuple[list[tuple[int, str, int]], int] | None = None  # (parts, size)
        self._left: str | None = None
        self._fate_unknown = False  # the final request was sent and no answer came back

    @property
    def file_stats(self) -> Sequence[FileStat]:
        return ()  # one stream, no files

    # --- the job ---
    def run(self) -> Result:
        completed = False
        result: Result | None = None
        try:
            self.spool = Spool(
                self.cfg.spool_dir, self.cfg.spool_limit(self.cfg.chunk_size, self.cfg.concurrency)
            )
            self.progress.spool_fn = self.spool.usage
            spool_dir = self.spool.dir
            # The preflight: the exact permission the upload needs, checked before reading.
            self.upload_id = self._control(
                "create upload",
                lambda: self.remote.create_multipart(
                    self.key, self.options.to_s3_args(), spool_dir=str(spool_dir)
                ),
                max_attempts=PREFLIGHT_ATTEMPTS,
            )
            self._source = StreamSource(
                self.source_fd, self.progress.source, self._stop, self.progress.add_read
            )
            self.progress.set_phase(Phase.RUNNING)
            self.transfer.start()
            result = self._stream()
            completed = result is not None
        except (Stop, Stopped):
            pass
        except Exception as e:  # the stop path reports it; nothing may escape uncleaned
            self.fail(_describe(e, self.spool))
        finally:
            self._cleanup(completed)
        if result is not None:
            self.progress.set_phase(Phase.DONE, result.message)
            return result
        code, message = self._final_outcome()
        phase = Phase.FAILED if code == EXIT_FAILED else Phase.CANCELLED
        self.progress.set_phase(phase, message)
        snap = self.progress.snapshot()
        return Result(
            code,
            message,
            size=snap.bytes_read,
            seconds=snap.elapsed,
            parts=snap.parts_done,
            retries=snap.retries,
        )

    def _stream(self) -> Result | None:
        assert self.spool is not None
        plan = plan_parts(self.cfg.chunk_size, self.cfg.expected_size)
        total = 0
        number = 0
        while True:
            number += 1
            if number > MAX_PARTS:
                self.fail(
                    f"stream exceeds {MAX_PARTS} parts: pass --expected-size or a larger "
                    "--chunk-size"
                )
                raise Stop
            size = plan.size_of(number)
            self._part_size = size
            self.spool.limit = self.cfg.spool_limit(size, self.transfer.gate.ceiling)
            if not self.spool.reserve(size, self._stop):
                raise Stop
            label = f"part {number}"
            self.progress.part_added(label, size, number=number, state=PartState.SPOOLING)
            fd, path = self.spool.create(f"part-{number:05d}")
            try:
                assert self._source is not None
                written, crc, eof = self._source.fill(fd, size)
                self.spool.shrink(size, written, fd)
            finally:
                os.close(fd)
            total += written
            if eof:
                self.spool.last_chunk_written()
                self._check_producer()
            if self.cfg.expected_size is not None and total > self.cfg.expected_size:
                self.fail(
                    f"the stream is larger than --expected-size "
                    f"{format_size(self.cfg.expected_size)}: nothing was stored"
                )
                raise Stop
            if eof and number == 1:
                return self._single_put(path, written, crc, label)
            if eof and written == 0:
                self.spool.remove(path, 0)
                self.progress.part_removed(label)  # an empty tail: no part to upload
                number -= 1
                break
            self._submit_part(number, label, path, written, crc)
            if eof:
                break
        self.progress.set_total(total, parts_total=number)
        self._check_min_size(total)
        self._wait_parts()
        return self._complete(total, number)

    def _submit_part(self, number: int, label: str, path: Path, size: int, crc: int) -> None:
        assert self.spool is not None and self.upload_id is not None
        spool, remote, upload_id = self.spool, self.remote, self.upload_id
        limiter = self.transfer.limiter

        def attempt(sent: Callable[[int], None]) -> Stored:
            with FileRangeBody(path, 0, size, sent, limiter) as body:
                return remote.upload_part(self.key, upload_id, number, body, size, crc)

        def on_success(res: Stored) -> None:
            spool.remove(path, size)
            self._parts.add(number, res.etag or "", crc)
            with self._cond:
                self._outstanding -= 1
                self._cond.notify_all()

        def on_failure(f: Failure) -> None:
            self.fail(f.message)

        with self._cond:
            self._outstanding += 1
        self.progress.part_queued(label, size)
        self.transfer.submit(
            Task(label, size, attempt, on_success, on_failure, part=number, hedge=True)
        )

    def _wait_parts(self) -> None:
        self.progress.set_phase(Phase.COMPLETING)
        with self._cond:
            while self._outstanding > 0:
                if self._stop.is_set():
                    raise Stop
                self._cond.wait(0.2)
        if self._stop.is_set():
            raise Stop

    def _check_producer(self) -> None:
        if self.producer is None:
            return
        problem = self.producer.finished()
        if problem is not None:
            self.fail(f"{problem}: the upload was aborted, nothing was stored")
            raise Stop

    def _check_min_size(self, total: int) -> None:
        if self.cfg.min_size is not None and total < self.cfg.min_size:
            self.fail(
                f"the stream ended at {format_size(total)}, below --min-size "
                f"{format_size(self.cfg.min_size)}: nothing was stored"
            )
            raise Stop

    def _single_put(self, path: Path, size: int, crc: int, label: str) -> Result:
        """A stream shorter than one chunk: one PutObject, no multipart upload needed."""
        assert self.spool is not None and self.upload_id is not None
        self.progress.set_total(size, parts_total=1)
        self._check_min_size(size)
        with contextlib.suppress(Exception):
            self._abort()  # the preflight upload is not needed; abort before the put
        self.upload_id = None
        limiter = self.transfer.limiter

        def attempt(sent: Callable[[int], None]) -> Stored:
            self._final_put = (size, crc)
            with self._final_request(), FileRangeBody(path, 0, size, sent, limiter) as body:
                return self.remote.put_object(self.key, body, size, crc, self.options.to_s3_args())

        self.progress.part_queued(label, size)
        resp = self._run_sync(Task(label, size, attempt, lambda r: None, self._fail_task, part=1))
        self.spool.remove(path, size)
        checksum = crc32c_b64(crc)
        self._verify(size, resp, checksum)
        return self._result(size, 1, resp.etag, checksum)

    def _complete(self, total: int, parts: int) -> Result:
        assert self.upload_id is not None
        if not self._parts.numbered_through(parts):
            self.fail("internal error: parts missing at completion; nothing was stored")
            raise Stop
        completion = Completion(self.remote, self.key, self.upload_id, self._parts, total)
        self._final_parts = (completion.parts, total)

        def complete() -> Stored:
            with self._final_request():
                return completion.attempt()

        resp = self._control("complete upload", complete)
        self.upload_id = None  # completed: nothing to abort any more
        self._verify(total, resp, completion.expected)
        return self._result(total, parts, resp.etag, completion.expected)

    def _verify(self, size: int, answer: Stored, expected: str) -> None:
        """What S3 stored must be what was read: a mismatch fails the upload (and is deleted)."""
        try:
            verify_stored(
                self.remote,
                self.transfer.watchdog,
                self.key,
                size,
                answer,
                expected,
                head=lambda: self._control("verify", lambda: self.remote.head(self.key)),
            )
        except IntegrityError as e:
            self.fail(f"integrity check failed ({e.problem}); the object was deleted: retry")
            raise Stop from None

    def _result(self, size: int, parts: int, etag: str | None, checksum: str) -> Result:
        snap = self.progress.snapshot()
        what, dest = format_size(size), self.progress.dest
        msg = uploaded_line(what, dest, snap.elapsed, size=size, parts=parts, retries=snap.retries)
        return Result(
            0,
            msg,
            size=size,
            seconds=snap.elapsed,
            parts=parts,
            retries=snap.retries,
            etag=etag,
            checksum=checksum,
        )

    # --- requests run in this thread, with the same retry policy as parts ---
    def _fail_task(self, f: Failure) -> None:
        self.fail(f.message)

    def _run_sync(self, task: Task) -> Any:
        box: list[Any] = []
        task.on_success = box.append
        if not self.transfer.run_task(task) or not box:
            raise Stop
        return box[0]

    def _control(self, label: str, call: Callable[[], Any], max_attempts: int | None = None) -> Any:
        task = Task(
            label,
            0,
            lambda sent: call(),
            lambda r: None,
            self._fail_task,
            fixed_deadline=CONTROL_DEADLINE,
            max_attempts=max_attempts,
        )
        return self._run_sync(task)

    def _abort(self) -> AbortOutcome | None:
        if self.upload_id is None:
            return None
        upload_id, self.upload_id = self.upload_id, None
        return self._abort_uploads([(self.key, upload_id, "abort")])[upload_id]

    def _cleanup(self, completed: bool) -> None:
        if self.producer is not None:
            self.producer.stop()
        self._stop_workers()
        try:
            if not completed:
                self._settle()
            self._settle_lost_creates()
        finally:
            self.transfer.close()
            if self.spool is not None:
                self.spool.cleanup()

    def left_behind(self) -> str | None:
        return self._left

    @contextlib.contextmanager
    def _final_request(self) -> Iterator[None]:
        """Around each attempt of the final request: without an answer from the server (cut,
        reset, stopped), whether it took effect is unknown until someone looks."""
        self._fate_unknown = True
        try:
            yield
        except Exception as e:
            self._fate_unknown = answer_lost(e)
            raise
        self._fate_unknown = False

    def _settle(self) -> None:
        """Abort what is open and, if the request that makes the object was sent and no answer
        came back, find out what the server did: the object may be stored all the same."""
        outcome = self._abort()
        # Not even a confirmed abort proves the completion failed: some stores (SeaweedFS)
        # answer an abort of an upload that no longer exists with success.
        sent = self._final_parts is not None or self._final_put is not None
        if sent and (self._fate_unknown or outcome is AbortOutcome.GONE):
            dest = self.progress.dest
            try:
                with self.transfer.watchdog.guard(self._stop_time_left(ABORT_ATTEMPT)):
                    ours = self._stored_is_ours()
            except Exception as e:  # the truth is unknown: say so, never "nothing was stored"
                ours, why = None, f"the check failed: {self.transfer.classify(e).reason}"
            else:
                why = "the store keeps no checksum to compare"
            if ours is None:
                self._left = (
                    f"the last request may have stored {dest} (its answer was lost and {why}): "
                    "check the object before relying on it"
                )
                return
            if ours:
                self._left = f"the upload had already completed: {dest} is stored and verified"
                return
        if outcome is AbortOutcome.UNCONFIRMED:
            self._left = (
                "the abort was not confirmed (`s3tui cleanup` retries it); nothing was stored"
            )

    def _stored_is_ours(self) -> bool | None:
        """Whether the object at the key is exactly what this run sent; None: cannot tell."""
        if self._final_parts is not None:
            parts, size = self._final_parts
            return self.remote.completed_already(self.key, size, parts) is not None
        if self._final_put is None:
            return False
        size, crc = self._final_put
        head = self.remote.head(self.key)
        if head is None or head.size != size:
            return False
        reported = head.checksum_crc32c
        return None if reported is None else reported == crc32c_b64(crc)


def _describe(e: BaseException, spool: Spool | None) -> str:
    """One line for a failure raised outside the request path (spool, source)."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        where = spool.dir if spool else "the spool dir"
        return (
            f"the spool disk is full at {where}: free space, lower --max-spool, or pass "
            "--spool-dir on a bigger disk"
        )
    if isinstance(e, SourceError):
        return str(e)
    from s3tui.errors import S3tuiError

    if isinstance(e, S3tuiError):
        return str(e)
    if isinstance(e, OSError):
        return f"{e.strerror or e}: {getattr(e, 'filename', '') or ''}".strip(": ")
    return f"unexpected error: {type(e).__name__}: {e}"
