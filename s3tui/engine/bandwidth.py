"""The bandwidth estimate, the deadlines it sets, the back-off between attempts, and ``--bwlimit``.

Pure logic with injectable clocks, so the tests need neither a server nor ``sleep``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from s3tui.engine import watchdog
from s3tui.engine.config import UploadConfig

# Requests smaller than this say more about latency than bandwidth; they do not move the estimate.
MIN_SAMPLE_BYTES = 256 * 1024
# The stretch of a body whose time sets the stall allowance while sending: the body's block,
# the coarsest step its progress reports take where the socket cannot be read.
STALL_UNIT = 1024 * 1024


class BandwidthEstimator:
    """Exponentially weighted average of per-request throughput (bytes/s) over successes."""

    def __init__(self, initial: float, alpha: float) -> None:
        self._value = float(initial)
        self._alpha = alpha
        self._samples = 0
        self._lock = threading.Lock()

    @property
    def value(self) -> float:
        return self._value

    @property
    def samples(self) -> int:
        return self._samples

    def update(self, nbytes: int, seconds: float) -> float:
        """Fold in one successful request; returns the new estimate."""
        if nbytes < MIN_SAMPLE_BYTES or seconds <= 0:
            return self._value
        rate = nbytes / seconds
        with self._lock:
            # The first real sample replaces the guess outright: the seed value is only a guess.
            if self._samples == 0:
                self._value = rate
            else:
                self._value += self._alpha * (rate - self._value)
            self._samples += 1
            return self._value


def deadline_for(size: int, estimate: float, attempt: int, cfg: UploadConfig) -> float:
    """Wall-clock seconds one attempt may take; ``attempt`` counts from 1."""
    base = cfg.latency_allowance + size / max(estimate, 1.0) * cfg.timeout_factor
    grown = base * cfg.deadline_backoff ** (attempt - 1)
    return min(max(grown, cfg.min_deadline), cfg.max_deadline)


def stall_rule_for(
    size: int, estimate: float, cfg: UploadConfig, grown: int = 0
) -> watchdog.StallRule | None:
    """When a request of ``size`` body bytes counts as stalled (None: it has no body, or stall
    cuts are off): see :class:`~s3tui.engine.watchdog.StallRule`.

    ``grown``: how many times the request's deadline grew (the estimate may be wrong, e.g. the
    link is down and nothing completes): the allowances grow with it, so an outage does not
    burn a request's attempts at one every two seconds."""
    if size <= 0 or cfg.stall_floor <= 0:
        return None
    rate = max(estimate, 1.0)
    more = cfg.deadline_backoff**grown
    return watchdog.StallRule(
        sending=more * max(cfg.stall_floor, cfg.stall_factor * min(size, STALL_UNIT) / rate),
        answer=more * (cfg.stall_floor + cfg.latency_allowance),
        predicted=size / rate,
    )


def retry_delay(attempt: int, cfg: UploadConfig, rng: random.Random | None = None) -> float:
    """Sleep before attempt ``attempt + 1``: exponential back-off with full jitter (AWS style)."""
    cap = min(cfg.retry_max_delay, cfg.retry_base_delay * 2 ** (attempt - 1))
    return (rng or random).uniform(cap / 2, cap)


class RateLimiter:
    """A token bucket shared by every request of the process (``--bwlimit``).

    ``take(n)`` returns how long the caller should wait before sending ``n`` bytes; the caller
    sleeps, so one slow consumer never holds a lock while waiting.
    """

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = float(rate)
        self._burst = burst if burst is not None else max(self.rate / 4, 256 * 1024)
        self._clock = clock
        self._tokens = self._burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self, n: int) -> float:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= n
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def throttle(self, n: int) -> None:
        """Take ``n`` bytes' tokens and wait for them; a request's wait ends (DeadlineExceeded)
        when its guard fires, so a stop is never held up by the rate limit."""
        wait = self.take(n)
        if wait > 0:
            watchdog.sleep(wait)
