"""Client-side rate limiting over several dimensions at once (requests/s, RPM, TPM, ...).

Written by hand because no library does what the runner needs together: GCRA (virtual
scheduling) over several dimensions charged as one reservation, the *exact* wait returned
(no polling), no full bucket at start, FIFO reservations, costs above the burst admitted as
debt, refunds of over-estimated tokens, Retry-After blocks that delay the pending schedule,
and rates replaced at run time when they are learnt from headers. (aiolimiter and
pyrate-limiter poll or start full; the ``limits`` package is one dimension and no waits.)

Per dimension the state is ``tat``, the theoretical arrival time: the bucket of ``burst``
units holds ``burst - max(0, tat - t) * per_second`` units at time ``t`` (negative = debt).
A cost ``c`` may start once ``min(c, burst)`` units are there, then ``tat`` moves on by
``c / per_second``: so the long-run rate is exact whatever the costs.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping

from mock_servers.timescale import REAL_TIME, TimeScale

__all__ = ["Rate", "RateLimiter"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]


@dataclass(frozen=True)
class Rate:
    """A sustained rate in units per wall-clock second, and the units that may go at once
    after the limiter has been idle long enough (``burst``)."""

    per_second: float
    burst: float = 1.0

    def __post_init__(self) -> None:
        if not (self.per_second > 0 and math.isfinite(self.per_second)):
            raise ValueError(f"per_second must be a finite number > 0, got {self.per_second!r}")
        if not (self.burst > 0 and math.isfinite(self.burst)):
            raise ValueError(f"burst must be a finite number > 0, got {self.burst!r}")

    @classmethod
    def per_minute(cls, n: float, burst: float | None = None, time_scale: TimeScale = REAL_TIME) -> "Rate":
        """``n`` units per minute, a minute lasting ``60 * time_scale`` wall seconds.
        ``burst`` defaults to 1 unit (smooth pacing)."""
        return cls(time_scale.per_minute(n), 1.0 if burst is None else burst)

    @property
    def interval(self) -> float:
        """Seconds per unit at the sustained rate."""
        return 1.0 / self.per_second


class _Dimension:
    __slots__ = ("rate", "tat", "last")

    def __init__(self, rate: Rate, now: float, fill: float) -> None:
        self.rate = rate
        fill = min(max(fill, 0.0), rate.burst)
        self.tat = now + (rate.burst - fill) / rate.per_second  # only `fill` units there at `now`
        self.last = -math.inf  # start of the latest reservation (FIFO floor)

    def available(self, now: float) -> float:
        return self.rate.burst - max(0.0, self.tat - now) * self.rate.per_second

    def earliest(self, units: float) -> float:
        """Earliest start for ``units``: when ``min(units, burst)`` units are in the bucket."""
        rate = self.rate
        return max(self.last, self.tat - (rate.burst - min(units, rate.burst)) / rate.per_second)


class RateLimiter:
    """GCRA limiter over named dimensions; ``reserve`` returns the exact wait.

    ``initial_fill`` is the number of units each dimension holds at start (and after a
    Retry-After block), not a full bucket: a float for all, or a mapping per dimension
    (dimensions not in the mapping get 1 unit).
    """

    def __init__(
        self,
        rates: Mapping[str, Rate] | None = None,
        clock: Clock = time.monotonic,
        initial_fill: float | Mapping[str, float] = 1.0,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._initial_fill = initial_fill
        self._dims: dict[str, _Dimension] = {}
        self._blocked_until = -math.inf
        self._shift = 0.0  # total delay added to the pending schedule by blocks
        now = clock()
        for dim, rate in (rates or {}).items():
            self._dims[dim] = _Dimension(rate, now, self._fill(dim))

    def _fill(self, dim: str) -> float:
        fill = self._initial_fill
        return fill.get(dim, 1.0) if isinstance(fill, Mapping) else fill

    @property
    def rates(self) -> dict[str, Rate]:
        return {dim: state.rate for dim, state in self._dims.items()}

    @property
    def blocked_until(self) -> float:
        """Clock time before which no reservation starts (``-inf`` if never blocked)."""
        return self._blocked_until

    @property
    def shift(self) -> float:
        """Total seconds blocks have added to the pending schedule. A caller of ``reserve``
        who sleeps itself should, on waking, also wait out any growth of this value."""
        return self._shift

    def available(self, dim: str) -> float:
        """Units of ``dim`` available now (negative: debt or reservations pending)."""
        return self._dims[dim].available(self._clock())

    def reserve(self, cost: Mapping[str, float]) -> float:
        """Reserve ``cost`` (dimension -> units) for the earliest time every dimension allows
        it and return the seconds from now until then (0.0 if now). Dimensions without a rate
        are ignored. FIFO per dimension; a cost above the burst goes as debt once the bucket
        is full, so it never deadlocks."""
        now = self._clock()
        start = max(now, self._blocked_until)
        charged: list[tuple[_Dimension, float]] = []
        for dim, units in cost.items():
            if units < 0 or math.isnan(units):
                raise ValueError(f"cost for {dim!r} must be >= 0, got {units!r}")
            state = self._dims.get(dim)
            if state is None or units == 0:
                continue
            charged.append((state, units))
            start = max(start, state.earliest(units))
        for state, units in charged:
            state.tat = max(state.tat, start) + units / state.rate.per_second
            state.last = start
        return start - now

    async def acquire(self, cost: Mapping[str, float]) -> float:
        """Reserve ``cost`` and sleep until its slot; if a block (``block_until``) is imposed
        meanwhile, also wait the delay it added. Returns the seconds waited."""
        waited = self.reserve(cost)
        shift = self._shift
        if waited > 0:
            await self._sleep(waited)
        while self._shift > shift:  # a Retry-After came in while we slept
            extra, shift = self._shift - shift, self._shift
            waited += extra
            await self._sleep(extra)
        return waited

    def refund(self, dim: str, units: float) -> None:
        """Give back ``units`` of ``dim`` reserved but not used (tokens over-estimated).
        Never fills the bucket past ``burst``; unknown dimensions are ignored."""
        if units < 0:
            raise ValueError(f"refund must be >= 0, got {units!r} (use charge() for more)")
        state = self._dims.get(dim)
        if state is None:
            return
        now = self._clock()
        state.tat = max(state.tat - units / state.rate.per_second, min(state.tat, now))

    def charge(self, dim: str, units: float) -> None:
        """Take ``units`` more of ``dim`` without waiting (used more than reserved): later
        reservations pay it back as debt."""
        if units < 0:
            raise ValueError(f"charge must be >= 0, got {units!r} (use refund() to give back)")
        state = self._dims.get(dim)
        if state is None:
            return
        state.tat = max(state.tat, self._clock()) + units / state.rate.per_second

    def block_until(self, seconds_from_now: float) -> None:
        """Honour a Retry-After: nothing starts before ``now + seconds_from_now``.

        The whole pending schedule moves later by the time the block adds (so reservations
        already handed out keep their order and spacing instead of bunching at the end of the
        block; ``acquire`` waits the extra), and every dimension holds no more than its
        ``initial_fill`` when the block ends, since the server has just said it is empty."""
        now = self._clock()
        until = now + max(0.0, seconds_from_now)
        delay = until - max(now, self._blocked_until)
        if delay <= 0:
            return
        self._blocked_until = until
        self._shift += delay
        for dim, state in self._dims.items():
            rate = state.rate
            fill = min(max(self._fill(dim), 0.0), rate.burst)
            state.tat = max(max(state.tat, now) + delay, until + (rate.burst - fill) / rate.per_second)
            if state.last >= now:
                state.last += delay

    def set_rate(self, dim: str, rate: Rate | None) -> None:
        """Add, replace (``rate``) or remove (``None``) a dimension while running. A new
        dimension starts with ``initial_fill`` units; a replaced one keeps the units it had
        (capped at the new burst; debt is kept and repaid at the new rate)."""
        if rate is None:
            self._dims.pop(dim, None)
            return
        now = self._clock()
        state = self._dims.get(dim)
        if state is None:
            self._dims[dim] = _Dimension(rate, now, self._fill(dim))
            return
        units = min(state.available(now), rate.burst)
        state.rate = rate
        state.tat = now + (rate.burst - units) / rate.per_second

    def __repr__(self) -> str:
        now = self._clock()
        dims = ", ".join(
            f"{dim}={state.rate.per_second:g}/s burst={state.rate.burst:g} available={state.available(now):.3g}"
            for dim, state in self._dims.items()
        )
        blocked = max(0.0, self._blocked_until - now)
        return f"RateLimiter({dims}{', ' if dims else ''}blocked_for={blocked:.3g}s)"
