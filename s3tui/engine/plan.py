"""Part sizes: S3's multipart limits and how s3tui stays inside them without being told the size.

S3 allows parts of 5 MiB to 5 GiB (the last may be smaller), at most 10,000 of them, and parts of
one upload may differ in size. A stream of unknown length therefore starts with small parts (low
latency, small spool) and doubles the part size every ``GROW_EVERY`` parts, like s3gof3r does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from s3tui.sizes import GiB, MiB, format_size

MIN_PART = 5 * MiB
MAX_PART = 5 * GiB
MAX_PARTS = 10_000
MAX_OBJECT = MAX_PARTS * MAX_PART
DEFAULT_CHUNK = 8 * MiB
GROW_EVERY = 1_000


@dataclass(frozen=True)
class PartPlan:
    """Which size part number ``n`` (1-based) gets; ``grow_every=None`` means a fixed size."""

    base: int
    grow_every: int | None = GROW_EVERY

    def size_of(self, part_number: int) -> int:
        if self.grow_every is None:
            return self.base
        doublings = (part_number - 1) // self.grow_every
        return min(self.base << min(doublings, 40), MAX_PART)

    def capacity(self) -> int:
        """The most bytes 10,000 parts of this plan can hold."""
        if self.grow_every is None:
            return self.base * MAX_PARTS
        total, n = 0, 1
        while n <= MAX_PARTS:
            span = min(self.grow_every, MAX_PARTS - n + 1)
            total += span * self.size_of(n)
            n += span
        return total


def validate_chunk_size(size: int) -> None:
    if not MIN_PART <= size <= MAX_PART:
        raise ValueError(
            f"chunk size {format_size(size)} is outside S3's part limits: "
            "use 5MiB to 5GiB, e.g. --chunk-size 16MiB"
        )


def plan_parts(chunk_size: int | None = None, expected_size: int | None = None) -> PartPlan:
    """Plan part sizes from the user's hints.

    With ``expected_size`` the part size is fixed and large enough for 10,000 parts (rounded up
    to a whole MiB); without it, sizes grow so an unknown stream can reach ~7.8 TiB at the default
    8 MiB start (well past the classic 5 TiB object limit most S3 stores have).
    """
    base = chunk_size or DEFAULT_CHUNK
    validate_chunk_size(base)
    if expected_size is None:
        return PartPlan(base=base)
    if expected_size > MAX_OBJECT:
        raise ValueError(
            f"expected size {format_size(expected_size)} exceeds S3's maximum object size "
            f"({format_size(MAX_OBJECT)}): split the data into several objects"
        )
    needed = math.ceil(expected_size / MAX_PARTS / MiB) * MiB
    return PartPlan(base=min(max(base, needed), MAX_PART), grow_every=None)
