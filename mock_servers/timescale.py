"""The time scale: every profile duration is multiplied by it, every rate divided by it.

A 10-minute scenario runs in 6 s at 0.01. What a client turns into a wait (reset times,
retry-after, Keepa's refillIn and refillRate) is in wall-clock time, so an unmodified client
waits the compressed time. Limits (x-ratelimit-limit-*, x-amzn-RateLimit-Limit) stay in profile
units: they name the profile's bucket, and the harness divides them by the time scale itself.
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

    def rate(self, per_profile_unit: float) -> float:
        """A profile rate in the same unit of time, counted in wall-clock time (Keepa's
        ``refillRate`` per minute: 20 a minute at 0.01 is 2,000 a wall-clock minute)."""
        return per_profile_unit / self.factor

    def per_minute(self, per_profile_minute: float) -> float:
        """Wall-clock per-second rate for a per-minute profile limit."""
        return per_profile_minute / (60.0 * self.factor)
