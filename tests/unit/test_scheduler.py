"""The tree upload's scheduler: which request goes next, over file states alone, no S3."""

from __future__ import annotations

from s3tui.engine.scheduler import (
    FileUpload,
    Probe,
    ProbeState,
    RequestKind,
    Scheduler,
)
from s3tui.engine.walk import Entry

CHUNK = 5 * 1024 * 1024


def _file(name: str, size: int) -> FileUpload:
    return FileUpload(Entry(name, name, name, size, 0), CHUNK)


def test_small_files_are_puts_big_ones_multipart() -> None:
    small, big = _file("s", 10), _file("b", 3 * CHUNK)
    assert (small.part_size, small.nparts) == (0, 1)
    assert big.nparts == 3 and big.part_ranges()[-1] == (2 * CHUNK, CHUNK)


def test_the_first_write_goes_alone_until_it_passed() -> None:
    s = Scheduler()
    a, b = _file("a", 1), _file("b", 1)
    s.add([a, b], check_first=False)
    first = s.next()
    assert first is not None and (first.kind, first.file, first.probe) == (RequestKind.PUT, a, True)
    assert s.next() is None  # the probe is in flight
    s.set_probe(Probe.WRITE, ProbeState.PASSED)
    second = s.next()
    assert second is not None and (second.file, second.probe) == (b, False)
    s.set_probe(Probe.WRITE, ProbeState.NONE)
    assert s.probe_state(Probe.WRITE) is ProbeState.PASSED  # passed stays passed


def test_a_probe_that_failed_on_its_file_lets_the_next_probe() -> None:
    s = Scheduler()
    a, b = _file("a", 1), _file("b", 1)
    s.add([a, b], check_first=False)
    assert s.next() is not None
    s.set_probe(Probe.WRITE, ProbeState.NONE)
    nxt = s.next()
    assert nxt is not None and (nxt.file, nxt.probe) == (b, True)


def test_completions_then_parts_then_new_files() -> None:
    s = Scheduler()
    s.set_probe(Probe.WRITE, ProbeState.PASSED)
    big, done, new = _file("big", 2 * CHUNK), _file("done", 2 * CHUNK), _file("new", 1)
    s.add([new], check_first=False)
    s.created(big)
    s.parts_stored(done)
    order = [s.next() for _ in range(4)]
    assert [(r.kind, r.file.entry.path, r.part) for r in order if r] == [
        (RequestKind.COMPLETE, "done", None),
        (RequestKind.PART, "big", 1),
        (RequestKind.PART, "big", 2),
        (RequestKind.PUT, "new", None),
    ]
    assert s.next() is None


def test_failed_files_are_passed_over() -> None:
    s = Scheduler()
    s.set_probe(Probe.WRITE, ProbeState.PASSED)
    big, other = _file("big", 2 * CHUNK), _file("other", 1)
    s.created(big)
    s.add([other], check_first=False)
    big.failed = "changed"
    nxt = s.next()
    assert nxt is not None and nxt.file is other
    assert s.next() is None


def test_skip_existing_heads_first_then_writes() -> None:
    s = Scheduler()
    a = _file("a", 2 * CHUNK)
    s.add([a], check_first=True)
    head = s.next()
    assert head is not None and (head.kind, head.probe) == (RequestKind.HEAD, True)
    assert head.kind.probe is Probe.HEAD and not head.kind.carries_data
    s.set_probe(Probe.HEAD, ProbeState.PASSED)
    s.checked(a)
    create = s.next()
    assert create is not None and (create.kind, create.probe) == (RequestKind.CREATE, True)
