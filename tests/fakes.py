"""Test doubles shared by the suites."""

from __future__ import annotations


class FakeClock:
    """A monotonic clock that moves only when a test says so (``clock.now``, ``advance``)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
