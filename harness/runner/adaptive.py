"""Adaptive concurrency: AIMD on the number of requests in flight, under a hard cap.

Hand-written because what exists does not fit: asyncio.Semaphore has a fixed size, and the
adaptive libraries (Netflix's concurrency-limits, ``aioconcurrency``-style gradients) follow
latency rather than 429/529 signals. The limit starts at ``max_limit`` (``--workers``), is
multiplied by ``decrease`` on a rate-limit or overload answer (once per ``cooldown``, so one
burst of 429s from the same window counts once), and grows by ``increase`` per window of
``limit`` successes. Waiters are served FIFO through futures: no polling.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from typing import Callable

__all__ = ["AdaptiveConcurrency", "BACKOFF_OUTCOMES"]

BACKOFF_OUTCOMES = frozenset({"rate_limited", "overloaded"})


class AdaptiveConcurrency:
    """A semaphore whose size follows AIMD between ``min_limit`` and ``max_limit``.

    ``release(outcome)``: ``"ok"`` grows the limit, ``"rate_limited"``/``"overloaded"`` shrink
    it, anything else is neutral. (A 529 classifies as ``server_error`` in
    :mod:`harness.runner.retry`; pass ``"overloaded"`` for it to back off.)
    """

    def __init__(
        self,
        max_limit: int,
        *,
        min_limit: int = 1,
        decrease: float = 0.7,
        increase: float = 1.0,
        cooldown: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min_limit < 1 or max_limit < min_limit:
            raise ValueError(f"need 1 <= min_limit <= max_limit, got {min_limit}, {max_limit}")
        if not 0 < decrease < 1:
            raise ValueError(f"decrease must be in (0, 1), got {decrease!r}")
        if increase < 0 or cooldown < 0:
            raise ValueError("increase and cooldown must be >= 0")
        self.max_limit = max_limit
        self.min_limit = min_limit
        self.decrease = decrease
        self.increase = increase
        self.cooldown = cooldown
        self._clock = clock
        self._limit = float(max_limit)  # fractional: additive increase accumulates
        self._in_flight = 0
        self._last_decrease = -math.inf
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def limit(self) -> int:
        return max(self.min_limit, int(self._limit))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return sum(1 for fut in self._waiters if not fut.done())

    async def acquire(self) -> None:
        """Take a slot, waiting (FIFO) while ``in_flight >= limit``."""
        if not self._waiters and self._in_flight < self.limit:
            self._in_flight += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # granted, then cancelled: hand it on
                self._in_flight -= 1
                self._wake()
            else:
                try:
                    self._waiters.remove(fut)
                except ValueError:
                    pass
            raise

    def release(self, outcome: str = "neutral") -> None:
        """Give back a slot and adapt the limit to how the call went."""
        if self._in_flight <= 0:
            raise RuntimeError("release() without a matching acquire()")
        self._in_flight -= 1
        outcome = str(outcome)
        if outcome == "ok":
            self._limit = min(float(self.max_limit), self._limit + self.increase / self.limit)
        elif outcome in BACKOFF_OUTCOMES:
            now = self._clock()
            if now - self._last_decrease >= self.cooldown:
                self._last_decrease = now
                self._limit = max(float(self.min_limit), self._limit * self.decrease)
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._in_flight < self.limit:
            fut = self._waiters.popleft()
            if fut.done():  # cancelled while waiting
                continue
            self._in_flight += 1
            fut.set_result(None)

    def __repr__(self) -> str:
        return (
            f"AdaptiveConcurrency(limit={self.limit}, in_flight={self._in_flight}, waiting={self.waiting}, "
            f"min_limit={self.min_limit}, max_limit={self.max_limit})"
        )
