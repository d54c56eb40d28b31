import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3tui.engine.plan import (
    DEFAULT_CHUNK,
    MAX_OBJECT,
    MAX_PART,
    MAX_PARTS,
    MIN_PART,
    PartPlan,
    plan_parts,
)
from s3tui.sizes import GiB, MiB, TiB


def test_default_plan_grows_and_reaches_past_5_tib() -> None:
    plan = plan_parts()
    assert plan.size_of(1) == DEFAULT_CHUNK
    assert plan.size_of(1000) == DEFAULT_CHUNK
    assert plan.size_of(1001) == 2 * DEFAULT_CHUNK
    assert plan.size_of(MAX_PARTS) <= MAX_PART
    # An unknown stream must be able to pass the classic 5 TiB object limit in 10,000 parts.
    assert plan.capacity() > 5 * TiB
    assert sum(plan.size_of(n) for n in range(1, MAX_PARTS + 1)) == plan.capacity()


@given(st.integers(min_value=MIN_PART, max_value=MAX_PART))
def test_every_part_within_s3_limits(chunk: int) -> None:
    plan = plan_parts(chunk_size=chunk)
    for n in (1, 999, 1000, 1001, 5000, MAX_PARTS):
        assert MIN_PART <= plan.size_of(n) <= MAX_PART


@given(st.integers(min_value=0, max_value=MAX_OBJECT))
def test_expected_size_fits_in_10000_parts(expected: int) -> None:
    plan = plan_parts(expected_size=expected)
    assert plan.grow_every is None
    assert plan.size_of(1) * MAX_PARTS >= expected
    assert MIN_PART <= plan.size_of(1) <= MAX_PART


def test_expected_size_keeps_a_larger_chunk() -> None:
    assert plan_parts(chunk_size=64 * MiB, expected_size=1 * GiB).size_of(1) == 64 * MiB


def test_expected_size_raises_part_size_for_huge_streams() -> None:
    plan = plan_parts(expected_size=1 * TiB)
    assert plan.size_of(1) >= TiB // MAX_PARTS
    assert plan.size_of(1) % MiB == 0


@pytest.mark.parametrize("chunk", [MIN_PART - 1, MAX_PART + 1, 0])
def test_chunk_size_outside_limits(chunk: int) -> None:
    with pytest.raises(ValueError, match="5MiB to 5GiB"):
        plan_parts(chunk_size=chunk or 1)


def test_expected_size_beyond_s3_maximum() -> None:
    with pytest.raises(ValueError, match="maximum object size"):
        plan_parts(expected_size=MAX_OBJECT + 1)


def test_fixed_plan_capacity() -> None:
    assert PartPlan(base=MIN_PART, grow_every=None).capacity() == MIN_PART * MAX_PARTS
