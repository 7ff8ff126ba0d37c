"""The time scale: every profile duration is multiplied by it, every rate divided by it.

A 10-minute scenario runs in 6 s at 0.01. What a client turns into a wait (reset times,
retry-after, Keepa's refillIn and refillRate) is in wall-clock time, so an unmodified client
waits the compressed time. Limits (x-ratelimit-limit-*, x-amzn-RateLimit-Limit) stay in profile
units: they name the profile's bucket, and the harness divides them by the time scale itself.
The mock, the runner, its limiter, retries and header learning, and the sweep all take one
``TimeScale``, validated once where it is made.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimeScale:
    factor: float = 1.0

    def __post_init__(self) -> None:
        if not self.factor > 0:
            raise ValueError(f"time_scale must be > 0, got {self.factor}")

    @classmethod
    def of(cls, value: "TimeScale | float") -> "TimeScale":
        """``value`` as a TimeScale (a number is validated here)."""
        return value if isinstance(value, TimeScale) else cls(float(value))

    @property
    def compressed(self) -> bool:
        return self.factor != 1.0

    def seconds(self, profile_seconds: float) -> float:
        """Wall-clock seconds for a profile duration."""
        return profile_seconds * self.factor

    def profile_seconds(self, wall_seconds: float) -> float:
        """Profile (real) seconds for a wall-clock duration."""
        return wall_seconds / self.factor

    def per_second(self, per_profile_second: float) -> float:
        """Wall-clock rate for a profile rate (per second, or per any unit: Keepa's 20 a minute
        at 0.01 is 2,000 a wall-clock minute)."""
        return per_profile_second / self.factor

    def profile_rate(self, per_wall_second: float) -> float:
        """Profile (real) rate for a rate measured in wall time."""
        return per_wall_second * self.factor

    def per_minute(self, per_profile_minute: float) -> float:
        """Wall-clock per-second rate for a per-minute profile limit."""
        return per_profile_minute / (60.0 * self.factor)

    def __format__(self, spec: str) -> str:
        return format(self.factor, spec)


REAL_TIME = TimeScale(1.0)
