"""A small closed-loop load generator for the mock server tests (127.0.0.1 only, bounded).

``hammer`` sends one request alone (it creates the client's buckets at a well-known instant),
then runs ``clients`` loops back to back until ``duration`` seconds have passed or
``max_requests`` were sent. Every request is recorded with the instants it was sent and
answered, so a test can measure the window the server saw instead of the one it asked for.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict
from prometheus_client.parser import text_string_to_metric_families

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
    uvloop = None


@dataclass(frozen=True)
class Call:
    """One request to repeat."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def __post_init__(self) -> None:
        host = urlsplit(self.url).hostname
        if host != "127.0.0.1":
            raise ValueError(f"load tests run against 127.0.0.1 only, not {host}")


@dataclass(frozen=True)
class Sample:
    sent: float
    done: float
    status: int
    headers: Mapping[str, str]  # case-insensitive, as HTTP's are
    body: bytes

    @property
    def mid(self) -> float:
        """Best guess of when the server handled it (admission happens early, answers are fast)."""
        return (self.sent + self.done) / 2


@dataclass
class Run:
    samples: list[Sample]

    def count(self, status: int) -> int:
        return sum(1 for s in self.samples if s.status == status)

    def statuses(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for s in self.samples:
            out[s.status] = out.get(s.status, 0) + 1
        return out

    @property
    def first(self) -> Sample:
        return min(self.samples, key=lambda s: s.sent)

    @property
    def last(self) -> Sample:
        return max(self.samples, key=lambda s: s.sent)

    def silences(self, longer_than: float = 0.0) -> list[tuple[float, float]]:
        """Spans in which the server may have had no request to answer: a gap with nothing in
        flight, or a request that took the whole span (the server, or its machine, stalled
        while it waited). Spans longer than ``longer_than`` are kept, overlapping ones merged."""
        spans = sorted((s.sent, s.done) for s in self.samples)
        found = [span for span in spans if span[1] - span[0] > longer_than]
        covered = spans[0][1]
        for sent, done in spans[1:]:
            if sent - covered > longer_than:
                found.append((covered, sent))
            covered = max(covered, done)
        merged: list[tuple[float, float]] = []
        for start, end in sorted(found):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def longest_silence(self, longer_than: float = 0.002) -> float:
        return max((end - start for start, end in self.silences(longer_than)), default=0.0)

    def time_beyond(self, absorbs: float) -> float:
        """Seconds of silence beyond ``absorbs`` each: at most that long a full bucket overflowed.
        (Spans under a quarter of ``absorbs`` are ordinary requests, not silences.)"""
        return sum(max(0.0, end - start - absorbs) for start, end in self.silences(absorbs / 4))

    def between_refusals(self, refused: int) -> tuple[Sample, Sample, float]:
        """The first and the last refused request, and how many accepted (200) ones the server
        handled between them: the bucket held less than one request's cost at both instants,
        so whatever it took or held at the start (its burst) is outside. An accepted request
        overlapping a boundary one may have been handled on either side of it: it counts half."""
        refusals = sorted((x for x in self.samples if x.status == refused), key=lambda x: x.sent)
        a, b = refusals[0], refusals[-1]
        n = 0.0
        for x in self.samples:
            if x.status != 200 or x.done <= a.sent or x.sent >= b.done:
                continue
            n += 1.0 if (x.sent >= a.done and x.done <= b.sent) else 0.5
        return a, b, n

    @property
    def window(self) -> float:
        """Seconds from the first request to the last, as the server saw them (midpoints)."""
        return self.last.mid - self.first.mid


def run(coro: Awaitable[Any]) -> Any:
    """Run ``coro`` on a fresh event loop (uvloop when available: the client must outpace limits)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None) as runner:
        return runner.run(coro)


def session(clients: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=clients + 1, force_close=False),
        timeout=aiohttp.ClientTimeout(total=30),
    )


async def send(http: aiohttp.ClientSession, call: Call, keep_body: bool = False) -> Sample:
    sent = time.perf_counter()
    async with http.request(call.method, call.url, headers=dict(call.headers), data=call.body) as r:
        body = await r.read()
        done = time.perf_counter()
        return Sample(sent, done, r.status, CIMultiDict(r.headers), body if keep_body else b"")


async def hammer(
    call: Call | Callable[[int], Call],
    *,
    clients: int,
    duration: float,
    max_requests: int,
    keep_body: bool = False,
    interval: float = 0.0,
    start_pause: float = 0.0,
) -> Run:
    """Closed loop: ``clients`` concurrent loops for ``duration`` seconds, ``max_requests`` at most.

    With ``interval``, each loop starts a request at most every ``interval`` seconds (on an
    absolute schedule), which keeps the server from saturating a core: a process that sleeps
    between requests is scheduled at once when one arrives, a busy one waits for its slice.
    """
    make = call if callable(call) else (lambda i: call)
    samples: list[Sample] = []
    sent = 0
    async with session(clients) as http:
        first = await send(http, make(0), keep_body=True)
        samples.append(first)
        sent = 1
        deadline = first.sent + duration

        async def loop(k: int) -> None:
            nonlocal sent
            due = first.done + start_pause + k * interval / clients
            if start_pause:
                await asyncio.sleep(start_pause)
            while sent < max_requests and time.perf_counter() < deadline:
                if interval:
                    pause = due - time.perf_counter()
                    if pause > 0:
                        await asyncio.sleep(pause)
                    due += interval
                i = sent
                sent += 1
                samples.append(await send(http, make(i), keep_body))

        await asyncio.gather(*(loop(k) for k in range(clients)))
    assert sent < max_requests, f"the loop hit its bound of {max_requests} requests before {duration} s"
    return Run(samples)


def metric_samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """``{sorted label items: value}`` of one metric in a Prometheus exposition."""
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


async def server_counts(base_url: str, provider: str, endpoint: str) -> dict[str, float]:
    """The mock's own ``mock_requests_total`` by status for one endpoint."""
    async with aiohttp.ClientSession() as http:
        async with http.get(base_url + "/metrics") as r:
            text = await r.text()
    out: dict[str, float] = {}
    for labels, value in metric_samples(text, "mock_requests_total").items():
        d = dict(labels)
        if d["provider"] == provider and d["endpoint"] == endpoint:
            out[d["status"]] = value
    return out


async def reset(base_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(base_url + "/admin/reset") as r:
            assert r.status == 200
