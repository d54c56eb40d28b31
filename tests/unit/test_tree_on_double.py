"""The real TreeUpload and StreamUpload against the in-memory S3 double (tests/s3double.py): the
scheduler's order, --skip-existing, withdrawal and the stop path, with no server and no sleeps.

Files are real (in a temp dir) because the jobs read and stat them; bigger files are 5 MiB
parts, S3's smallest. What goes over the wire is the integration tests' business.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from s3tui.engine.config import UploadConfig
from s3tui.engine.crc import crc32c
from s3tui.engine.progress import Event, EventKind, FileState
from s3tui.engine.remote import S3Store, composite_crc32c_b64, crc32c_b64
from s3tui.engine.stream import StreamUpload
from s3tui.engine.tree import TreeUpload
from s3tui.errors import EXIT_FAILED
from tests.s3double import S3Double, s3_error

MiB = 1024 * 1024
PART = 5 * MiB


def _cfg(**kw: object) -> UploadConfig:
    base: dict[str, object] = {
        "concurrency": 4,
        "chunk_size": PART,
        "initial_bandwidth": 1e9,
        "retry_base_delay": 0.001,
        "retry_max_delay": 0.005,
        "max_attempts": 3,
    }
    base.update(kw)
    return UploadConfig(**base)  # type: ignore[arg-type]


def _files(root: Path, sizes: dict[str, int]) -> dict[str, bytes]:
    root.mkdir(exist_ok=True)
    out = {}
    for name, size in sizes.items():
        data = os.urandom(size)
        (root / name).write_bytes(data)
        out[f"p/{name}"] = data
    return out


def _tree(root: Path, s3: S3Store, cfg: UploadConfig | None = None, **kw: object) -> TreeUpload:
    return TreeUpload([str(root)], s3, "p/", cfg or _cfg(), **kw)  # type: ignore[arg-type]


def _retry_lines(job: TreeUpload | StreamUpload) -> list[str]:
    return [e.label for e in job.progress.snapshot().events if e.kind is EventKind.RETRY]


def test_the_double_stands_for_the_store() -> None:
    s3: S3Store = S3Double()  # the protocol is all the jobs see
    assert s3.bucket == "bkt"


def test_small_files_are_put_a_big_one_is_created_sent_in_parts_and_completed(
    tmp_path: Path,
) -> None:
    data = _files(tmp_path / "d", {"a": 10, "b": 2000, "c": 0, "big": 2 * PART + 7})
    s3 = S3Double()
    result = _tree(tmp_path / "d", s3).run()
    assert result.exit_code == 0, result.message
    assert {k: o.data for k, o in s3.objects.items()} == data
    assert sorted(s3.called("put_object")) == [0, 10, 2000]
    big = [(m, d) for m, k, d in s3.calls if k == "p/big"]
    assert big[0] == ("create_multipart", None)
    assert sorted(big[1:4]) == [("upload_part", 1), ("upload_part", 2), ("upload_part", 3)]
    assert big[4:] == [("complete", [1, 2, 3])]  # the answer had a checksum: no HEAD
    raw = data["p/big"]
    parts = [raw[i : i + PART] for i in range(0, len(raw), PART)]
    assert s3.objects["p/big"].checksum_crc32c == composite_crc32c_b64([crc32c(p) for p in parts])
    assert not s3.uploads
    assert result.message.startswith("uploaded 4 files")


def test_skip_existing_skips_a_matching_object_and_uploads_a_different_one(
    tmp_path: Path,
) -> None:
    data = _files(tmp_path / "d", {"same": 100, "other": 100, "new": 5})
    s3 = S3Double()
    s3.put_object("p/same", data["p/same"], 100, crc32c(data["p/same"]), {})
    stale = bytes(100)
    s3.put_object("p/other", stale, 100, crc32c(stale), {})
    s3.calls.clear()
    result = _tree(tmp_path / "d", s3, skip_existing=True).run()
    assert result.exit_code == 0, result.message
    assert sorted(k for m, k, _ in s3.calls if m == "head") == ["p/new", "p/other", "p/same"]
    assert sorted(k for m, k, _ in s3.calls if m == "put_object") == ["p/new", "p/other"]
    assert s3.objects["p/other"].data == data["p/other"]
    assert s3.objects["p/same"].checksum_crc32c == crc32c_b64(crc32c(data["p/same"]))
    assert "1 skipped (already there)" in result.message


def test_a_file_failing_on_a_part_withdraws_its_other_parts_and_aborts_its_upload(
    tmp_path: Path,
) -> None:
    _files(tmp_path / "d", {"big": 3 * PART, "small": 10})
    s3 = S3Double()
    # One part at a time; the first one sent fails, and the others, queued behind it, are held
    # (paused) until the failure is on the file: then they are withdrawn.
    job = _tree(tmp_path / "d", s3, _cfg(concurrency=1))

    def refuse() -> None:
        job.set_paused(True)
        raise s3_error("AccessDenied", 403)

    def on_event(ev: Event) -> None:
        if ev.kind is EventKind.WARNING and ev.label.endswith("big"):
            job.set_paused(False)

    job.progress.subscribe(on_event)
    s3.inject("upload_part", refuse, key="p/big")
    result = job.run()
    assert result.exit_code == EXIT_FAILED
    assert [path.rsplit("/", 1)[-1] for path, _ in result.failed_files] == ["big"]
    assert "access denied" in result.failed_files[0][1]
    assert len(s3.called("upload_part", "p/big")) == 1  # the other two were never sent
    assert _retry_lines(job) == []  # withdrawn quietly, no retry-log line
    parts = [r for r in job.records if r.file and r.file.endswith("big")]
    assert len(parts) == 1 and not parts[0].ok  # no attempt recorded for a withdrawn part
    assert len(s3.called("abort", "p/big")) == 1
    assert not s3.uploads and "p/big" not in s3.objects
    assert "p/small" in s3.objects


def test_a_retried_part_is_logged_and_the_file_completes(tmp_path: Path) -> None:
    _files(tmp_path / "d", {"big": PART + 1})
    s3 = S3Double()
    s3.inject("upload_part", ConnectionResetError(104, "Connection reset by peer"))
    job = _tree(tmp_path / "d", s3)
    result = job.run()
    assert result.exit_code == 0, result.message
    assert len(s3.called("upload_part")) == 3
    assert len(_retry_lines(job)) == 1


def test_a_stop_with_uploads_open_aborts_each_one(tmp_path: Path) -> None:
    _files(tmp_path / "d", {"a": 2 * PART, "b": 2 * PART})
    s3 = S3Double()
    job = _tree(tmp_path / "d", s3)
    second_open = threading.Event()
    s3.inject("create_multipart", second_open.set, nth=2, after=True)

    def stop() -> None:  # a's first part waits for b's upload, then the user stops the job
        assert second_open.wait(5)
        job.cancel(130, "interrupted")
        raise ConnectionResetError(104, "cut by the stop path")

    s3.inject("upload_part", stop, key="p/a")
    result = job.run()
    assert result.exit_code == 130
    assert result.message == (
        "interrupted: open multipart uploads were aborted; files already uploaded stay"
    )
    created = len(s3.called("create_multipart"))
    assert created == 2 and len(s3.called("abort")) == 2
    assert not s3.uploads and not s3.objects


def test_an_abort_that_finds_a_completed_upload_counts_the_file_only_if_it_is_its_parts(
    tmp_path: Path,
) -> None:
    for tamper in (False, True):
        root = tmp_path / f"t{tamper}"
        data = _files(root, {"big": PART + 3})
        s3 = S3Double()
        job = _tree(root, s3)

        def lost(s3: S3Double = s3, job: TreeUpload = job, tamper: bool = tamper) -> None:
            # The completion took effect; its answer is lost as the job is stopped.
            if tamper:  # and another writer replaced the object since
                s3.put_object("p/big", b"x" * (PART + 3), PART + 3, crc32c(b"x" * (PART + 3)), {})
            job.cancel(143, "terminated (SIGTERM)")
            raise ConnectionResetError(104, "Connection reset by peer")

        s3.inject("complete", lost, after=True)
        result = job.run()
        assert result.exit_code == 143
        assert s3.called("abort") and not s3.uploads  # the abort found the upload gone
        if tamper:
            assert "had been uploaded" not in result.message
            assert job.files[0].state is not FileState.DONE
        else:
            assert s3.objects["p/big"].data == data["p/big"]
            assert result.message.endswith("(1 of 1 files had been uploaded)")
            assert job.files[0].state is FileState.DONE


def test_a_stream_creates_first_sends_its_parts_and_completes(tmp_path: Path) -> None:
    data = os.urandom(PART + 100)
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as w:
            w.write(data)

    feeder = threading.Thread(target=feed)
    feeder.start()
    s3 = S3Double()
    try:
        result = StreamUpload(read_fd, s3, "s", _cfg(spool_dir=tmp_path)).run()
    finally:
        feeder.join()
        os.close(read_fd)
    assert result.exit_code == 0, result.message
    assert [m for m, _, _ in s3.calls] == [
        "create_multipart",
        "upload_part",
        "upload_part",
        "complete",
    ]
    assert s3.objects["s"].data == data and result.etag == s3.objects["s"].etag


def test_a_put_cut_by_the_stop_after_the_store_acted_counts_as_uploaded(tmp_path: Path) -> None:
    """The PutObject stored the object and its answer is lost as the job is stopped: the file
    was uploaded, and the result says so (a HEAD finds exactly its bytes)."""
    root = tmp_path / "t"
    _files(root, {"small": 1000})
    s3 = S3Double()
    job = _tree(root, s3)

    def lost() -> None:
        job.cancel(143, "terminated (SIGTERM)")
        raise ConnectionResetError(104, "Connection reset by peer")

    s3.inject("put_object", lost, after=True)
    result = job.run()
    assert result.exit_code == 143
    assert result.message.endswith("(1 of 1 files had been uploaded)"), result.message
    assert job.files[0].state is FileState.DONE


def test_a_put_cut_before_the_store_acted_is_not_counted(tmp_path: Path) -> None:
    root = tmp_path / "t"
    _files(root, {"small": 1000})
    s3 = S3Double()
    job = _tree(root, s3)

    def cut() -> None:
        job.cancel(143, "terminated (SIGTERM)")
        raise ConnectionResetError(104, "Connection reset by peer")

    s3.inject("put_object", cut)  # before it took effect
    result = job.run()
    assert result.exit_code == 143
    assert "had been uploaded" not in result.message and not s3.objects
    assert job.files[0].state is not FileState.DONE


class _AbortSaysAborted(S3Double):
    """A store that answers an abort of an upload that no longer exists with success."""

    def abort(self, key: str, upload_id: str) -> bool:
        if upload_id not in self.uploads:
            return True
        return super().abort(key, upload_id)


def test_a_confirmed_abort_does_not_hide_a_completion_that_took_effect(tmp_path: Path) -> None:
    root = tmp_path / "t"
    data = _files(root, {"big": PART + 3})
    s3 = _AbortSaysAborted()
    job = _tree(root, s3)

    def lost() -> None:
        job.cancel(143, "terminated (SIGTERM)")
        raise ConnectionResetError(104, "Connection reset by peer")

    s3.inject("complete", lost, after=True)
    result = job.run()
    assert result.exit_code == 143
    assert s3.objects["p/big"].data == data["p/big"]
    assert result.message.endswith("(1 of 1 files had been uploaded)"), result.message
