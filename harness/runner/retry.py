"""The retry policy: which outcomes are retried, and how long to wait before the next try.

Hand-written rather than tenacity/backoff because the runner drives the loop itself (the
limiter and concurrency slots sit between tries, and metrics label each outcome), so only the
two decisions are needed: retry or not, and the delay, which must honour the server's
Retry-After (never less) and scale with the harness's ``time_scale``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from enum import Enum
from typing import Literal

from mock_servers.timescale import TimeScale

__all__ = ["Outcome", "TRANSIENT", "classify_status", "RetryPolicy"]


class Outcome(str, Enum):
    """A call's outcome; the values are the ``outcome`` label of ``harness_requests_total``."""

    OK = "ok"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    CLIENT_ERROR = "client_error"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"

    def __str__(self) -> str:
        return self.value


TRANSIENT: frozenset[Outcome] = frozenset(
    {Outcome.RATE_LIMITED, Outcome.SERVER_ERROR, Outcome.TIMEOUT, Outcome.CONNECTION_ERROR}
)


def classify_status(status: int) -> Outcome:
    """2xx ok; 429 rate_limited; 408 timeout; 5xx (529 included) server_error; any other
    status (4xx, and unexpected 1xx/3xx) client_error, i.e. permanent."""
    if 200 <= status < 300:
        return Outcome.OK
    if status == 429:
        return Outcome.RATE_LIMITED
    if status == 408:
        return Outcome.TIMEOUT
    if 500 <= status < 600:
        return Outcome.SERVER_ERROR
    return Outcome.CLIENT_ERROR


@dataclass(frozen=True)
class RetryPolicy:
    """Retry transient outcomes up to ``max_attempts`` attempts in all, with exponential
    backoff (``base_delay * multiplier ** (attempt - 1)``, capped at ``max_delay``) and jitter:
    ``full`` uniform in [0, d], ``equal`` in [d/2, d], ``none`` exactly d."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: Literal["full", "equal", "none"] = "full"

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts!r}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("base_delay and max_delay must be >= 0")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier!r}")
        if self.jitter not in ("full", "equal", "none"):
            raise ValueError(f"jitter must be 'full', 'equal' or 'none', got {self.jitter!r}")

    def should_retry(self, outcome: Outcome | str, attempt: int) -> bool:
        """Whether to try again after ``attempt`` attempts (1-based) ended in ``outcome``."""
        return Outcome(outcome) in TRANSIENT and attempt < self.max_attempts

    def backoff(self, attempt: int) -> float:
        """The un-jittered delay after ``attempt`` attempts, capped at ``max_delay``."""
        try:
            raw = self.base_delay * self.multiplier ** max(0, attempt - 1)
        except OverflowError:
            raw = math.inf
        return min(raw, self.max_delay)

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait after ``attempt`` attempts: jittered backoff, but never less than
        the server's ``retry_after`` (so capped at ``max(max_delay, retry_after)``)."""
        cap = self.backoff(attempt)
        uniform = (rng or random).uniform
        if self.jitter == "full":
            wait = uniform(0.0, cap)
        elif self.jitter == "equal":
            wait = cap / 2 + uniform(0.0, cap / 2)
        else:
            wait = cap
        if retry_after is not None and math.isfinite(retry_after):
            wait = max(wait, retry_after, 0.0)
        return wait

    def scaled(self, time_scale: TimeScale) -> "RetryPolicy":
        """The same policy with its durations in wall time."""
        return replace(self, base_delay=time_scale.seconds(self.base_delay),
                       max_delay=time_scale.seconds(self.max_delay))
