"""The life of a provider batch, time-scaled and computed from the clock (no background tasks).

A batch's turnaround is drawn from the profile's ``batch.turnaround`` (lognormal, profile
seconds) and scaled to wall time. Its requests finish evenly over the processing phase, so
``done(now)`` is how many are answered; past the 24 h window (``batch.window_seconds``) the
rest expire; a cancel freezes the count.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .latency import LogNormal
from .profile import BatchSettings
from .timescale import TimeScale

VALIDATING_SHARE = 0.02   # of the turnaround: checking the input
FINALIZING_SHARE = 0.03   # of the turnaround: writing the results


@dataclass
class Timeline:
    """Wall-clock instants (epoch seconds) of one batch."""

    created: float
    turnaround: float
    window: float
    total: int
    cancel_at: float | None = None

    @classmethod
    def draw(cls, settings: BatchSettings, scale: TimeScale, rng: random.Random, now: float, total: int) -> "Timeline":
        spread = LogNormal(settings.turnaround.median, settings.turnaround.p99, rng)
        return cls(now, scale.seconds(spread.sample()), scale.seconds(settings.window_seconds), total)

    @property
    def in_progress_at(self) -> float:
        return self.created + self.turnaround * VALIDATING_SHARE

    @property
    def finalizing_at(self) -> float:
        return self.created + self.turnaround * (1 - FINALIZING_SHARE)

    @property
    def ends_at(self) -> float:
        """When results are ready: the turnaround, or the window's end if that comes first."""
        end = min(self.created + self.turnaround, self.created + self.window)
        if self.cancel_at is not None:
            end = min(end, self.cancel_at + self.turnaround * FINALIZING_SHARE)
        return end

    @property
    def expires(self) -> bool:
        return self.turnaround > self.window and self.cancel_at is None

    def done(self, now: float) -> int:
        """Requests answered by ``now`` (frozen at a cancel or the window's end)."""
        t = now if self.cancel_at is None else min(now, self.cancel_at)
        t = min(t, self.created + self.window)
        if t >= self.finalizing_at:
            return self.total
        if t <= self.in_progress_at:
            return 0
        span = self.finalizing_at - self.in_progress_at
        return min(self.total, int(self.total * (t - self.in_progress_at) / span)) if span > 0 else self.total

    def ended(self, now: float) -> bool:
        return now >= self.ends_at
