"""Pacing users so that ``users / pacing`` requests/s arrive evenly spaced.

With ``--pacing P`` every user sends one request per P seconds, and the process spreads their
start times evenly: each user, before a request, reserves the next free slot of a per-process
schedule whose interval is ``P / users``. So a step of users is a step of arrival rate without
bursts (a burst would hit a small token bucket before the rate does), and ``--shape constant``
is an arrival rate. Without pacing a user sends the next request as soon as the answer is in.
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from locust import FastHttpUser

from .options import option
from .shapes import constant_users


class Pacer:
    """The per-process schedule of request slots (one per Locust process)."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._next = 0.0

    def reserve(self, interval: float) -> float:
        """Seconds to wait for the next slot ``interval`` after the last one reserved."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + interval
        return slot - now

    def __repr__(self) -> str:
        return f"Pacer(next_in={max(0.0, self._next - self._clock()):.3f}s)"


PACER = Pacer()


def user_pacing(environment: Any) -> float:
    """Seconds between one user's requests (0: unpaced)."""
    pacing = float(option(environment, "pacing", 0.0) or 0.0)
    if option(environment, "shape", "none") == "constant":
        rate = float(option(environment, "rate", 0.0) or 0.0)
        if rate > 0:
            return constant_users(rate, pacing) / rate  # users = ceil(rate x pacing): exactly `rate` req/s
    return pacing


class PacedUser(FastHttpUser):
    """A FastHttpUser that honours ``--pacing`` (and ``--shape constant``) before every task."""

    abstract = True
    target = "api"          # the `target` label of the Prometheus export
    connection_timeout = 10.0
    network_timeout = 120.0

    def wait_time(self) -> float:  # type: ignore[override]
        return self.pace_delay()

    def pace_delay(self) -> float:
        pacing = user_pacing(self.environment)
        if pacing <= 0:
            return 0.0
        users = max(1, self.environment.runner.user_count if self.environment.runner else 1)
        return PACER.reserve(pacing / users)

    def on_start(self) -> None:
        delay = self.pace_delay()  # the first request waits for its slot too
        if delay > 0:
            gevent.sleep(delay)
