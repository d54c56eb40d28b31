"""A resumed stream on the S3 double: which open upload is continued (the journal's, else one
whose part 1 is the stream's first chunk, never one whose writer is alive), which chunks are
not sent, and that the object is exactly the new stream in every case."""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
from pathlib import Path

import pytest

from s3tui.engine.config import UploadConfig
from s3tui.engine.crc import crc32c
from s3tui.engine.job import Result
from s3tui.engine.journal import Journal
from s3tui.engine.progress import EventKind
from s3tui.engine.spool import Spool
from s3tui.engine.stream import StreamUpload
from s3tui.engine.stream_resume import ResumeFrom, usable_plan
from tests.helpers import random_bytes
from tests.s3double import S3Double

MiB = 1024 * 1024
PART = 5 * MiB
KEY = "nightly.zfs"


def _cfg(tmp_path: Path) -> UploadConfig:
    return UploadConfig(
        concurrency=2,
        chunk_size=PART,
        spool_dir=tmp_path / "spool",
        initial_bandwidth=1e9,
        retry_base_delay=0.001,
        retry_max_delay=0.005,
        max_attempts=3,
    )


def _plant(s3: S3Double, data: bytes, parts: int, initiated: float | None = None) -> str:
    """An open upload of KEY holding the first ``parts`` 5 MiB parts of ``data``."""
    upload_id = s3.create_multipart(KEY, {})
    if initiated is not None:
        s3.uploads[upload_id].initiated = initiated
    for n in range(1, parts + 1):
        chunk = data[(n - 1) * PART : n * PART]
        s3.upload_part(KEY, upload_id, n, io.BytesIO(chunk), len(chunk), crc32c(chunk))
    s3.calls.clear()
    return upload_id


def _journal_dead(journal_dir: Path, s3: S3Double, upload_id: str) -> None:
    """Note ``upload_id`` as a dead run's (written before another boot)."""
    Journal(journal_dir, endpoint=s3.endpoint).opened(s3.bucket, KEY, upload_id)
    for path in journal_dir.glob("*.json"):
        entry = json.loads(path.read_text())
        if entry["upload_id"] == upload_id:
            path.write_text(json.dumps({**entry, "boot_id": "another-boot"}))


def _run(s3: S3Double, data: bytes, tmp_path: Path) -> tuple[Result, StreamUpload]:
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), os.fdopen(write_fd, "wb") as w:
            w.write(data)  # a job that stopped reading closed the pipe: no hang

    feeder = threading.Thread(target=feed)
    feeder.start()
    where = ResumeFrom(s3.endpoint, tmp_path / "journal")
    job = StreamUpload(read_fd, s3, KEY, _cfg(tmp_path), resume=where)
    try:
        result = job.run()
    finally:
        os.close(read_fd)
        feeder.join()
    assert not list((tmp_path / "spool").rglob("part-*")), "spool not empty"
    return result, job


def _info(job: StreamUpload) -> list[str]:
    return [e.reason for e in job.progress.snapshot().events if e.kind is EventKind.INFO]


def test_the_same_stream_sends_only_the_parts_not_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random_bytes(4 * PART + 123, seed=1)
    s3 = S3Double()
    old = _plant(s3, data, 3)
    _journal_dead(tmp_path / "journal", s3, old)
    spooled: list[str] = []
    create = Spool.create

    def noting(self: Spool, name: str) -> tuple[int, Path]:
        spooled.append(name)
        return create(self, name)

    monkeypatch.setattr(Spool, "create", noting)
    result, _ = _run(s3, data, tmp_path)
    assert spooled == ["part-00004", "part-00005"], "a skipped chunk never touches the disk"
    assert result.exit_code == 0, result.message
    assert s3.objects[KEY].data == data
    assert s3.called("upload_part") == [4, 5]
    assert s3.called("create_multipart") == []
    assert s3.called("adopt") == [old]
    assert s3.uploads == {}
    assert result.message.endswith("resumed: 3 of 5 parts (15 MiB) already stored, 2 sent")
    assert result.checksum == s3.objects[KEY].checksum_crc32c


def test_a_stream_that_differs_from_part_3_on_sends_parts_3_on(tmp_path: Path) -> None:
    old_data = random_bytes(4 * PART, seed=2)
    new_data = old_data[: 2 * PART] + random_bytes(3 * PART, seed=3)
    s3 = S3Double()
    old = _plant(s3, old_data, 4)
    _journal_dead(tmp_path / "journal", s3, old)
    result, job = _run(s3, new_data, tmp_path)
    assert result.exit_code == 0, result.message
    assert s3.objects[KEY].data == new_data
    assert s3.called("upload_part") == [3, 4, 5]
    assert "part 3 differs from the stored one: sending parts 3 on" in _info(job)
    assert "resumed: 2 of 5 parts" in result.message


def test_a_shorter_stream_leaves_the_stored_parts_past_its_end_out(tmp_path: Path) -> None:
    data = random_bytes(4 * PART, seed=4)
    shorter = data[: 2 * PART + MiB]
    s3 = S3Double()
    old = _plant(s3, data, 4)
    _journal_dead(tmp_path / "journal", s3, old)
    result, _ = _run(s3, shorter, tmp_path)
    assert result.exit_code == 0, result.message
    assert s3.objects[KEY].data == shorter
    assert s3.called("upload_part") == [3]
    (completion,) = s3.called("complete")
    assert completion == [1, 2, 3]


def test_a_stream_that_ends_with_the_stored_parts_is_completed_from_them(tmp_path: Path) -> None:
    data = random_bytes(3 * PART, seed=5)
    s3 = S3Double()
    old = _plant(s3, data, 3)
    _journal_dead(tmp_path / "journal", s3, old)
    result, _ = _run(s3, data, tmp_path)
    assert result.exit_code == 0, result.message
    assert s3.objects[KEY].data == data
    assert s3.called("upload_part") == []
    assert "resumed: 3 of 3 parts (15 MiB) already stored, 0 sent" in result.message


def test_a_stream_that_differs_from_part_1_becomes_a_new_upload(tmp_path: Path) -> None:
    s3 = S3Double()
    old = _plant(s3, random_bytes(3 * PART, seed=6), 2)
    _journal_dead(tmp_path / "journal", s3, old)
    new_data = random_bytes(2 * PART + 7, seed=7)
    result, job = _run(s3, new_data, tmp_path)
    assert result.exit_code == 0, result.message
    assert s3.objects[KEY].data == new_data
    assert s3.called("abort") == [old]  # the old one was s3tui's own: aborted
    assert old not in s3.uploads and s3.uploads == {}
    assert s3.called("upload_part") == [1, 2, 3]
    assert any("nothing could be reused" in line for line in _info(job))
    assert "resumed" not in result.message


def test_without_a_journal_an_upload_whose_part_1_matches_is_adopted(tmp_path: Path) -> None:
    data = random_bytes(3 * PART + 5, seed=8)
    s3 = S3Double()
    stranger = _plant(s3, random_bytes(2 * PART, seed=9), 2, initiated=200.0)  # newer
    same = _plant(s3, data, 2, initiated=100.0)
    result, _ = _run(s3, data, tmp_path)
    assert result.exit_code == 0, result.message
    assert s3.objects[KEY].data == data
    assert s3.called("adopt") == [same]
    assert s3.called("upload_part") == [3, 4]
    assert list(s3.uploads) == [stranger], "an upload that is not ours is never aborted"
    assert s3.called("abort") == []


def test_without_a_journal_no_match_leaves_the_open_uploads_alone(tmp_path: Path) -> None:
    s3 = S3Double()
    stranger = _plant(s3, random_bytes(2 * PART, seed=10), 2)
    data = random_bytes(2 * PART + 9, seed=11)
    result, job = _run(s3, data, tmp_path)
    assert result.exit_code == 0, result.message
    assert s3.objects[KEY].data == data
    assert list(s3.uploads) == [stranger]
    assert s3.called("abort") == [] and s3.called("adopt") == []
    assert any("no open upload of the key holds" in line for line in _info(job))


def test_a_short_stream_that_differs_is_one_put_and_leaves_strangers(tmp_path: Path) -> None:
    s3 = S3Double()
    stranger = _plant(s3, random_bytes(2 * PART, seed=12), 2)
    result, _ = _run(s3, b"tiny", tmp_path)
    assert result.exit_code == 0, result.message
    assert s3.objects[KEY].data == b"tiny"
    assert list(s3.uploads) == [stranger]
    assert s3.called("create_multipart") == [] and s3.called("abort") == []


def test_an_upload_whose_writer_is_alive_is_never_touched(tmp_path: Path) -> None:
    data = random_bytes(2 * PART + 1, seed=13)
    s3 = S3Double()
    live = _plant(s3, data, 2)
    Journal(tmp_path / "journal", endpoint=s3.endpoint).opened(s3.bucket, KEY, live)
    result, job = _run(s3, data, tmp_path)
    assert result.exit_code == 0, result.message
    assert s3.objects[KEY].data == data
    assert list(s3.uploads) == [live]
    assert s3.called("upload_part") == [1, 2, 3]
    assert s3.called("list_parts") == [], "not even listed"
    assert any(f"no interrupted upload of {job.progress.dest}" in x for x in _info(job))


def test_no_open_upload_says_so_and_uploads_normally(tmp_path: Path) -> None:
    data = random_bytes(PART + 1, seed=14)
    s3 = S3Double()
    result, job = _run(s3, data, tmp_path)
    assert result.exit_code == 0, result.message
    assert s3.objects[KEY].data == data
    assert _info(job) == [
        f"no interrupted upload of {job.progress.dest} to resume: uploading it whole"
    ]


def test_a_vanished_upload_drops_its_stale_note(tmp_path: Path) -> None:
    s3 = S3Double()
    gone = _plant(s3, random_bytes(PART, seed=15), 1)
    _journal_dead(tmp_path / "journal", s3, gone)
    del s3.uploads[gone]
    result, _ = _run(s3, random_bytes(PART + 2, seed=16), tmp_path)
    assert result.exit_code == 0, result.message
    assert not list((tmp_path / "journal").glob("*.json"))


def test_a_short_stored_part_ends_the_plan() -> None:
    assert usable_plan([PART, PART, 3 * MiB, PART]) == [PART, PART]
    assert usable_plan([]) == []


def test_a_taken_over_upload_is_noted_as_this_process_s(tmp_path: Path) -> None:
    """A concurrent `s3tui cleanup` must not abort it, and a second kill leaves it resumable."""
    from s3tui.engine.journal import entries
    from s3tui.engine.remote import Remote

    journal_dir = tmp_path / "journal"
    s3 = S3Double()
    _journal_dead(journal_dir, s3, "up-dead")
    assert not [e for _, e in entries(journal_dir) if e.writer_alive()]
    remote = Remote(None, "bkt", Journal(journal_dir, endpoint=s3.endpoint), endpoint=s3.endpoint)
    remote.adopt(KEY, "up-dead", {"IfNoneMatch": "*"}, str(tmp_path / "spool"))
    ((_, entry),) = entries(journal_dir)
    assert entry.upload_id == "up-dead" and entry.pid == os.getpid() and entry.writer_alive()
    assert remote._conditions["up-dead"] == {"IfNoneMatch": "*"}  # --no-clobber at completion


def test_an_interrupted_upload_without_parts_is_aborted_with_its_spool(tmp_path: Path) -> None:
    s3 = S3Double()
    empty = _plant(s3, b"", 0)
    dead_spool = tmp_path / "s3tui-dead"
    dead_spool.mkdir()
    (dead_spool / "part-00001").write_bytes(b"x")
    journal = Journal(tmp_path / "journal", endpoint=s3.endpoint)
    journal.opened(s3.bucket, KEY, empty, str(dead_spool))
    path = next((tmp_path / "journal").glob("*.json"))
    path.write_text(json.dumps({**json.loads(path.read_text()), "boot_id": "another-boot"}))
    data = random_bytes(PART + 3, seed=17)
    result, job = _run(s3, data, tmp_path)
    assert result.exit_code == 0, result.message
    assert s3.objects[KEY].data == data
    assert s3.called("abort") == [empty] and s3.uploads == {}
    assert not dead_spool.exists()
    assert any("held no part" in line for line in _info(job))
