"""The circuit breaker: a target that stops answering must not burn through the input.

After ``threshold`` consecutive connection failures (across all workers) the breaker opens: calls
to that target wait instead of failing their items, while one probe reconnects with exponential
backoff. The first probe that connects closes it and the waiting calls go on; after
``give_up_after`` seconds of probing it gives up, and the run stops (exit 3, resumable).

Hand-written rather than a library (pybreaker, aiobreaker) because those fail calls fast while
open; the runner needs the opposite: calls held, not failed, and the run stopped on give-up.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

from harness.errors import BreakerGaveUp

__all__ = ["CircuitBreaker", "BreakerGaveUp"]


class CircuitBreaker:
    """One target's breaker. ``probe()`` returns True when the target accepts a connection."""

    def __init__(self, name: str, probe: Callable[[], Awaitable[bool]], *, threshold: int = 10,
                 base_delay: float = 0.5, max_delay: float = 10.0, give_up_after: float = 60.0,
                 on_change: Callable[[str | None], None] | None = None,
                 on_give_up: Callable[[str], None] | None = None) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be >= 1, got {threshold!r}")
        self.name = name
        self.threshold = threshold
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.give_up_after = give_up_after
        self.failures = 0  # consecutive connection failures
        self.is_open = False
        self.gave_up: str | None = None
        self._probe = probe
        self._on_change = on_change
        self._on_give_up = on_give_up
        self._closed: asyncio.Future[None] | None = None
        self._task: asyncio.Task | None = None

    def failure(self) -> None:
        """A call got no connection; opens the breaker at the threshold."""
        self.failures += 1
        if self.failures >= self.threshold and not self.is_open and self.gave_up is None:
            self.is_open = True
            loop = asyncio.get_running_loop()
            self._closed = loop.create_future()
            self._task = loop.create_task(self._probing())

    async def wait(self) -> None:
        """Hold a call while the breaker is open; raises :class:`BreakerGaveUp` after the bound."""
        if self.gave_up is not None:
            raise BreakerGaveUp(self.gave_up)
        if self._closed is not None and not self._closed.done():
            await asyncio.shield(self._closed)
        if self.gave_up is not None:
            raise BreakerGaveUp(self.gave_up)

    async def _probing(self) -> None:
        started = time.monotonic()
        delay = self.base_delay
        tries = 0
        while True:
            elapsed = time.monotonic() - started
            left = self.give_up_after - elapsed
            self._say(f"target {self.name} unreachable ({self.failures} connection failures in a row): "
                      f"paused, probing in {delay:.1f}s, giving up in {max(left, 0):.0f}s")
            if left <= 0:
                break
            await asyncio.sleep(min(delay, left))
            tries += 1
            if await self._probe():
                self.failures = 0
                self.is_open = False
                self._say(None)
                self._release()
                return
            delay = min(delay * 2, self.max_delay)
        self.gave_up = (f"target {self.name} unreachable for {self.give_up_after:g}s "
                        f"({tries} probes failed); --resume continues once it is back")
        self.is_open = False
        self._say(self.gave_up)
        self._release()
        if self._on_give_up is not None:
            self._on_give_up(self.gave_up)

    def _release(self) -> None:
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def _say(self, text: str | None) -> None:
        if self._on_change is not None:
            self._on_change(text)

    def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._release()

    def __repr__(self) -> str:
        state = "gave up" if self.gave_up else ("open" if self.is_open else "closed")
        return f"CircuitBreaker({self.name!r}, {state}, failures={self.failures}/{self.threshold})"
