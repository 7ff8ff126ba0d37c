"""One call to a target, with everything the runner promises around it.

Adaptive concurrency, the client-side limiter (exact waits), the ``--max-rps`` hard cap, the
request itself, outcome classification, limits learnt from headers, ``Retry-After``, retries
with backoff, usage and cost, metrics. Secrets are only ever placed in request headers or the
query, and any echo of them in an answer is masked before it reaches a reason or a result.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit
from urllib.parse import urlencode

import orjson

from mock_servers.profile import Profile
from mock_servers.rules import ProviderRules, Usage, rules_for
from mock_servers.timescale import REAL_TIME, TimeScale

from harness.runner.adaptive import AdaptiveConcurrency
from harness.runner.breaker import CircuitBreaker
from harness.runner.figures import FigureBook
from harness.errors import CallFailed, TransportError
from harness.runner.learning import learn_from_headers, retry_after_seconds
from harness.runner.limiter import Rate, RateLimiter
from harness.runner.masking import Masker, basic_parts
from harness.runner.metrics import RunnerMetrics
from harness.runner.retry import Outcome, RetryPolicy, classify_status
from harness.runner.stats import RunStats
from harness.runner.transports import HttpResponse, make_transport

_OVERLOADED = {503, 529}


@dataclass
class TargetRuntime:
    """A target as the runner uses it: where, how to authenticate, and its limiters."""

    name: str
    profile: Profile
    base_url: str
    auth_headers: dict[str, str] = field(default_factory=dict)
    auth_query: dict[str, str] = field(default_factory=dict)
    static_headers: dict[str, str] = field(default_factory=dict)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    configured: set[str] = field(default_factory=set)
    learn: bool = True
    op_limiters: dict[str, RateLimiter] = field(default_factory=dict)
    secret: str | None = None
    rules: ProviderRules = field(init=False)

    def __post_init__(self) -> None:
        self.rules = rules_for(self.profile)
    # a new operation's limiter (the distributed run's shares each operation through Redis)
    op_limiter_factory: Callable[[str], RateLimiter] | None = None

    def op_limiter(self, endpoint: str) -> RateLimiter | None:
        if not self.rules.per_operation:  # SP-API: requests_per_second is each operation's own bucket
            return None
        lim = self.op_limiters.get(endpoint)
        if lim is None:
            make = self.op_limiter_factory
            lim = self.op_limiters[endpoint] = make(endpoint) if make is not None else RateLimiter()
        return lim


class Caller:
    def __init__(self, targets: dict[str, TargetRuntime], *, policy: RetryPolicy, timeout: float,
                 concurrency: AdaptiveConcurrency | None, metrics: RunnerMetrics, stats: RunStats,
                 max_rps: float | None = None, time_scale: TimeScale = REAL_TIME, transport: str = "aiohttp",
                 rng: random.Random | None = None, breaker_threshold: int = 10,
                 breaker_give_up: float = 60.0, on_give_up: Callable[[str], None] | None = None) -> None:
        self.targets = targets
        self.policy = policy
        self.timeout = timeout
        self.concurrency = concurrency
        self.metrics = metrics
        self._hot_metrics: dict[tuple[str, str], tuple[Any, Any, Any, Any]] = {}  # per (target, endpoint)
        self.stats = stats
        self.time_scale = time_scale
        self.transport = make_transport(transport)
        self.rng = rng or random.Random()
        # --max-rps is a hard cap on real requests per second, whatever the time scale
        self.cap = RateLimiter({"requests": Rate(time_scale.per_second(max_rps), 1.0)}) if max_rps else None
        self.secrets = [t.secret for t in targets.values() if t.secret]
        # every encoded form of every key, built once (never per request)
        self.redact = Masker(self.secrets, [b for t in targets.values()
                                            for b in basic_parts({**t.static_headers, **t.auth_headers})])
        # one breaker per target: K connection failures in a row (any worker) pause its calls
        probe_timeout = max(min(timeout, 5.0), 0.5)
        self.breakers = {name: CircuitBreaker(name, _prober(t.base_url, probe_timeout), threshold=breaker_threshold,
                                              give_up_after=breaker_give_up, on_change=self._breaker_note,
                                              on_give_up=on_give_up)
                         for name, t in targets.items()}
        self.figures = FigureBook(time_scale.factor)  # per-request figures for `harness calibrate`
        gauge = metrics.in_flight_g
        if hasattr(gauge, "set_function"):
            gauge.set_function(lambda: self.stats.in_flight)

    async def close(self) -> None:
        for b in self.breakers.values():
            b.close()
        await self.transport.close()

    def _breaker_note(self, text: str | None) -> None:
        self.stats.notice = text

    def handle(self, ctx: dict[str, Any]) -> "CallHandle":
        return CallHandle(self, ctx)

    async def call(self, target: TargetRuntime, method: str, path: str, *, query: Mapping[str, Any] | None = None,
                   headers: Mapping[str, Any] | None = None, body: Any = None,
                   endpoint: str = "call") -> tuple[Any, int]:
        """Send until success or a permanent failure; returns (parsed response, attempts)."""
        url = target.base_url + path
        params = {**({k: str(v) for k, v in (query or {}).items()}), **target.auth_query}
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        data = orjson.dumps(body) if body is not None else None
        hdrs = {**target.static_headers, **{k: str(v) for k, v in (headers or {}).items()}, **target.auth_headers}
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        cost = target.rules.admission(target.profile, body)
        m = self.metrics
        hot = self._hot_metrics.get((target.name, endpoint))
        if hot is None:
            hot = self._hot_metrics[(target.name, endpoint)] = (
                m.child(m.request_bytes, target.name), m.child(m.response_bytes, target.name),
                m.child(m.duration, target.name, endpoint), m.child(m.requests, target.name, endpoint, "ok"))
        req_count, resp_count, duration, ok_count = hot
        op_limiter = target.op_limiter(endpoint)
        breaker = self.breakers[target.name]
        fig = self.figures.slot(target.name, endpoint, body.get("model") if isinstance(body, dict) else None,
                                target.profile.kind, target.profile.name)
        attempt = 0
        while True:
            attempt += 1
            if breaker.is_open or breaker.gave_up is not None:
                await breaker.wait()  # held while the target is unreachable, not failed
            if self.concurrency is not None:
                await self.concurrency.acquire()
            aimd = "neutral"
            try:
                # acquire() sleeps the exact reserved wait, and more if a Retry-After arrives meanwhile
                wait = await target.limiter.acquire(cost)
                if op_limiter is not None:
                    wait += await op_limiter.acquire(cost)
                if self.cap is not None:
                    wait += await self.cap.acquire({"requests": 1})
                if wait > 0:
                    m.child(m.limiter_wait, target.name).inc(wait)
                resp, error, elapsed = await self._send(method, url, hdrs, data)
                if resp is not None:
                    outcome = classify_status(resp.status)
                    aimd = "rate_limited" if resp.status == 429 else (
                        "overloaded" if resp.status in _OVERLOADED else ("ok" if outcome is Outcome.OK else "neutral"))
                else:
                    outcome = Outcome(error.outcome)  # type: ignore[union-attr]
            finally:
                if self.concurrency is not None:
                    self.concurrency.release(aimd)
            duration.observe(elapsed)
            if data is not None:
                req_count.inc(len(data))
            parsed: Any = None
            detail = ""
            retry_after: float | None = None
            if resp is not None:
                resp_count.inc(len(resp.body))
                self.stats.bytes(len(data or b""), len(resp.body))
                if fig.wants_headers():
                    fig.add_headers(resp.status, resp.headers)
                if target.learn:
                    self._learn(target, resp.headers, op_limiter)
                parsed, malformed = _parse(resp)
                if outcome is Outcome.OK and malformed:
                    outcome, detail = Outcome.SERVER_ERROR, "malformed response body (invalid JSON)"
                elif outcome is not Outcome.OK:
                    message = target.rules.error_message(parsed) or resp.body[:200].decode("utf-8", "replace")
                    detail = f"HTTP {resp.status}: {message}"
                if outcome is Outcome.RATE_LIMITED:
                    retry_after = retry_after_seconds(resp.headers, time.time())
                    if retry_after is None:
                        retry_after = target.rules.retry_hint(parsed)
                    if retry_after is not None:
                        target.limiter.block_until(retry_after)
            else:
                detail = error.args[0] if error is not None else "no answer"  # type: ignore[union-attr]
            if outcome is Outcome.CONNECTION_ERROR:
                breaker.failure()
                if breaker.is_open:  # the target is down, not this item: the attempt is not counted
                    self.stats.request(outcome.value, elapsed)
                    m.child(m.requests, target.name, endpoint, outcome.value).inc()
                    attempt -= 1
                    continue
            elif resp is not None:
                breaker.failures = 0
            (ok_count if outcome is Outcome.OK else m.child(m.requests, target.name, endpoint, outcome.value)).inc()
            self.stats.request(outcome.value, elapsed)  # after a malformed 200 became server_error
            if outcome is Outcome.OK:
                usage = self._account(target, body, parsed, cost)
                fig.add(elapsed, str(resp.status), len(data or b""), len(resp.body),  # type: ignore[union-attr]
                        usage.input_tokens, usage.output_tokens)
                return parsed, attempt
            fig.add(elapsed, outcome.value if resp is None else ("malformed" if resp.status < 300 else str(resp.status)),
                    len(data or b""),
                    0 if resp is None else len(resp.body), ok=False)
            if not self.policy.should_retry(outcome, attempt):
                kind = outcome.value
                raise CallFailed(self.redact(f"{kind} after {attempt} attempt{'s' if attempt > 1 else ''}: {detail}"),
                                 attempt)
            m.child(m.retries, outcome.value).inc()
            self.stats.retry(outcome.value)
            await asyncio.sleep(self.policy.delay(attempt, retry_after, self.rng))

    async def _send(self, method: str, url: str, headers: dict[str, str],
                    data: bytes | None) -> tuple[HttpResponse | None, TransportError | None, float]:
        # harness_in_flight_requests reads stats.in_flight when scraped (see __init__): no
        # locked gauge updates on the hot path
        self.stats.in_flight += 1
        t0 = time.perf_counter()
        try:
            return await self.transport.request(method, url, headers=headers, body=data, timeout=self.timeout), \
                None, time.perf_counter() - t0
        except TransportError as exc:
            return None, exc, time.perf_counter() - t0
        finally:
            self.stats.in_flight -= 1

    def _learn(self, target: TargetRuntime, headers: Mapping[str, str], op_limiter: RateLimiter | None) -> None:
        learnt = learn_from_headers(headers, time_scale=self.time_scale)
        for dim, rate in learnt.items():
            if dim in target.configured:
                continue
            limiter = op_limiter if (op_limiter is not None and dim == "requests_per_second") else target.limiter
            current = limiter.rates.get(dim)
            if current is None or abs(current.per_second - rate.per_second) > 1e-9 * rate.per_second:
                limiter.set_rate(dim, rate)

    def _account(self, target: TargetRuntime, body: Any, parsed: Any, cost: dict[str, float]) -> Usage:
        usage = target.rules.usage(parsed)
        if usage.output_tokens and "output_tokens_per_minute" in cost:
            unused = cost["output_tokens_per_minute"] - usage.output_tokens
            if unused > 0:
                target.limiter.refund("output_tokens_per_minute", unused)
        model = body.get("model") if isinstance(body, dict) else None
        dollars = target.rules.price(target.profile, model, usage)
        m = self.metrics
        if usage.input_tokens:
            m.child(m.tokens, "input").inc(usage.input_tokens)
        if usage.output_tokens:
            m.child(m.tokens, "output").inc(usage.output_tokens)
        if dollars:
            m.cost_c.inc(dollars)
        self.stats.usage(usage.input_tokens, usage.output_tokens, dollars)
        return usage


class CallHandle:
    """What a scenario's Python function gets: ``await call("openai", "POST", "/v1/...", json=...)``.
    Every call goes through the runner's limits, retries and metrics."""

    def __init__(self, caller: Caller, ctx: dict[str, Any]) -> None:
        self._caller = caller
        self.ctx = ctx
        self.attempts = 0
        self.calls = 0

    async def __call__(self, target: str, method: str = "POST", path: str = "/", *, json: Any = None,
                       query: Mapping[str, Any] | None = None, headers: Mapping[str, Any] | None = None,
                       endpoint: str | None = None) -> Any:
        runtime = self._caller.targets.get(target)
        if runtime is None:
            raise KeyError(f"no target {target!r}; the scenario has {', '.join(self._caller.targets)}")
        self.calls += 1
        try:
            result, n = await self._caller.call(runtime, method, path, query=query, headers=headers, body=json,
                                                endpoint=endpoint or target)
        except CallFailed as exc:
            self.attempts += exc.attempts
            raise
        self.attempts += n
        return result


def _prober(base_url: str, timeout: float):
    """A probe for the breaker: does the target's host accept a TCP connection now?"""
    parts = urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)

    async def probe() -> bool:
        try:
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, asyncio.TimeoutError):
            return False
        writer.close()
        return True

    return probe


def _parse(resp: HttpResponse) -> tuple[Any, bool]:
    """The body as JSON when it claims to be JSON (or looks like it); (value, malformed)."""
    ctype = resp.headers.get("Content-Type", "")
    body = resp.body
    if "json" in ctype or (body[:1] in (b"{", b"[") and "text/event-stream" not in ctype):
        try:
            return orjson.loads(body), False
        except orjson.JSONDecodeError:
            return None, True
    return {"bytes": len(body), "content_type": ctype}, False
