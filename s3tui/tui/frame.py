"""What every dashboard panel is given on each tick: one snapshot plus what the app measured."""

from __future__ import annotations

from dataclasses import dataclass

from s3tui.engine.progress import Snapshot


@dataclass(frozen=True)
class Frame:
    snapshot: Snapshot
    now: float  # the progress model's clock, to age parts (speed, deadline, fade-out)
    rate: float  # bytes/s put on the wire over the last few seconds
    spool_free: int | None  # free bytes on the spool's filesystem, None when unknown
