"""Server-side token bucket: the providers' "continuously replenished" limits.

A bucket holds at most ``capacity`` tokens (a minute's worth for per-minute limits), starts
full as a provider's does, and refills at ``rate`` tokens per wall-clock second.
"""

from __future__ import annotations

import time
from typing import Callable

Clock = Callable[[], float]


class TokenBucket:
    __slots__ = ("capacity", "rate", "_level", "_stamp", "_clock")

    def __init__(self, capacity: float, rate: float, clock: Clock = time.monotonic) -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError(f"capacity and rate must be > 0 (got {capacity}, {rate})")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._clock = clock
        self._level = self.capacity
        self._stamp = clock()

    def _refill(self) -> float:
        now = self._clock()
        level = self._level + (now - self._stamp) * self.rate
        self._level = level if level < self.capacity else self.capacity
        self._stamp = now
        return self._level

    def level(self) -> float:
        return self._refill()

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` tokens would be available (0 if they are now)."""
        missing = amount - self._refill()
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, amount: float) -> None:
        self._refill()
        self._level -= amount

    def give_back(self, amount: float) -> None:
        """Return unused tokens (Anthropic adjusts output tokens after the call)."""
        self._refill()
        self._level = min(self.capacity, self._level + amount)

    def reset_seconds(self) -> float:
        """Seconds until the bucket is full again (the providers' "reset")."""
        return max(0.0, (self.capacity - self._refill()) / self.rate)

    def __repr__(self) -> str:
        return f"TokenBucket(capacity={self.capacity:g}, rate={self.rate:g}/s, level={self._level:.2f})"


class BucketSet:
    """Several buckets charged together, all or none: a request is admitted only when
    every dimension (requests, tokens, ...) has room."""

    __slots__ = ("buckets",)

    def __init__(self, buckets: dict[str, TokenBucket]) -> None:
        self.buckets = buckets

    def try_take(self, amounts: dict[str, float]) -> tuple[str, float] | None:
        """Take ``amounts`` from each named bucket; if one lacks room, take nothing and return
        (that dimension, seconds to wait). Amounts above a bucket's capacity can never pass."""
        worst: tuple[str, float] | None = None
        for name, amount in amounts.items():
            bucket = self.buckets.get(name)
            if bucket is None:
                continue
            wait = bucket.wait_for(amount)
            if wait > 0 and (worst is None or wait > worst[1]):
                worst = (name, wait)
        if worst is not None:
            return worst
        for name, amount in amounts.items():
            bucket = self.buckets.get(name)
            if bucket is not None:
                bucket.take(amount)
        return None
