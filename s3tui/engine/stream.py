"""Upload a stream (stdin, a pipe) of unknown length: spool chunks, upload parts as they fill.

The reader runs in the caller's thread: it reserves spool space (waiting while the spool is full),
writes one chunk file while computing its CRC32C, and hands the full chunk to the worker pool.
Workers upload it as one part and delete it. At end of stream the last part goes up and the
upload is completed and verified. A stream shorter than one chunk becomes a single PutObject.

With ``resume`` (``put --resume``) the upload a killed run left open for the key is continued:
the stream is cut by its stored part sizes and chunks that match a stored part are not sent
(see :mod:`s3tui.engine.stream_resume`).

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
from s3tui.engine.checksums import CRC32C, Algorithm
from s3tui.engine.config import ObjectOptions, UploadConfig
from s3tui.engine.job import ABORT_ATTEMPT, AbortOutcome, Result, SteeredJob, Stop
from s3tui.engine.journal import remove_spool
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
from s3tui.engine.progress import EventKind, PartState, Phase, Progress
from s3tui.engine.remote import Failure, PartInfo, S3Store, Stored, classify
from s3tui.engine.remote.errors import answer_lost
from s3tui.engine.resume import LocalPart
from s3tui.engine.source import SourceError, Stopped, StreamSource
from s3tui.engine.spool import Spool
from s3tui.engine.stats import AttemptRecord, FileStat
from s3tui.engine.stream_resume import (
    ResumeFrom,
    StreamResume,
    file_crc32c,
    file_md5,
    find,
    memory_file,
)
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
        resume: ResumeFrom | None = None,
    ) -> None:
        self.source_fd = source_fd
        self.resume = resume
        self._resume: StreamResume | None = None
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
            endpoint=remote,
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
        self._final_put: tuple[int, int] | None = None  # (size, checksum value)
        # (parts, size, the parts' lengths)
        self._final_parts: tuple[list[tuple[int, str, int]], int, list[int]] | None = None
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
            if self.resume is not None:
                self._resume = self._look_for_upload()
            if self._resume is None:
                # The preflight: the exact permission the upload needs, checked before reading.
                # (A resumed stream opens one only if its first chunk matches nothing stored.)
                self._create()
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

    def _create(self) -> None:
        assert self.spool is not None
        spool_dir = str(self.spool.dir)
        self.upload_id = self._control(
            "create upload",
            lambda: self.remote.create_multipart(
                self.key, self.options.to_s3_args(), spool_dir=spool_dir
            ),
            max_attempts=PREFLIGHT_ATTEMPTS,
        )

    def _stream(self) -> Result | None:
        assert self.spool is not None
        plan = plan_parts(self.cfg.chunk_size, self.cfg.expected_size)
        resume = self._resume
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
            size = resume.size_of(number) if resume is not None else plan.size_of(number)
            self._part_size = size
            compare = resume is not None and resume.wants(number)
            # While the endpoint is unreachable nothing is read: the chunks already spooled
            # wait for it, and the producer blocks on a full pipe instead of filling the disk.
            if not self.transfer.wait_reachable():
                raise Stop
            self.spool.limit = self.cfg.spool_limit(size, self.transfer.gate.ceiling)
            if not self.spool.reserve(size, self._stop):
                raise Stop
            label = f"part {number}"
            self.progress.part_added(label, size, number=number, state=PartState.SPOOLING)
            # The algorithm in effect: the preflight settled any fallback before this.
            algorithm = self.remote.checksum.algorithm
            written, crc, eof, path, stored = self._read_chunk(number, size, compare, algorithm)
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
            if resume is not None and compare and written:
                if stored is not None:  # the store holds these bytes: dropped, not sent
                    self._skip(resume, number, label, written, crc, stored.etag or "")
                    continue  # a chunk that matched is a full one: the stream goes on
                self._differs(resume, number, eof)
            if eof and number == 1:
                return self._single_put(path, written, crc, label, algorithm)
            if eof and written == 0:
                self.spool.remove(path, 0)
                self.progress.part_removed(label)  # an empty tail: no part to upload
                number -= 1
                break
            self._submit_part(number, label, path, written, crc, algorithm)
            if eof:
                break
        self.progress.set_total(total, parts_total=number)
        self._check_min_size(total)
        self._wait_parts()
        return self._complete(total, number)

    def _read_chunk(
        self, number: int, size: int, compare: bool, algorithm: Algorithm
    ) -> tuple[int, int, bool, Path, PartInfo | None]:
        """Read chunk ``number`` (up to ``size`` bytes): ``(bytes, its checksum by
        ``algorithm``, eof, its spool
        file, the stored copy it matches)``. A chunk to compare is read into memory (when it
        fits: :func:`memory_file`) and hashed there; only if it is to be sent does it go onto
        the spool, so a skipped chunk never touches the disk."""
        assert self.spool is not None and self._source is not None
        name = f"part-{number:05d}"
        held = memory_file(name, size) if compare else None
        fd, path = (held, None) if held is not None else self.spool.create(name)
        stored = None
        try:
            written, crc, eof = self._source.fill(fd, size, algorithm)
            self.spool.shrink(size, written, fd)
            if compare and written:  # an empty tail compares nothing
                assert self._resume is not None
                crc32c = crc if algorithm is CRC32C else file_crc32c(fd, written)
                local = LocalPart(number, written, file_md5(fd, written), crc32c)
                stored = self._resume.compare(local)
            if path is None and stored is None:
                path = self._spill(fd, name, written)
        finally:
            os.close(fd)
        if path is not None and stored is not None:
            self.spool.remove(path, written)  # compared on the spool: deleted unsent
        elif stored is not None:
            self.spool.shrink(written, 0)  # the memory it held is free
        return written, crc, eof, path or self.spool.dir / name, stored

    def _spill(self, fd: int, name: str, size: int) -> Path:
        """A chunk read into memory is to be sent after all: onto the spool (a kernel copy)."""
        assert self.spool is not None
        out, path = self.spool.create(name)
        try:
            done = 0
            while done < size:
                done += os.sendfile(out, fd, done, size - done)
        finally:
            os.close(out)
        return path

    def _skip(
        self, resume: StreamResume, number: int, label: str, size: int, crc: int, etag: str
    ) -> None:
        """Chunk ``number`` is stored already: completed with the stored copy, not sent."""
        if self.upload_id is None:  # an open upload found by listing: now ours
            c = resume.chosen
            assert c is not None
            self._adopt(c.upload_id)
            self._info(
                f"resuming {self.progress.dest} from the open upload {c.upload_id}: its part 1 "
                f"is the stream's first chunk ({len(c.plan):,} parts, "
                f"{format_size(c.stored_bytes)} stored)"
            )
        self._parts.add(number, etag, crc, size)
        self.progress.part_done(label)

    def _look_for_upload(self) -> StreamResume | None:
        """The interrupted upload to continue, or None: upload from the start (with a line
        saying why). One of s3tui's own (the journal's) is taken over before reading."""
        assert self.resume is not None and self.spool is not None
        dest, where = self.progress.dest, self.resume
        found = self._try(
            "look for upload",
            lambda: find(self.remote, self.key, where.endpoint, where.journal_dir),
        )
        if found is None:
            return None
        if found.empty_ours:
            self._abort_uploads([(self.key, c.upload_id, "resume") for c in found.empty_ours])
            for c in found.empty_ours:
                remove_spool(c.spool_dir)
        resume = StreamResume(
            found.candidates, plan_parts(self.cfg.chunk_size, self.cfg.expected_size)
        )
        if not resume.candidates:
            if found.empty_ours:
                self._info(f"the interrupted upload of {dest} held no part: uploading it whole")
            else:
                self._info(f"no interrupted upload of {dest} to resume: uploading it whole")
            return None
        first = resume.candidates[0]
        if first.ours:
            self._adopt(first.upload_id)
            remove_spool(first.spool_dir)  # the dead run's chunks: the stream is read again
            self._info(
                f"resuming {dest}: {len(first.plan):,} parts ({format_size(first.stored_bytes)}) "
                "stored by the interrupted run; chunks that match them are not sent again"
            )
        else:
            n = len(resume.candidates)
            self._info(
                f"{n} open upload{'s' if n != 1 else ''} of {dest} not noted by this host: "
                f"one is continued if its part 1 is the stream's first "
                f"{format_size(first.plan[0])}"
            )
        return resume

    def _adopt(self, upload_id: str) -> None:
        assert self.spool is not None
        self.remote.adopt(self.key, upload_id, self.options.to_s3_args(), str(self.spool.dir))
        self.upload_id = upload_id

    def _differs(self, resume: StreamResume, number: int, eof: bool) -> None:
        """Chunk ``number`` is not what the store holds: say so; at part 1 nothing is reused,
        and the stream becomes a new upload (the old one aborted if it is s3tui's own)."""
        dest = self.progress.dest
        if number > 1:
            self._info(f"part {number} differs from the stored one: sending parts {number} on")
            return
        ours = resume.candidates[0].ours
        with contextlib.suppress(Exception):  # one not confirmed stays for `s3tui cleanup`
            self._abort()  # only ever one of ours: a foreign one is adopted only on a match
        if ours:
            why = "the stream differs from the interrupted upload from part 1 on"
        else:
            why = "no open upload of the key holds the stream's first part (left as they are)"
        self._info(f"{why}: nothing could be reused, {dest} is uploaded as a new object")
        if not eof:
            self._create()

    def _info(self, line: str) -> None:
        self.progress.event(EventKind.INFO, "resume", reason=line)

    def _try(self, label: str, call: Callable[[], Any]) -> Any:
        """``call`` under the retry policy; None (with a warning) if it failed for good: a
        resume that cannot look uploads from the start rather than not at all."""
        box: list[Any] = []
        failed: list[Failure] = []
        task = Task(
            label,
            0,
            lambda sent: call(),
            box.append,
            failed.append,
            fixed_deadline=CONTROL_DEADLINE,
            max_attempts=PREFLIGHT_ATTEMPTS,
        )
        if not self.transfer.run_task(task) and self._stop.is_set():
            raise Stop
        if box:
            return box[0]
        why = failed[0].reason if failed else "no answer"
        self.progress.event(
            EventKind.WARNING,
            "resume",
            reason=f"could not look for an interrupted upload of {self.progress.dest} ({why})",
            next="uploading it whole",
        )
        return None

    def _submit_part(
        self, number: int, label: str, path: Path, size: int, crc: int, algorithm: Algorithm
    ) -> None:
        assert self.spool is not None and self.upload_id is not None
        spool, remote, upload_id = self.spool, self.remote, self.upload_id
        limiter = self.transfer.limiter
        value = [crc]

        def attempt(sent: Callable[[int], None]) -> Stored:
            now = remote.checksum.algorithm
            if now is not algorithm:  # the store refused it: the fallback's value
                value[0] = now.of_file(str(path), 0, size)
            with FileRangeBody(path, 0, size, sent, limiter) as body:
                return remote.upload_part(self.key, upload_id, number, body, size, value[0])

        def on_success(res: Stored) -> None:
            spool.remove(path, size)
            self._parts.add(number, res.etag or "", value[0], size)
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

    def _single_put(
        self, path: Path, size: int, crc: int, label: str, algorithm: Algorithm
    ) -> Result:
        """A stream shorter than one chunk: one PutObject, no multipart upload needed."""
        assert self.spool is not None
        self.progress.set_total(size, parts_total=1)
        self._check_min_size(size)
        with contextlib.suppress(Exception):
            self._abort()  # the preflight upload is not needed; abort before the put
        self.upload_id = None
        limiter = self.transfer.limiter

        value = crc
        tries = 0

        def attempt(sent: Callable[[int], None]) -> Stored:
            nonlocal value, tries
            now = self.remote.checksum.algorithm
            if now is not algorithm:  # the store refused it: the fallback's value
                value = now.of_file(str(path), 0, size)
            self._final_put = (size, value)
            tries += 1
            with self._final_request(), FileRangeBody(path, 0, size, sent, limiter) as body:
                args = self.options.to_s3_args()
                return self.remote.put_object(self.key, body, size, value, args, tries > 1)

        self.progress.part_queued(label, size)
        resp = self._run_sync(Task(label, size, attempt, lambda r: None, self._fail_task, part=1))
        self.spool.remove(path, size)
        checksum = self.remote.checksum.single(value)
        self._verify(size, resp, checksum)
        return self._result(size, 1, resp.etag, checksum)

    def _complete(self, total: int, parts: int) -> Result:
        assert self.upload_id is not None
        if not self._parts.numbered_through(parts):
            self.fail("internal error: parts missing at completion; nothing was stored")
            raise Stop
        completion = Completion(self.remote, self.key, self.upload_id, self._parts, total)
        self._final_parts = (completion.parts, total, completion.lengths)

        def complete() -> Stored:
            with self._final_request():
                return completion.attempt()

        resp = self._control("complete upload", complete)
        self.upload_id = None  # completed: nothing to abort any more
        self._verify(total, resp, completion.expected)
        return self._result(total, parts, resp.etag, completion.expected)

    def _verify(self, size: int, answer: Stored, expected: str | None) -> None:
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

    def _result(self, size: int, parts: int, etag: str | None, checksum: str | None) -> Result:
        snap = self.progress.snapshot()
        what, dest = format_size(size), self.progress.dest
        msg = uploaded_line(what, dest, snap.elapsed, size=size, parts=parts, retries=snap.retries)
        if self._resume is not None and self._resume.chosen is not None:
            msg = f"{msg}; {self._resume.summary(parts)}"
        return Result(
            0,
            msg,
            size=size,
            seconds=snap.elapsed,
            parts=parts,
            retries=snap.retries,
            etag=etag,
            checksum=checksum,
            checksum_algorithm=self.remote.checksum.algorithm.label,
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
            parts, size, lengths = self._final_parts
            return self.remote.completed_already(self.key, size, parts, lengths) is not None
        if self._final_put is None:
            return False
        size, value = self._final_put
        return self.remote.put_already(self.key, size, value)


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
