"""What a run measured, for the progress bar, the summary table and ``--summary-json``.

Latencies go into an HDR histogram (hdrhistogram), so percentiles stay exact to 3 digits over a
million requests in constant memory. Times are wall-clock; the summary also gives them in
real (profile) time, dividing by the time scale.
"""

from __future__ import annotations

import re

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from mock_servers.timescale import REAL_TIME, TimeScale


@dataclass
class RunStats:
    time_scale: TimeScale = REAL_TIME  # a number (a chunk plan's) is made a TimeScale here
    total: int = 0
    done: int = 0
    failed: int = 0
    already_done: int = 0
    already_failed: int = 0
    outcomes: Counter = field(default_factory=Counter)
    retries: Counter = field(default_factory=Counter)
    fail_reasons: Counter = field(default_factory=Counter)
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    bytes_out: int = 0
    bytes_in: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    started: float = 0.0
    ended: float | None = None
    stop_reason: str | None = None
    notice: str | None = None  # what the progress line must say now (the breaker's pause)
    completions: list[float] | None = None  # monotonic finish time of each item, when a sweep asks
    _latency: HdrHistogram = field(default_factory=lambda: HdrHistogram(1, 3_600_000_000, 3))
    _window: deque = field(default_factory=lambda: deque(maxlen=40))

    def start(self, total: int, already_done: int = 0, already_failed: int = 0) -> None:
        self.total = total
        self.already_done = already_done
        self.already_failed = already_failed
        self.started = time.monotonic()
        self._window.append((self.started, 0))

    def request(self, outcome: str, seconds: float) -> None:
        self.outcomes[outcome] += 1
        self._latency.record_value(max(1, int(seconds * 1e6)))

    def retry(self, reason: str) -> None:
        self.retries[reason] += 1

    def bytes(self, out: int, inn: int) -> None:
        self.bytes_out += out
        self.bytes_in += inn

    def usage(self, inp: int, out: int, dollars: float) -> None:
        self.input_tokens += inp
        self.output_tokens += out
        self.cost += dollars

    def item_finished(self, status: str, reason: str | None) -> None:
        if self.completions is not None:
            self.completions.append(time.monotonic())
        if status == "done":
            self.done += 1
        else:
            self.failed += 1
            if reason:
                self.fail_reasons[_reason_kind(reason)] += 1

    def sample(self) -> None:
        """Called a few times a second: keeps a window for the current rate, and the peak."""
        self._window.append((time.monotonic(), self.done + self.failed))
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight

    def finish(self, reason: str | None) -> None:
        self.ended = time.monotonic()
        self.stop_reason = reason

    # -- derived -----------------------------------------------------------------------
    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.already_done - self.already_failed - self.finished)

    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def rate(self) -> float:
        """Items per wall second over the last ~10 s."""
        if len(self._window) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._window[0], self._window[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def eta_seconds(self) -> float | None:
        rate = self.rate()
        if rate <= 0:
            return None
        return self.remaining / rate

    def __post_init__(self) -> None:
        self.time_scale = TimeScale.of(self.time_scale)

    def latency(self, q: float) -> float:
        """The q-th percentile of request latency, wall-clock seconds."""
        if self._latency.get_total_count() == 0:
            return 0.0
        return self._latency.get_value_at_percentile(q) / 1e6

    def summary(self) -> dict[str, Any]:
        wall = self.elapsed()
        scale = self.time_scale
        requests = sum(self.outcomes.values())
        real = scale.profile_seconds(wall)
        return {
            "items_total": self.total,
            "items_done": self.done + self.already_done,
            "items_failed": self.failed + self.already_failed,
            "items_this_run": self.finished,
            "requests": requests,
            "requests_by_outcome": dict(self.outcomes),
            "retries_by_reason": dict(self.retries),
            "failure_reasons": dict(self.fail_reasons.most_common(10)),
            "rate_limited_ratio": (self.outcomes.get("rate_limited", 0) / requests) if requests else 0.0,
            "time_scale": scale.factor,
            "duration_wall_seconds": round(wall, 4),
            "duration_real_seconds": round(real, 4),
            "items_per_second_real": (self.finished / real) if real > 0 else 0.0,
            "requests_per_second_real": (requests / real) if real > 0 else 0.0,
            "latency_real_seconds": {f"p{q:g}": round(scale.profile_seconds(self.latency(q)), 6) for q in (50, 95, 99)},
            "peak_in_flight": self.peak_in_flight,
            "tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "cost_dollars": round(self.cost, 6),
            "bytes": {"out": self.bytes_out, "in": self.bytes_in},
            "stop_reason": self.stop_reason,
        }


_LINE = re.compile(r"^line \d+: ")
_NUMBER = re.compile(r"\d[\d,.]*")


def _reason_kind(reason: str) -> str:
    """A bounded key for a failure reason (its kind and status), for the summary's counts.
    An input error names its line: the key leaves the line (and sizes) out, so a thousand bad
    rows make one summary row, not a thousand."""
    if _LINE.match(reason):
        reason = _NUMBER.sub("N", _LINE.sub("", reason, count=1))
    head = reason.split(":", 2)
    return ":".join(head[:2]).strip()[:80] if len(head) > 1 else reason[:80]
