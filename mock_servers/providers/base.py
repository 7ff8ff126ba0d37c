"""What every provider mock shares: the request pipeline, capacity, faults and metrics.

A provider subclass registers its routes and supplies its own error bodies; the order of a
request through the pipeline is the real APIs' order: authenticate, validate, rate-limit
(fast 429s), then wait for capacity, then work (latency, faults), then answer.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web

from ..bucket import BucketSet, Clock, TokenBucket
from ..latency import LogNormal
from ..metrics import MockMetrics
from ..profile import FAULT_KINDS, Capacity, Latency, Profile
from ..rules import rules_for
from ..timescale import TimeScale

JSON = "application/json"


@dataclass
class MockContext:
    """What all providers of one server share."""

    time_scale: TimeScale = field(default_factory=TimeScale)
    metrics: MockMetrics = field(default_factory=MockMetrics)
    rng: random.Random = field(default_factory=random.Random)
    clock: Clock = time.monotonic
    wall_clock: Callable[[], float] = time.time

    @property
    def scaled(self) -> bool:
        return self.time_scale.factor != 1.0


class CapacityGate:
    """At most ``max_in_flight`` requests work at once; others wait in a FIFO queue.

    Past ``max_queue`` waiting, or after ``queue_timeout`` (profile seconds) in the queue, a
    request is refused, which is what gives a ramp test its knee.
    """

    def __init__(self, capacity: Capacity, time_scale: TimeScale) -> None:
        self.limit = capacity.max_in_flight
        self.max_queue = capacity.max_queue
        self.timeout = time_scale.seconds(capacity.queue_timeout)
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> bool:
        if self.limit is None:
            self.active += 1
            return True
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return True
        if len(self._waiters) >= self.max_queue:
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait_for(asyncio.shield(fut), self.timeout)
            return True
        except (asyncio.TimeoutError, asyncio.CancelledError):
            if fut.done() and not fut.cancelled():
                self.release()  # the slot was handed over just as we gave up
            else:
                fut.cancel()
                try:
                    self._waiters.remove(fut)
                except ValueError:
                    pass
            if isinstance(asyncio.current_task(), asyncio.Task) and asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise
            return False

    def release(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot passes straight to the next in line
                return
        self.active -= 1

    def __repr__(self) -> str:
        return f"CapacityGate(limit={self.limit}, active={self.active}, queued={self.queued})"


class Provider:
    """Base class of the provider mocks. Subclasses set ``overload_status`` and implement
    :meth:`routes` and :meth:`error`."""

    overload_status = 503

    def __init__(self, profile: Profile, ctx: MockContext) -> None:
        self.ctx = ctx
        self.name = profile.name
        self._buckets: dict[Any, BucketSet] = {}
        self.gate = CapacityGate(profile.capacity, ctx.time_scale)
        self.configure(profile)
        m = ctx.metrics
        self._in_flight = m.child(m.in_flight, self.name)
        self._req_bytes = m.child(m.request_bytes, self.name)
        self._resp_bytes = m.child(m.response_bytes, self.name)
        self._latency_hist = m.child(m.injected_latency, self.name)

    # -- configuration -------------------------------------------------------------------
    def configure(self, profile: Profile) -> None:
        """(Re)build everything derived from the profile; called again by the admin API."""
        old = getattr(self, "profile", None)
        self.profile = profile
        self.rules = rules_for(profile)
        self.latency = self.latency_model(profile.latency)
        if old is None or old.limits != profile.limits or old.models != profile.models or old.endpoints != profile.endpoints:
            self._buckets.clear()
        if old is None or old.capacity != profile.capacity:
            gate = CapacityGate(profile.capacity, self.ctx.time_scale)
            gate.active = self.gate.active
            self.gate = gate
        faults = profile.faults
        self._fault_table = [(k, getattr(faults, k)) for k in FAULT_KINDS if getattr(faults, k) > 0]

    def latency_model(self, latency: Latency) -> LogNormal:
        return LogNormal(latency.median, latency.p99, self.ctx.rng)

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError  # each provider module overrides this

    def error(self, status: int, kind: str, message: str, **extra: Any) -> web.Response:
        raise NotImplementedError  # each provider module overrides this

    def request_too_large(self, size: int, limit: int) -> web.Response:
        """The real API's 413 for a body past its documented limit (the providers behind an edge
        that answers it themselves override this)."""
        return self.error(413, "request_too_large",
                          f"Request body of {size} bytes exceeds the maximum of {limit} bytes.")

    def method_not_allowed(self, method: str, path: str, allowed: list[str]) -> web.Response:
        """A known path asked with another method: 405 with ``Allow``, in the provider's format
        (OpenAI overrides this: it answers 404 "Invalid URL")."""
        return self.error(405, "method_not_allowed", f"Method {method} is not allowed for {path}.",
                          headers={"Allow": ", ".join(allowed)})

    # -- buckets -------------------------------------------------------------------------
    def buckets_for(self, key: Any, make: Callable[[], dict[str, TokenBucket]]) -> BucketSet:
        bs = self._buckets.get(key)
        if bs is None:
            bs = self._buckets[key] = BucketSet(make())
        return bs

    def per_minute_bucket(self, limit: float | None) -> TokenBucket | None:
        if limit is None:
            return None
        return TokenBucket(limit, self.ctx.time_scale.per_minute(limit), self.ctx.clock)

    def per_second_bucket(self, rate: float | None, burst: float | None) -> TokenBucket | None:
        if rate is None:
            return None
        return TokenBucket(burst or max(1.0, rate), self.ctx.time_scale.per_second(rate), self.ctx.clock)

    def reset_limits(self) -> None:
        """Forget every bucket: the next request finds them full, as after a restart."""
        self._buckets.clear()

    def count_rate_limited(self, dimension: str) -> None:
        m = self.ctx.metrics
        m.child(m.rate_limited, self.name, dimension).inc()

    # -- faults and latency ---------------------------------------------------------------
    def pick_fault(self) -> str | None:
        if not self._fault_table:
            return None
        x = self.ctx.rng.random()
        for kind, p in self._fault_table:
            if x < p:
                m = self.ctx.metrics
                m.child(m.faults, self.name, kind).inc()
                return kind
            x -= p
        return None

    async def sleep_wall(self, seconds: float) -> None:
        if seconds > 0:
            self._latency_hist.observe(seconds)
            # uvloop rounds a timer to whole milliseconds: what rounds to 0 fires on the next
            # loop turn anyway, so yield to the loop without building a timer
            await asyncio.sleep(seconds if seconds >= 0.0005 else 0)

    async def sleep_profile(self, profile_seconds: float) -> None:
        await self.sleep_wall(self.ctx.time_scale.seconds(profile_seconds))

    async def hang(self, request: web.Request) -> web.StreamResponse:
        """Hold the connection past any sane client timeout, then drop it."""
        await asyncio.sleep(self.ctx.time_scale.seconds(self.profile.faults.hang_seconds))
        return self.reset(request)

    def reset(self, request: web.Request) -> web.StreamResponse:
        """Close the connection with a TCP RST (SO_LINGER 0), as a crashed proxy does."""
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            transport.abort()
        raise ConnectionResetByMock()

    # -- the pipeline ---------------------------------------------------------------------
    async def serve(
        self,
        request: web.Request,
        work: Callable[[str | None], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Queue for capacity, inject a fault or call ``work(fault)``, and count it all."""
        self._in_flight.inc()
        admitted = False
        try:
            admitted = await self.gate.acquire()
            if not admitted:
                m = self.ctx.metrics
                m.child(m.faults, self.name, "overloaded").inc()
                return self.overloaded()
            fault = self.pick_fault()
            if fault == "hang":
                return await self.hang(request)
            if fault == "reset":
                return self.reset(request)
            return await work(fault)
        finally:
            if admitted:
                self.gate.release()
            self._in_flight.dec()

    def overloaded(self) -> web.Response:
        return self.error(self.overload_status, "overloaded", "The server is overloaded or not ready yet.")

    def route(
        self, method: str, path: str, endpoint: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        fast: bool = False,
    ) -> web.RouteDef:
        """A route whose answers are counted by status and bytes under ``endpoint``.

        ``fast``: the mock's front (mock_servers/front.py) may answer it without aiohttp's server:
        only for an exact path whose handler reads headers, query and a complete body and answers
        a complete ``web.Response`` (a body naming ``"stream"`` still goes through aiohttp)."""
        m = self.ctx.metrics
        requests, name = m.requests, self.name
        req_bytes, resp_bytes = self._req_bytes, self._resp_bytes

        async def counted(request: web.Request) -> web.StreamResponse:
            req_bytes.inc(request.content_length or 0)
            try:
                response = await handler(request)
            except ConnectionResetByMock:
                m.child(requests, name, endpoint, "reset").inc()
                raise
            m.child(requests, name, endpoint, str(response.status)).inc()
            if response.prepared:
                resp_bytes.inc(response.body_length)
            elif isinstance(response, web.Response) and response.body is not None:
                resp_bytes.inc(len(response.body))  # type: ignore[arg-type]
            return response

        counted.fast = fast and "{" not in path  # type: ignore[attr-defined]
        return web.route(method, path, counted)

    def json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(status=status, body=orjson.dumps(body), content_type=JSON, headers=headers)

    def malformed(self, status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
        """A 200 whose JSON is cut off half way, as a broken proxy sends."""
        raw = orjson.dumps(body)
        return web.Response(status=status, body=raw[: max(1, len(raw) // 2)], content_type=JSON, headers=headers)

    def count_tokens(self, kind: str, n: int) -> None:
        m = self.ctx.metrics
        m.child(m.tokens, self.name, kind).inc(n)


class ConnectionResetByMock(Exception):
    """Raised after the mock deliberately reset a connection; the app swallows it."""


# ids must be unique, not secret; their own generator keeps --seed's draws (latency, faults) the same
# however many ids were made
_IDS = random.Random()


def new_id(prefix: str = "") -> str:
    """``prefix`` and 24 random hex digits, as the providers' ids (``chatcmpl-…``, ``req_…``)."""
    return f"{prefix}{_IDS.getrandbits(96):024x}"


async def read_body(request: web.Request) -> bytes:
    return await request.read() if request.can_read_body else b""


def parse_json(raw: bytes) -> Any:
    """The body as JSON, or raise ValueError."""
    if not raw:
        raise ValueError("empty body")
    return orjson.loads(raw)
