import random

import pytest

from s3tui.engine.bandwidth import (
    MIN_SAMPLE_BYTES,
    BandwidthEstimator,
    RateLimiter,
    deadline_for,
    retry_delay,
)
from s3tui.engine.config import UploadConfig
from s3tui.sizes import MiB


def test_first_sample_replaces_the_guess_then_ewma() -> None:
    est = BandwidthEstimator(initial=2e6, alpha=0.25)
    assert est.update(10 * MiB, 1.0) == pytest.approx(10 * MiB)
    est.update(2 * MiB, 1.0)
    assert est.value == pytest.approx(10 * MiB + 0.25 * (2 * MiB - 10 * MiB))


def test_estimate_converges_to_steady_rate() -> None:
    est = BandwidthEstimator(initial=1e9, alpha=0.25)
    for _ in range(40):
        est.update(8 * MiB, 8 * MiB / 5e6)
    assert est.value == pytest.approx(5e6, rel=1e-3)


def test_tiny_requests_do_not_move_the_estimate() -> None:
    est = BandwidthEstimator(initial=3e6, alpha=0.5)
    est.update(MIN_SAMPLE_BYTES - 1, 10.0)
    assert est.value == 3e6 and est.samples == 0


def test_deadline_scales_with_size_and_backs_off() -> None:
    cfg = UploadConfig(
        latency_allowance=2, timeout_factor=3, deadline_backoff=2, min_deadline=1, max_deadline=1000
    )
    d1 = deadline_for(10_000_000, 1e6, 1, cfg)
    assert d1 == pytest.approx(2 + 10 * 3)
    assert deadline_for(10_000_000, 1e6, 2, cfg) == pytest.approx(2 * d1)
    assert deadline_for(10_000_000, 1e6, 3, cfg) == pytest.approx(4 * d1)
    # a faster link gives a tighter deadline
    assert deadline_for(10_000_000, 10e6, 1, cfg) < d1


def test_deadline_floor_and_ceiling() -> None:
    cfg = UploadConfig(min_deadline=5, max_deadline=60)
    assert deadline_for(1, 1e9, 1, cfg) == 5
    assert deadline_for(10**12, 1.0, 1, cfg) == 60


def test_retry_delay_grows_with_jitter_and_cap() -> None:
    cfg = UploadConfig(retry_base_delay=0.5, retry_max_delay=8)
    rng = random.Random(1)
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 8.0), (20, 8.0)]:
        d = retry_delay(attempt, cfg, rng)
        assert cap / 2 <= d <= cap


def test_rate_limiter_with_fake_clock() -> None:
    now = [0.0]
    lim = RateLimiter(rate=1_000_000, burst=100_000, clock=lambda: now[0])
    assert lim.take(100_000) == 0.0  # the burst is free
    assert lim.take(500_000) == pytest.approx(0.5)  # then the rate applies
    now[0] = 0.5
    assert lim.take(0) == 0.0  # paid back
    assert lim.take(1_000_000) == pytest.approx(1.0)
