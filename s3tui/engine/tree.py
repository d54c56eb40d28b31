"""Upload files and directory trees: ``put ./dir s3://b/p/``, ``put a b s3://b/p/``, ``put f s3://b/k``.

One :class:`~s3tui.engine.transfer.Transfer` (worker pool, bandwidth estimate, deadlines,
retries) serves every file. Files below the chunk size are one PutObject each; bigger files are
multipart uploads whose parts are read straight from the file at their offsets (no spool).

:class:`TreeUpload` orchestrates: it lists the files, hands the requests the
:class:`~s3tui.engine.scheduler.Scheduler` picks to the pool a few at a time (about twice the
concurrency), records each file's outcome and settles what is open at the end. What each request
sends is in :mod:`~s3tui.engine.tree_requests`, the --skip-existing comparison in
:mod:`~s3tui.engine.skip`, the checked local reads in :mod:`~s3tui.engine.localfile`.

Never stored torn: a size or mtime different from the listing fails that file ("changed while
being uploaded") and aborts its upload.

Resumed after an interruption: files an interrupted run of the same command completed and that
are unchanged since are not sent again (:mod:`~s3tui.engine.run_record`, no request at all), and
a file whose multipart upload that run left open continues it, sending only the parts not
stored yet (:mod:`~s3tui.engine.tree_resume`). ``resume=False`` (``--no-resume``) starts over.

One bad file does not stop the rest: a file's own failure (vanished, changed, AccessDenied on its
key, retries exhausted) is recorded on that file and the job goes on, ending with exit 1 and
``Result.failed_files``. A failure whose scope is the whole job (credentials, missing bucket,
unreachable endpoint) stops the job with one message. The preflight: the first write request
(and with ``--skip-existing`` the first HeadObject) runs alone, with few retries; any failure of
it that is not about the local file stops the job before anything else is sent.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from s3tui.engine.config import ObjectOptions, UploadConfig
from s3tui.engine.gate import LIGHT_PER_SLOT
from s3tui.engine.job import ABORT_ATTEMPT, AbortOutcome, Result, SteeredJob, Stop
from s3tui.engine.journal import Journal, open_by_key
from s3tui.engine.localfile import FileProblem, local_problem, require_listed
from s3tui.engine.multipart import CONTROL_DEADLINE, uploaded_line
from s3tui.engine.progress import EventKind, FileState, Phase, Progress
from s3tui.engine.remote import (
    Failure,
    S3Store,
    Scope,
    UploadInfo,
    Withdrawal,
    classify,
)
from s3tui.engine.run_record import Done, RunRecord
from s3tui.engine.scheduler import (
    FileUpload,
    Probe,
    ProbeState,
    Request,
    RequestKind,
    Scheduler,
)
from s3tui.engine.stats import AttemptRecord, FileStat
from s3tui.engine.transfer import Task, Transfer, error_line
from s3tui.engine.tree_requests import task_for
from s3tui.engine.tree_resume import Candidate, TakenOver, fingerprint, plan_for, source_of
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

# Why a file was not sent: the run record says an interrupted run uploaded it, unchanged since.
RESUMED = "uploaded by the interrupted run, unchanged since"


class TreeUpload(SteeredJob):
    """An :class:`~s3tui.engine.job.UploadJob` for files and directory trees."""

    # What a cancel leaves behind, for the driver's "interrupted: ..." message.
    stop_note = "open multipart uploads were aborted; files already uploaded stay"

    def __init__(
        self,
        sources: Sequence[str],
        remote: S3Store,
        dest_key: str,
        cfg: UploadConfig,
        options: ObjectOptions | None = None,
        *,
        filt: Filter | None = None,
        follow_symlinks: bool = False,
        skip_existing: bool = False,
        on_record: list[Callable[[AttemptRecord], None]] | None = None,
        on_file: list[Callable[[FileStat], None]] | None = None,
        journal: Journal | None = None,
        resume: bool = True,
        record: RunRecord | None = None,
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
        self.journal = journal
        self.resume = resume
        single = exact_key(dest_key, self.sources)
        target = single if single is not None else prefix_of(dest_key)
        self._list_prefix = target  # where open uploads of these files may be
        self.record = record or RunRecord(remote.endpoint, remote.bucket, dest_key, self.sources)
        self._journal_ids: set[str] = set()  # uploads any journal entry names: not foreign
        self._listing: list[UploadInfo] | None = None
        self._listing_lock = threading.Lock()
        self._resumed_files = 0  # files the run record says an interrupted run uploaded
        source = self.sources[0] if len(self.sources) == 1 else f"{len(self.sources)} sources"
        self.progress = Progress(source, f"s3://{remote.bucket}/{target}")
        self.transfer = Transfer(
            cfg, self.progress, classify=self.classify_for, on_record=on_record, endpoint=remote
        )
        self._init_steering()
        self.files: list[FileUpload] = []
        self.walk_failures: list[tuple[str, str]] = []
        self.file_stats: list[FileStat] = []
        self.scheduler = Scheduler()  # under _cond
        self._waiting = 0  # tasks handed to the pool whose first attempt has not begun
        self._unsettled = 0
        self._total_bytes = 0  # still to upload: skipped files leave the totals
        self._total_parts = 0
        self._base_args = self.options.to_s3_args()
        self._unconfirmed = 0  # aborts the stop path could not confirm

    # --- the job ---
    def run(self) -> Result:
        try:
            self._prepare()
            self.progress.set_phase(Phase.RUNNING)
            self.transfer.start()
            self._feed()
        except Stop:
            pass
        except SourceError as e:
            self.fail(str(e))
        except Exception as e:  # the stop path reports it; nothing may escape uncleaned
            self.fail(f"unexpected error: {type(e).__name__}: {e}")
        finally:
            self._cleanup()
        result = self._result()
        if result.ok:
            self.record.finished()  # nothing left to resume: a rerun uploads everything again
        else:
            self.record.close()
        return result

    def _prepare(self) -> None:
        listing = scan(self.sources, self.dest_key, self.filt, self.follow_symlinks)
        for path, why in listing.warnings:
            self.progress.event(EventKind.WARNING, path, reason=why)
        for path, why in listing.failures:
            self.walk_failures.append((path, why))
            self.progress.file_added(path, "", 0)
            self.progress.file_state(path, FileState.FAILED, reason=why)
        for e in listing.entries:
            try:
                f = FileUpload(e, self.cfg.chunk_size)
            except ValueError as err:  # larger than S3's largest object
                self.walk_failures.append((e.path, str(err)))
                self.progress.file_added(e.path, e.key, e.size)
                self.progress.file_state(e.path, FileState.FAILED, reason=str(err))
                continue
            self.files.append(f)
            self.progress.file_added(e.path, e.key, e.size)
        todo = self._plan_resume()
        self._total_bytes = sum(f.entry.size for f in todo)
        self._total_parts = sum(f.nparts for f in todo)
        self.progress.set_total(self._total_bytes, parts_total=self._total_parts)
        with self._cond:
            self._unsettled = len(todo)
            self.scheduler.add(todo, check_first=self.skip_existing)

    # --- resuming an interrupted run ---
    def _plan_resume(self) -> list[FileUpload]:
        """Files an interrupted run completed and that are unchanged are done; a multipart
        file learns which uploads of its key dead runs left open. Returns the files to send.
        No request: the journal and the run record are local files."""
        earlier = self.record.earlier() if self.resume else {}
        dead, live = ({}, set())
        if self.journal is not None:
            dead, live = open_by_key(
                self.journal.endpoint, self.remote.bucket, self.journal.directory
            )
        self._journal_ids = live | {e.upload_id for found in dead.values() for e in found}
        todo: list[FileUpload] = []
        carried: list[Done] = []
        for f in self.files:
            e = f.entry
            d = earlier.get(os.path.abspath(e.path))
            if d is not None and (d.key, d.size, d.mtime_ns) == (e.key, e.size, e.mtime_ns):
                carried.append(d)
                f.state, f.settled = FileState.SKIPPED, True
                self.progress.file_state(e.path, FileState.SKIPPED, reason=RESUMED)
                f.stat = self._file_stat(f)
                self._tell_file(f.stat)
                continue
            if f.part_size:
                options = fingerprint(self._object_args(e))
                f.resume = plan_for(e, dead.get(e.key, []), not self.resume, options)
                if f.resume.note:
                    self.progress.event(EventKind.INFO, e.path, reason=f.resume.note)
            todo.append(f)
        self.record.carry(carried)
        self._resumed_files = len(carried)
        if carried:
            size = format_size(sum(d.size for d in carried))
            n = len(carried)
            self.progress.event(
                EventKind.INFO,
                "resuming",
                reason=f"{n:,} file{'s' if n != 1 else ''} ({size}) uploaded by the interrupted "
                "run and unchanged since",
                next="not sent again",
            )
        return todo

    def _open_uploads(self) -> tuple[list[UploadInfo], set[str]]:
        """The open uploads where this job's files go (listed once, when the first multipart
        file without a journal candidate asks), and the ids the journal names."""
        with self._listing_lock:
            if self._listing is None:
                try:
                    self._listing = self.remote.list_uploads(self._list_prefix).uploads
                except Exception as e:  # no permission, or no answer: nothing to adopt
                    self._listing = []
                    why = self.classify_for(e, self._list_prefix).reason
                    self.progress.event(
                        EventKind.INFO,
                        "resume",
                        reason=f"cannot list the open uploads under s3://{self.remote.bucket}/"
                        f"{self._list_prefix} ({why})",
                        next="uploads left open without a note in this host's journal are not "
                        "resumed",
                    )
            return self._listing, self._journal_ids

    def _taken_over(self, f: FileUpload, taken: TakenOver) -> None:
        e = f.entry
        before, planned = f.nparts, f.part_size
        if taken.part_size != f.part_size:
            f.replan(taken.part_size)
        with self._cond:
            f.stored = taken.copies
            self._total_parts += f.nparts - before
            total, parts = self._total_bytes, self._total_parts
        self.progress.set_total(total, parts_total=parts)
        if self.journal is not None:  # ours now: a kill of this run leaves it resumable again
            options = fingerprint(self._object_args(e))
            self.journal.describe(self.remote.bucket, e.key, source_of(e, f.part_size, options))
            self.journal.opened(self.remote.bucket, e.key, taken.upload_id)
        n = len(taken.copies)
        reason = (
            f"{n:,} of {f.nparts:,} part{'s' if f.nparts != 1 else ''} "
            f"({format_size(taken.stored_bytes)}) already stored"
        )
        if taken.part_size != planned:
            reason += f", in {format_size(taken.part_size)} parts as that run cut them"
        if not taken.own:
            reason += " (an open upload found on the key, not in this host's journal)"
        self.progress.event(
            EventKind.INFO,
            f"resuming {e.rel}",
            reason=reason,
            next="each is checked against the local bytes, the rest is sent",
        )

    def _left_alone(self, f: FileUpload, cand: Candidate, why: str) -> None:
        self.progress.event(
            EventKind.INFO, f.entry.path, reason=f"open upload {cand.upload_id[:16]}... {why}"
        )

    def _part_reused(self, f: FileUpload, n: int, etag: str, crc: int, length: int) -> None:
        stored = f.parts.add(n, etag, crc)
        with self._cond:
            f.reused_bytes += length
            f.reused_parts += 1
            if stored == f.nparts:
                self.scheduler.parts_stored(f)
                self._cond.notify_all()
        self.progress.add_reused(length)
        self.progress.file_sent(f.entry.path, length)

    def _part_differs(self, f: FileUpload, n: int) -> None:
        self.progress.event(
            EventKind.INFO,
            f"{f.entry.rel}#{n}",
            reason="the stored copy is not the local bytes",
            next="sent again",
        )

    def _recorded(self, f: FileUpload) -> None:
        e = f.entry
        self.record.completed(Done(os.path.abspath(e.path), e.key, e.size, e.mtime_ns))

    def _feed(self) -> None:
        """Hand tasks to the pool, keeping two per light request the gate admits queued (cheap:
        a queued task holds no bytes), until every file settled."""
        while True:
            with self._cond:
                while True:
                    if self._stop.is_set():
                        raise Stop
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
        req = self.scheduler.next()
        return None if req is None else task_for(self, req)

    # --- what the requests report (tree_requests.FileRequest) ---
    def _began_locked(self) -> None:
        """A task's first attempt began: it no longer counts as queued."""
        self._waiting -= 1
        if self._waiting == self._queued_max() // 2:
            self._cond.notify_all()  # refill in a batch, not one wake-up per task

    def _probe_passed(self, probe: Probe) -> None:
        self._set_probe(probe, ProbeState.PASSED)

    def _on_task_failure(self, req: Request, failure: Failure) -> None:
        if self._stop.is_set():
            return  # cut by the stop path: not this file's fault
        f, message = req.file, failure.message
        if req.kind is RequestKind.HEAD and failure.code == "AccessDenied":
            message = (
                f"access denied reading s3://{self.remote.bucket}/{f.entry.key}: --skip-existing "
                "needs s3:GetObject (or drop --skip-existing)"
            )
        if failure.scope is Scope.JOB or (req.probe and failure.scope is not Scope.FILE):
            self.fail(message)
            return
        if req.probe:
            self._set_probe(req.kind.probe, ProbeState.NONE)
        if not isinstance(failure, Withdrawal):
            self._fail_file(f, message)

    def classify_for(self, e: BaseException, key: str = "") -> Failure:
        """What a failed request of the file at ``key`` means."""
        if isinstance(e, FileProblem):
            return Failure(False, False, e.reason, str(e), Scope.FILE)
        return classify(e, self.remote.bucket, key, self.remote.endpoint)

    # --- file outcomes ---
    def _file_done(self, f: FileUpload) -> None:
        with self._cond:
            if f.failed is not None:
                return
            f.state = FileState.DONE
        self.progress.file_state(f.entry.path, FileState.DONE)
        self._recorded(f)

    def _file_skipped(self, f: FileUpload, why: str) -> None:
        with self._cond:
            f.state = FileState.SKIPPED
            self._total_bytes -= f.entry.size
            self._total_parts -= f.nparts
            total, parts = self._total_bytes, self._total_parts
        self.progress.set_total(total, parts_total=parts)
        self.progress.file_state(f.entry.path, FileState.SKIPPED, reason=why)
        self._recorded(f)

    def _fail_file(self, f: FileUpload, message: str) -> None:
        with self._cond:
            if f.failed is not None or f.state in (FileState.DONE, FileState.SKIPPED):
                return
            f.failed = message
            f.state = FileState.FAILED
        self.progress.file_state(f.entry.path, FileState.FAILED, reason=message)
        self.progress.event(
            EventKind.WARNING, f.entry.path, reason=message, next="the other files go on"
        )

    def _task_finished(self, f: FileUpload) -> None:
        with self._cond:
            f.inflight -= 1
            settle = f.inflight == 0 and not f.settled and f.finished
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

    def _set_probe(self, probe: Probe, state: ProbeState) -> None:
        with self._cond:
            self.scheduler.set_probe(probe, state)
            self._cond.notify_all()

    # --- local file checks ---
    def _check_unchanged(self, f: FileUpload, allow_vanished: bool = False) -> None:
        """The file must still be what was listed; a vanished file is fine once fully read."""
        try:
            st = os.stat(f.entry.path)
        except OSError as err:
            if allow_vanished and isinstance(err, FileNotFoundError):
                return
            raise local_problem(err) from None
        require_listed(f.entry, st)

    # --- S3 side effects outside the retry loop ---
    def _object_args(self, e: Entry) -> dict[str, Any]:
        args = dict(self._base_args)
        args.setdefault("ContentType", guess_content_type(e.path))
        return args

    def _abort(self, f: FileUpload) -> None:
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
                    EventKind.WARNING,
                    "stats",
                    reason=f"cannot record files: {error_line(e)}",
                    next="the upload goes on without them",
                )

    def _delete_object(self, f: FileUpload) -> None:
        try:
            with self.transfer.watchdog.guard(CONTROL_DEADLINE):
                self.remote.delete(f.entry.key)
        except Exception as e:  # reported; the file is failed either way
            self._delete_failed(f, e)

    def _delete_failed(self, f: FileUpload, e: BaseException) -> None:
        self.progress.event(
            EventKind.WARNING,
            f.entry.path,
            reason=f"could not delete s3://{self.remote.bucket}/{f.entry.key}: {e}",
            next="delete it by hand",
        )

    # --- the end ---
    def _cleanup(self) -> None:
        self._stop_workers()
        try:
            self._settle_open_uploads()
            self._settle_cut_puts()
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
            # Not even a confirmed abort proves the completion failed: some stores
            # (SeaweedFS) answer an abort of an upload that no longer exists with success.
            if not f.completing or f.failed is not None:
                continue
            ordered, lengths = f.parts.ordered(), f.parts.lengths()
            seconds = self._stop_time_left(ABORT_ATTEMPT)
            with contextlib.suppress(Exception), self.transfer.watchdog.guard(seconds):
                key, size = f.entry.key, f.entry.size
                found = self.remote.completed_already(key, size, ordered, lengths)
                if found is not None:
                    self._stored_after_all(f, found.etag, f.parts.expected(self.remote.checksum))

    def _settle_cut_puts(self) -> None:
        """A single PutObject the stop cut may have been stored all the same: the file counts as
        uploaded only if the object holds exactly its bytes (size and checksum)."""
        for f in self.files:
            if f.settled or f.failed is not None or not f.unanswered:
                continue
            seconds = self._stop_time_left(ABORT_ATTEMPT)
            if seconds < 0.5:
                return
            e = f.entry
            with contextlib.suppress(Exception), self.transfer.watchdog.guard(seconds):
                info = self.remote.head(e.key)
                sums = self.remote.checksum
                reported = sums.reported(info) if info is not None else None
                if info is None or info.size != e.size or reported is None:
                    continue
                expected = sums.single(sums.algorithm.of_file(e.path, 0, e.size))
                if expected is not None and sums.same(reported, expected):
                    self._stored_after_all(f, info.etag, expected)

    def _stored_after_all(self, f: FileUpload, etag: str | None, checksum: str | None) -> None:
        f.etag, f.checksum = etag, checksum
        f.state = FileState.DONE
        self.progress.file_state(f.entry.path, FileState.DONE)
        self._recorded(f)

    def left_behind(self) -> str | None:
        if self._unconfirmed:
            n = self._unconfirmed
            return (
                f"{n} multipart upload{'s' if n != 1 else ''} could not be aborted (`s3tui "
                "cleanup` retries); files already uploaded stay"
            )
        return None

    def _file_stat(self, f: FileUpload) -> FileStat:
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
        resumed = self._resumed_files
        skipped = sum(1 for f in self.files if f.state == FileState.SKIPPED) - resumed
        reused = sum(f.reused_bytes for f in done)
        failed = [*self.walk_failures, *((f.entry.path, f.failed) for f in self.files if f.failed)]
        total = len(self.files) + len(self.walk_failures)
        size = sum(f.entry.size for f in done)
        secs = snap.elapsed
        what = f"{len(done)} file{'s' if len(done) != 1 else ''} ({format_size(size)})"
        extra = f", {skipped} skipped (already there)" if skipped else ""
        if resumed:
            extra += f", {resumed} uploaded by the interrupted run (unchanged, not sent again)"
        if self._outcome is not None:
            code, message = self._final_outcome()
            if done:
                message += f" ({len(done)} of {total} files had been uploaded)"
            phase = Phase.FAILED if code == EXIT_FAILED else Phase.CANCELLED
        elif failed:
            code = EXIT_FAILED
            done_line = uploaded_line(what, self.progress.dest, secs)
            message = f"{len(failed)} of {total} files failed; {done_line}{extra}"
            phase = Phase.FAILED
        elif not total:
            code, message, phase = 0, "nothing to upload: no files matched", Phase.DONE
        else:
            code = 0
            message = uploaded_line(
                what,
                self.progress.dest,
                secs,
                size=size,
                parts=snap.parts_done,
                retries=snap.retries,
                reused=reused,
            )
            message += extra
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
            checksum_algorithm=self.remote.checksum.algorithm.label,
            failed_files=tuple(failed),
        )
