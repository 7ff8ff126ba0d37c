"""The time scale: every profile duration is multiplied by it, every rate divided by it.

A 10-minute scenario runs in 6 s at 0.01. Headers the mock sends (reset times, retry-after)
are in wall-clock time, so an unmodified client waits the compressed time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimeScale:
    factor: float = 1.0

    def __post_init__(self) -> None:
        if not self.factor > 0:
            raise ValueError(f"time_scale must be > 0, got {self.factor}")

    def seconds(self, profile_seconds: float) -> float:
        """Wall-clock seconds for a profile duration."""
        return profile_seconds * self.factor

    def per_second(self, per_profile_second: float) -> float:
        """Wall-clock rate for a profile rate (per second)."""
        return per_profile_second / self.factor

    def per_minute(self, per_profile_minute: float) -> float:
        """Wall-clock per-second rate for a per-minute profile limit."""
        return per_profile_minute / (60.0 * self.factor)
