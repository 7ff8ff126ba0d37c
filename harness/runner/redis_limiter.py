"""One rate limit shared by every worker process of a run, kept in Redis.

The same GCRA as :mod:`harness.runner.limiter` (virtual scheduling per dimension, the exact
wait returned, no full bucket at start, FIFO, costs above the burst as debt, refunds), run
inside Redis as one Lua script so that a request's dimensions (requests/s, RPM, TPM, ITPM,
OTPM, ...) are reserved together atomically for all processes, with Redis ``TIME`` as the one
clock (the workers' clocks never enter the schedule). Written by hand because the Redis rate
limiters on PyPI (``limits``' moving windows, redis-cell's single-key GCRA) reserve one key at a
time, poll instead of returning the wait, and cannot refund.

Shared through the target's keys: the rates (configured ones, and those learnt from headers by
any worker), the schedule, and Retry-After pauses (``block_until`` moves everyone's pending
schedule later). Adaptive concurrency stays per process.

Redis unreachable: **fail closed**: ``acquire`` admits nothing, retries with backoff and says so
(:attr:`RedisLimiter.outage`); ``degraded_share=N`` (asked for explicitly) instead lets each of
N processes run on a local limiter of limit/N until Redis answers again.

All keys of one limiter share a ``{hash tag}``, so the script runs on a Redis Cluster too.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from typing import Any, Awaitable, Callable, Mapping

from harness.runner.limiter import Rate, RateLimiter

__all__ = ["RedisLimiter", "LIMITER_SCRIPT", "admission_args", "safe_url"]

Sleep = Callable[[float], Awaitable[object]]

# KEYS: 1 state hash (dim -> "tat last"), 2 rates hash (dim -> "per_second burst"),
#       3 meta hash (blocked_until, shift)
# ARGV: 1 op, 2 ttl seconds, 3 initial fill, 4 floor (the latest start this client was given), then op-specific
# Every op answers {now, shift, blocked_until, wait} as strings (Redis truncates Lua numbers);
# 'acquire' takes k admissions and answers {now, shift, blocked_until, wait_1 .. wait_k}.
LIMITER_SCRIPT = r"""
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local op = ARGV[1]
local ttl = tonumber(ARGV[2])
local fill = tonumber(ARGV[3])
local floor = tonumber(ARGV[4])
local function f(x) return string.format('%.17g', x) end
local function rate_of(dim, ps, burst)
  local r = redis.call('HGET', KEYS[2], dim)
  if r then
    local a, b = string.match(r, '(%S+) (%S+)')
    return tonumber(a), tonumber(b)
  end
  if ps and ps > 0 then
    redis.call('HSET', KEYS[2], dim, f(ps) .. ' ' .. f(burst))
    return ps, burst
  end
  return nil, nil
end
local function state_of(dim, ps, burst)
  local s = redis.call('HGET', KEYS[1], dim)
  if s then
    local a, b = string.match(s, '(%S+) (%S+)')
    return tonumber(a), tonumber(b)
  end
  -- no state (first use, or Redis lost it): only `fill` units now, and never before the
  -- latest start this client was given (reservations handed out before the loss still stand)
  local fl = math.min(math.max(fill, 0), burst)
  return math.max(now + (burst - fl) / ps, floor), -1e300
end
local function put(dim, tat, last)
  redis.call('HSET', KEYS[1], dim, f(tat) .. ' ' .. f(last))
end
local blocked = tonumber(redis.call('HGET', KEYS[3], 'blocked_until') or '-1e300')
local shift = tonumber(redis.call('HGET', KEYS[3], 'shift') or '0')
local wait = 0
local waits = {}
if op == 'acquire' then
  -- ARGV[5]: k admissions, served in order (FIFO); each is ndims then ndims x (dim, cost,
  -- per_second, burst: the caller's own rate, used if none is shared)
  local i = 6
  for _ = 1, tonumber(ARGV[5]) do
    local start = math.max(now, blocked)
    local dims = {}
    local n = tonumber(ARGV[i])
    for j = i + 1, i + 4 * n, 4 do
      local dim, cost = ARGV[j], tonumber(ARGV[j + 1])
      local ps, burst = rate_of(dim, tonumber(ARGV[j + 2]), tonumber(ARGV[j + 3]))
      if ps and cost > 0 then
        local tat, last = state_of(dim, ps, burst)
        local earliest = math.max(last, tat - (burst - math.min(cost, burst)) / ps)
        start = math.max(start, earliest)
        dims[#dims + 1] = {dim, cost, ps, tat}
      end
    end
    for _, d in ipairs(dims) do
      put(d[1], math.max(d[4], start) + d[2] / d[3], start)
    end
    waits[#waits + 1] = f(start - now)
    i = i + 1 + 4 * n
  end
elseif op == 'refund' or op == 'charge' then
  local dim, units = ARGV[5], tonumber(ARGV[6])
  local ps, burst = rate_of(dim, nil, nil)
  if ps then
    local tat, last = state_of(dim, ps, burst)
    if op == 'refund' then
      tat = math.max(tat - units / ps, math.min(tat, now))
    else
      tat = math.max(tat, now) + units / ps
    end
    put(dim, tat, last)
  end
elseif op == 'block' then
  local until_ = now + math.max(0, tonumber(ARGV[5]))
  local delay = until_ - math.max(now, blocked)
  if delay > 0 then
    blocked = until_
    shift = shift + delay
    redis.call('HSET', KEYS[3], 'blocked_until', f(blocked), 'shift', f(shift))
    local rates = redis.call('HGETALL', KEYS[2])
    for i = 1, #rates, 2 do
      local dim = rates[i]
      local ps, burst = rate_of(dim, nil, nil)
      local tat, last = state_of(dim, ps, burst)
      local fl = math.min(math.max(fill, 0), burst)
      tat = math.max(math.max(tat, now) + delay, until_ + (burst - fl) / ps)
      if last >= now then last = last + delay end
      put(dim, tat, last)
    end
  end
elseif op == 'set_rate' then
  -- ARGV[5..8]: dim, per_second, burst, only_if_absent (0/1); per_second 0 removes
  local dim, ps, burst = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
  local old_ps, old_burst = rate_of(dim, nil, nil)
  if ps <= 0 then
    redis.call('HDEL', KEYS[2], dim)
    redis.call('HDEL', KEYS[1], dim)
  elseif not old_ps then
    redis.call('HSET', KEYS[2], dim, f(ps) .. ' ' .. f(burst))
  elseif ARGV[8] ~= '1' and (math.abs(old_ps - ps) > 1e-9 * ps or old_burst ~= burst) then
    local s = redis.call('HGET', KEYS[1], dim)
    redis.call('HSET', KEYS[2], dim, f(ps) .. ' ' .. f(burst))
    if s then
      local tat, last = state_of(dim, old_ps, old_burst)
      local units = math.min(old_burst - math.max(0, tat - now) * old_ps, burst)
      put(dim, now + (burst - units) / ps, last)
    end
  end
elseif op == 'rates' then
  return redis.call('HGETALL', KEYS[2])
end
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
end
if op == 'acquire' then
  local out = {f(now), f(shift), f(blocked)}
  for _, w in ipairs(waits) do out[#out + 1] = w end
  return out
end
return {f(now), f(shift), f(blocked), f(wait)}
"""


MAX_BATCH = 128  # admissions per script call: ~50 us of Lua each keeps one call well under 10 ms


def admission_args(cost: Mapping[str, float], rates: Mapping[str, Rate]) -> list[str]:
    """One admission's script arguments: the count of dimensions, then (dim, cost, the caller's
    own per_second and burst, used where no rate is shared yet) for each."""
    out: list[str] = []
    for dim, units in cost.items():
        if units < 0 or math.isnan(units):
            raise ValueError(f"cost for {dim!r} must be >= 0, got {units!r}")
        if units == 0:
            continue
        rate = rates.get(dim)  # none here: a rate another process learnt may apply
        out += [dim, repr(float(units)), repr(rate.per_second) if rate else "0", repr(rate.burst) if rate else "0"]
    return [str(len(out) // 4), *out]


def _connection_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions as rex

    return (rex.ConnectionError, rex.TimeoutError, rex.BusyLoadingError, OSError)


class RedisLimiter:
    """GCRA over named dimensions, shared through Redis; the interface of
    :class:`~harness.runner.limiter.RateLimiter` (``acquire``, ``reserve``-free), so the caller
    uses either.

    ``url`` is the Redis URL (``redis://host:6379/0``); ``namespace`` names the shared limit
    (every process giving the same namespace shares it: the run id and target, by default).
    ``rates`` are the configured ones (wall-clock units, as the local limiter takes them).
    The mutators (``refund``, ``charge``, ``block_until``, ``set_rate``) are synchronous, as in
    the local limiter: they update the local view at once and send the change to Redis in the
    background (in order, retried until Redis takes it).
    """

    def __init__(self, url: str, namespace: str, rates: Mapping[str, Rate] | None = None, *,
                 initial_fill: float = 1.0, ttl_seconds: int = 86_400, degraded_share: int | None = None,
                 sleep: Sleep = asyncio.sleep, max_backoff: float = 2.0,
                 on_outage: Callable[[str | None], None] | None = None) -> None:
        if degraded_share is not None and degraded_share < 1:
            raise ValueError(f"degraded_share must be >= 1 processes, got {degraded_share!r}")
        self.url = url
        self.namespace = namespace
        tag = "{" + namespace + "}"
        self.keys = [f"harness:limit:{tag}:state", f"harness:limit:{tag}:rates", f"harness:limit:{tag}:meta"]
        self._rates: dict[str, Rate] = dict(rates or {})
        self._configured = set(self._rates)
        self._fill = float(initial_fill)
        self._ttl = int(ttl_seconds)
        self._sleep = sleep
        self._max_backoff = max_backoff
        self.degraded_share = degraded_share
        self._degraded: RateLimiter | None = None
        self._on_outage = on_outage
        self.outage: str | None = None  # why Redis is unusable now (None: it answers)
        self.outages = 0
        self.degraded_admissions = 0
        self._client: Any = None
        self._script: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ops: asyncio.Queue | None = None
        self._pump: asyncio.Task | None = None
        self._pending: list[tuple[list[str], asyncio.Future]] = []  # admissions for the next script call
        self._admitter: asyncio.Task | None = None
        self._local_block = -math.inf  # monotonic: our own Retry-After, before Redis has it
        self._calls = 0
        self._floor = 0.0  # Redis time of the latest start we were given (see the script's state_of)
        self._errors = _connection_errors()

    # -- connection --------------------------------------------------------------------------
    def _ensure(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._client is not None:
            return
        import redis.asyncio as aioredis

        self._loop = loop
        self._client = aioredis.Redis.from_url(self.url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._script = self._client.register_script(LIMITER_SCRIPT)
        self._ops = asyncio.Queue()
        self._pump = loop.create_task(self._pump_ops())
        self._pending = []
        self._admitter = None

    async def _call(self, *args: Any) -> list:
        """Run the script until Redis answers: fail closed, with backoff, saying why."""
        backoff = 0.05
        while True:
            try:
                answer = await self._script(keys=self.keys, args=self._args(args))
            except self._errors as exc:
                self._set_outage(f"Redis at {safe_url(self.url)} unreachable ({type(exc).__name__}); "
                                 "admitting nothing until it answers")
                await self._sleep(backoff * (0.5 + random.random()))
                backoff = min(self._max_backoff, backoff * 2)
                continue
            if self.outage is not None:
                self._set_outage(None)
            return answer

    def _args(self, args: tuple | list) -> list:
        # the keys' TTL is renewed on every 256th call only: three EXPIREs are most of the
        # script's cost, and a day's TTL does not need refreshing more often
        self._calls += 1
        ttl = self._ttl if self._calls % 256 == 1 else 0
        return [args[0], ttl, self._fill, repr(self._floor), *args[1:]]

    def _set_outage(self, why: str | None) -> None:
        if why is not None and self.outage is None:
            self.outages += 1
        self.outage = why
        if self._on_outage is not None:
            self._on_outage(why)

    async def close(self) -> None:
        """Send what is pending, then close the connection."""
        if self._ops is not None and self._pump is not None and not self._pump.done():
            try:  # refunds still on their way; a Redis that stays away gets 5 s, not forever
                await asyncio.wait_for(self._ops.join(), 5.0)
            except asyncio.TimeoutError:
                pass
            self._pump.cancel()
        if self._client is not None:
            await self._client.aclose()
        self._client = None

    # -- admission ---------------------------------------------------------------------------
    @property
    def rates(self) -> dict[str, Rate]:
        return dict(self._rates)

    async def acquire(self, cost: Mapping[str, float]) -> float:
        """Reserve ``cost`` for the earliest time every dimension allows it across all
        processes, sleep until then (and longer if a Retry-After pause arrives meanwhile);
        returns the seconds waited.

        Admissions asked for while one script call is on its way go together in the next one
        (in the order asked, so FIFO holds): with many requests in flight a process pays one
        round trip for a batch, not one per request."""
        self._ensure()
        request = admission_args(cost, self._rates)
        if self.degraded_share is not None and self.outage is not None:
            return await self._acquire_degraded(cost)
        answer = await self._admit(request)
        if answer is None:
            return await self._acquire_degraded(cost)
        now, shift, wait = answer
        self._floor = max(self._floor, now + wait)
        waited = 0.0
        if wait > 0:
            await self._sleep(wait)
            waited = wait
            # a Retry-After somewhere in the cluster since our reservation: wait what it added
            while True:
                later = await self._shift()
                if later is None or later <= shift:
                    break
                waited += later - shift
                await self._sleep(later - shift)
                shift = later
        local = self._local_block - time.monotonic()
        if local > 0:
            waited += local
            await self._sleep(local)
        return waited

    async def _admit(self, request: list[str]) -> tuple[float, float, float] | None:
        """(Redis now, shift, wait) for one admission, sent with whatever else is pending;
        None when Redis is away and the degraded mode takes over."""
        assert self._loop is not None
        future: asyncio.Future = self._loop.create_future()
        self._pending.append((request, future))
        if self._admitter is None or self._admitter.done():
            self._admitter = self._loop.create_task(self._admit_pending())
        return await future

    async def _admit_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            args: list[Any] = ["acquire", str(len(batch))]
            for request, _ in batch:
                args += request
            try:
                answer = await self._call_or_degrade(args)
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                raise
            if answer is None:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
                continue
            now, shift = float(answer[0]), float(answer[1])
            for (_, future), wait in zip(batch, answer[3:]):
                if not future.done():
                    future.set_result((now, shift, float(wait)))

    async def _call_or_degrade(self, args: list) -> list | None:
        if self.degraded_share is None:
            return await self._call(*args)
        try:
            answer = await self._script(keys=self.keys, args=self._args(args))
        except self._errors as exc:
            self._set_outage(f"Redis at {safe_url(self.url)} unreachable ({type(exc).__name__}); degraded "
                             f"mode: this process runs on 1/{self.degraded_share} of each limit")
            return None
        if self.outage is not None:
            self._set_outage(None)
            self._degraded = None
        return answer

    async def _acquire_degraded(self, cost: Mapping[str, float]) -> float:
        if self._degraded is None:
            n = self.degraded_share or 1
            self._degraded = RateLimiter({d: Rate(r.per_second / n, max(1.0, r.burst / n))
                                          for d, r in self._rates.items()}, sleep=self._sleep)
        self.degraded_admissions += 1
        waited = await self._degraded.acquire(cost)
        # try Redis again on the next admission (it may be back)
        try:
            await self._client.ping()
            self._set_outage(None)
            self._degraded = None
        except self._errors:
            pass
        return waited

    async def _shift(self) -> float | None:
        try:
            value = await self._client.hget(self.keys[2], "shift")
        except self._errors:
            return None
        return float(value) if value is not None else 0.0

    async def shared_rates(self) -> dict[str, Rate]:
        """The rates every process now uses (configured, and learnt by any of them)."""
        self._ensure()
        flat = await self._call("rates")
        out: dict[str, Rate] = {}
        for i in range(0, len(flat), 2):
            ps, burst = flat[i + 1].split()
            out[flat[i].decode() if isinstance(flat[i], bytes) else flat[i]] = Rate(float(ps), float(burst))
        return out

    async def state(self) -> dict[str, float]:
        """Redis's clock, the total shift added by pauses and the pause end (epoch seconds)."""
        self._ensure()
        now, shift, blocked, _ = (float(x) for x in await self._call("noop"))
        return {"now": now, "shift": shift, "blocked_until": blocked}

    # -- changes sent in the background ------------------------------------------------------
    def _send(self, *args: Any) -> None:
        try:
            self._ensure()
        except RuntimeError:  # no running loop: a change made outside a run; nothing to pace yet
            return
        assert self._ops is not None
        self._ops.put_nowait(args)

    async def _pump_ops(self) -> None:
        assert self._ops is not None
        while True:
            args = await self._ops.get()
            try:
                await self._call(*args)
            finally:
                self._ops.task_done()

    async def flush(self) -> None:
        """Wait until every change made so far is in Redis."""
        if self._ops is not None:
            await self._ops.join()

    def refund(self, dim: str, units: float) -> None:
        """Give back ``units`` of ``dim`` reserved but not used (over-estimated tokens)."""
        if units < 0:
            raise ValueError(f"refund must be >= 0, got {units!r} (use charge() for more)")
        if dim in self._rates and units > 0:
            self._send("refund", dim, repr(float(units)))

    def charge(self, dim: str, units: float) -> None:
        """Take ``units`` more of ``dim`` without waiting (used more than reserved)."""
        if units < 0:
            raise ValueError(f"charge must be >= 0, got {units!r} (use refund() to give back)")
        if dim in self._rates and units > 0:
            self._send("charge", dim, repr(float(units)))

    def block_until(self, seconds_from_now: float) -> None:
        """Honour a Retry-After in every process of the run: nothing starts before then, and
        every pending reservation moves later by what the pause adds."""
        seconds = max(0.0, seconds_from_now)
        self._local_block = max(self._local_block, time.monotonic() + seconds)
        self._send("block", repr(seconds))

    def set_rate(self, dim: str, rate: Rate | None) -> None:
        """Add, replace or (``None``) remove a dimension for every process; a learnt rate
        written here is the one all of them use."""
        if rate is None:
            self._rates.pop(dim, None)
            self._send("set_rate", dim, "0", "0", "0")
            return
        self._rates[dim] = rate
        self._send("set_rate", dim, repr(rate.per_second), repr(rate.burst), "0")

    def __repr__(self) -> str:
        dims = ", ".join(f"{d}={r.per_second:g}/s burst={r.burst:g}" for d, r in self._rates.items())
        state = f"outage={self.outage!r}" if self.outage else "connected" if self._client else "idle"
        return f"RedisLimiter({self.namespace!r}, {dims}{', ' if dims else ''}{state})"


def safe_url(url: str) -> str:
    """The Redis URL without a password."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        user = f"{parts.username}:***@" if parts.username else ":***@"
        parts = parts._replace(netloc=user + host)
    return urlunsplit(parts)
