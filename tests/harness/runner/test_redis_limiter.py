"""The shared GCRA limiter in a real redis-server: exact schedule across several clients,
several dimensions reserved together, refunds, shared Retry-After pauses and learnt rates,
fail closed when Redis is gone, and the degraded mode only when asked."""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.runner.limiter import Rate
from harness.runner.redis_limiter import RedisLimiter, admission_args, safe_url


def _limiters(url: str, n: int, rates: dict[str, Rate], ns: str = "t") -> list[RedisLimiter]:
    return [RedisLimiter(url, ns, rates) for _ in range(n)]


async def _starts(lims: list[RedisLimiter], cost: dict[str, float], per: int) -> list[float]:
    """Reservations from every client, interleaved; each one's start in Redis time."""
    starts = []
    for _ in range(per):
        for lim in lims:
            lim._ensure()
            now, _shift, _blocked, wait = (float(x) for x in await lim._call("acquire", "1",
                                                                              *admission_args(cost, lim.rates)))
            starts.append(now + wait)
    for lim in lims:
        await lim.close()
    return starts


async def test_four_clients_share_one_schedule(redis_server):
    # slow enough that every reservation lies ahead of the clock, however slow the machine
    lims = _limiters(redis_server.url, 4, {"rps": Rate(2.0, 1.0)})
    starts = sorted(await _starts(lims, {"rps": 1}, 25))
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(starts) == 100
    assert min(gaps) == pytest.approx(0.5, abs=2e-6) and max(gaps) == pytest.approx(0.5, abs=2e-6)


async def test_dimensions_are_reserved_together(redis_server):
    # 1 req/s and 10 tokens/s: 50-token requests are bound by tokens (one per 5 s), not requests
    rates = {"rpm": Rate(1.0, 1.0), "tpm": Rate(10.0, 50.0)}
    lims = _limiters(redis_server.url, 2, rates)
    starts = sorted(await _starts(lims, {"rpm": 1, "tpm": 50}, 5))
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert all(g == pytest.approx(5.0, abs=2e-6) for g in gaps), gaps


async def test_exact_wait_is_slept_once(redis_server):
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    a = RedisLimiter(redis_server.url, "w", {"rps": Rate(1.0, 1.0)}, sleep=sleep)
    waits, starts = [], []
    began = time.monotonic()
    for _ in range(4):
        waits.append(await a.acquire({"rps": 1}))
        starts.append(a._floor)  # Redis time of the start it was given
    span = time.monotonic() - began
    await a.close()
    # the first goes at once (1 unit in the bucket), the k-th k s after it; the fake sleep does
    # not wait, so the k-th asks up to `span` (the loop's real duration) after the first and
    # its wait is k s less the time that passed on Redis's clock meanwhile
    assert waits[0] == 0.0
    for k, w in enumerate(waits[1:], 1):
        assert k - span - 1e-5 <= w <= k + 1e-5, (k, w, span)
    assert [b - x for x, b in zip(starts, starts[1:])] == pytest.approx([1.0] * 3, abs=1e-5)
    assert slept == waits[1:]  # the exact wait, slept once: no polling


async def test_concurrent_admissions_share_script_calls_in_fifo_order(redis_server):
    """64 requests asking at once: a handful of script calls, not 64, and the schedule is
    the one sequential admissions would get, in the order they asked."""
    async def no_sleep(s: float) -> None:
        pass

    lim = RedisLimiter(redis_server.url, "batch", {"rps": Rate(10.0, 1.0)}, sleep=no_sleep)
    calls_before = lim._calls
    waits = await asyncio.gather(*(lim.acquire({"rps": 1}) for _ in range(64)))
    calls = lim._calls - calls_before
    await lim.close()
    # one unit at once, then one every 0.1 s, in the order asked; within one script call the
    # gaps are exact, between two calls Redis's clock moved by the round trip
    assert waits[0] == 0.0
    gaps = [b - a for a, b in zip(waits, waits[1:])]
    assert all(g == pytest.approx(0.1, abs=0.01) for g in gaps), gaps
    assert sum(1 for g in gaps if g == pytest.approx(0.1, abs=1e-6)) >= 56, gaps  # epoch-second floats: ~1e-7
    assert calls <= 8, calls  # the first call goes alone; the other 63 wait for it and go together


async def test_refund_gives_back_what_was_not_used(redis_server):
    a, b = _limiters(redis_server.url, 2, {"otpm": Rate(10.0, 100.0)})
    first = await _starts([a], {"otpm": 100}, 1)
    a2 = RedisLimiter(redis_server.url, "t", {"otpm": Rate(10.0, 100.0)})
    a2._ensure()
    a2.refund("otpm", 80)  # used 20 of the 100 reserved
    await a2.flush()
    second = await _starts([b], {"otpm": 100}, 1)
    await a2.close()
    # without the refund the next 100 would start 10 s after the first; with it 2 s after
    assert second[0] - first[0] == pytest.approx(2.0, abs=1e-4)


async def test_retry_after_pauses_every_client(redis_server):
    a, b = _limiters(redis_server.url, 2, {"rps": Rate(1000.0, 1.0)})
    a._ensure()
    a.block_until(0.5)
    await a.flush()
    state = await b.state()
    starts = await _starts([b], {"rps": 1}, 1)
    await a.close()
    assert state["blocked_until"] - state["now"] == pytest.approx(0.5, abs=0.05)
    assert starts[0] >= state["blocked_until"]


async def test_a_learnt_rate_is_used_by_all(redis_server):
    a = RedisLimiter(redis_server.url, "l")
    b = RedisLimiter(redis_server.url, "l")  # knows no rate itself
    a._ensure()
    a.set_rate("rpm", Rate(2.0, 1.0))
    await a.flush()
    assert (await b.shared_rates()) == {"rpm": Rate(2.0, 1.0)}
    starts = sorted(await _starts([b, b], {"rpm": 1}, 3))
    await a.close()
    gaps = [y - x for x, y in zip(starts, starts[1:])]
    assert all(g == pytest.approx(0.5, abs=2e-6) for g in gaps), gaps


async def test_fails_closed_while_redis_is_down(redis_server):
    outages: list[str | None] = []
    lim = RedisLimiter(redis_server.url, "f", {"rps": Rate(100.0, 1.0)}, on_outage=outages.append, max_backoff=0.1)
    await lim.acquire({"rps": 1})
    redis_server.stop()
    pending = asyncio.create_task(lim.acquire({"rps": 1}))
    await asyncio.sleep(0.6)
    assert not pending.done(), "admitted a request while Redis was down"
    assert lim.outage is not None and "unreachable" in lim.outage
    await asyncio.to_thread(redis_server.start)
    await asyncio.wait_for(pending, 10)
    await lim.close()
    assert lim.outage is None and outages[-1] is None and lim.outages == 1


async def test_degraded_mode_runs_on_a_share_only_when_asked(redis_server):
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    lim = RedisLimiter(redis_server.url, "d", {"rps": Rate(4.0, 1.0)}, degraded_share=4, sleep=sleep)
    await lim.acquire({"rps": 1})
    redis_server.stop()
    waits = [await lim.acquire({"rps": 1}) for _ in range(3)]
    await lim.close()
    assert lim.degraded_admissions == 3 and "degraded" in (lim.outage or "")
    # 4/s shared by 4 processes: 1/s here, one every second
    assert waits[1:] == pytest.approx([1.0, 2.0], abs=0.05)


def test_password_never_shown():
    assert safe_url("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert "s3cret" not in repr(RedisLimiter("redis://u:s3cret@h:1/0", "x"))


async def test_state_lost_in_redis_never_restarts_the_schedule_early(redis_server):
    import redis.asyncio as aioredis

    async def sleep(s: float) -> None:
        pass

    lim = RedisLimiter(redis_server.url, "lost", {"rps": Rate(10.0, 1.0)}, sleep=sleep)
    for _ in range(5):
        await lim.acquire({"rps": 1})
    granted = lim._floor  # 0.4 s ahead of now: reservations already handed out
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()  # Redis lost everything (restarted without persistence)
    await client.aclose()
    await lim.acquire({"rps": 1})
    await lim.close()
    assert lim._floor >= granted
