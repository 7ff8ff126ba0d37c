"""RateLimiter with a fake clock: exact waits, FIFO, several dimensions, debt, blocks."""

from __future__ import annotations

import asyncio
import random

import pytest

from harness.runner.limiter import Rate, RateLimiter

from tests.fakes import FakeClock
from mock_servers.timescale import TimeScale




@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(100.0)


def test_rate_per_minute_uses_time_scale() -> None:
    assert Rate.per_minute(600) == Rate(10.0, 1.0)
    assert Rate.per_minute(600, burst=5, time_scale=TimeScale(0.01)) == Rate(1000.0, 5.0)
    with pytest.raises(ValueError):
        Rate(0.0)
    with pytest.raises(ValueError):
        Rate(1.0, burst=0)


def test_exact_waits_at_the_sustained_rate(clock: FakeClock) -> None:
    lim = RateLimiter({"rps": Rate(10.0)}, clock=clock)
    assert lim.reserve({"rps": 1}) == 0.0
    assert lim.reserve({"rps": 1}) == pytest.approx(0.1)
    assert lim.reserve({"rps": 1}) == pytest.approx(0.2)
    clock.advance(0.15)
    assert lim.reserve({"rps": 1}) == pytest.approx(0.15)  # slot at 0.3 after the start


def test_no_full_bucket_at_start(clock: FakeClock) -> None:
    lim = RateLimiter({"rps": Rate(10.0, burst=100)}, clock=clock)
    assert lim.available("rps") == pytest.approx(1.0)
    assert lim.reserve({"rps": 1}) == 0.0
    assert lim.reserve({"rps": 1}) == pytest.approx(0.1)


def test_initial_fill_per_dimension(clock: FakeClock) -> None:
    lim = RateLimiter({"a": Rate(10.0, burst=100), "b": Rate(10.0, burst=100)}, clock=clock,
                      initial_fill={"a": 5})
    assert [lim.reserve({"a": 1}) for _ in range(6)] == pytest.approx([0, 0, 0, 0, 0, 0.1])
    assert lim.available("b") == pytest.approx(1.0)  # not named: 1 unit
    assert RateLimiter({"c": Rate(10.0, burst=5)}, clock=clock, initial_fill=0).reserve({"c": 1}) == (
        pytest.approx(0.1))


def test_burst_after_idleness(clock: FakeClock) -> None:
    lim = RateLimiter({"rps": Rate(10.0, burst=5)}, clock=clock)
    clock.advance(60)
    assert lim.available("rps") == pytest.approx(5.0)  # never more than the burst
    assert [lim.reserve({"rps": 1}) for _ in range(5)] == [0.0] * 5
    assert lim.reserve({"rps": 1}) == pytest.approx(0.1)


def test_fifo_for_one_dimension_with_mixed_costs(clock: FakeClock) -> None:
    lim = RateLimiter({"tokens": Rate(100.0, burst=50)}, clock=clock)
    waits = [lim.reserve({"tokens": c}) for c in (40, 5, 30, 1, 50, 2)]
    # 1 unit at start, 100/s: the 40 waits for 40 units (0.39 s); the 5 could go at once on a
    # bucket of its own but queues behind it (tat 0.89 - 0.45 = 0.44), the 30 when 30 are back
    # (1.24 - 0.20), the 1 behind it (1.25 - 0.49), the 50 on a full bucket (1.25), the 2 at 1.27
    assert waits == pytest.approx([0.39, 0.44, 0.74, 0.75, 1.25, 1.27], abs=1e-9)


def test_fifo_holds_when_another_dimension_delays_a_reservation(clock: FakeClock) -> None:
    lim = RateLimiter({"a": Rate(1.0, burst=10), "b": Rate(1.0)}, clock=clock, initial_fill={"a": 10})
    assert lim.reserve({"b": 1}) == 0.0
    first = lim.reserve({"a": 1, "b": 1})  # b makes it wait 1 s although a has room
    assert first == pytest.approx(1.0)
    later = lim.reserve({"a": 1})  # a alone has room now (9 units), but must not go before `first`
    assert later == pytest.approx(1.0, abs=1e-9)  # the FIFO floor: `first`'s start, not 0
    assert lim.reserve({"a": 1}) == pytest.approx(1.0, abs=1e-9)  # and a's 8 units left go with it


def test_binding_dimension_decides(clock: FakeClock) -> None:
    lim = RateLimiter({"rpm": Rate.per_minute(60), "tpm": Rate.per_minute(600)}, clock=clock)
    # 1 request/s and 10 tokens/s: a 50-token call is bound by tokens (5 s each)
    assert lim.reserve({"rpm": 1, "tpm": 50}) == 0.0
    assert lim.reserve({"rpm": 1, "tpm": 50}) == pytest.approx(5.0)
    assert lim.reserve({"rpm": 1, "tpm": 50}) == pytest.approx(10.0)
    clock.advance(20)  # idle: small calls are now bound by requests (1 s each)
    assert lim.reserve({"rpm": 1, "tpm": 2}) == 0.0
    assert lim.reserve({"rpm": 1, "tpm": 2}) == pytest.approx(1.0)
    assert lim.reserve({"rpm": 1, "tpm": 2}) == pytest.approx(2.0)


def test_dimensions_without_a_rate_are_ignored(clock: FakeClock) -> None:
    lim = RateLimiter({"rps": Rate(2.0)}, clock=clock)
    assert lim.reserve({"rps": 1, "unknown": 1e9}) == 0.0
    assert lim.reserve({"unknown": 5}) == 0.0
    assert lim.reserve({"rps": 1}) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        lim.reserve({"rps": -1})


@pytest.mark.parametrize("burst", [1.0, 5.0])
def test_sustained_rate_over_many_reservations(clock: FakeClock, burst: float) -> None:
    rate = 7.0
    lim = RateLimiter({"tokens": Rate(rate, burst=burst)}, clock=clock)
    rng = random.Random(1)
    start, units = clock(), 0.0
    for _ in range(20_000):
        cost = rng.randint(1, 20)
        clock.advance(lim.reserve({"tokens": cost}))  # a client that goes when told
        units += cost
    # units sent by the last slot, over the time it took: the rate, whatever the costs
    measured = (units - cost) / (clock() - start)
    assert measured == pytest.approx(rate, rel=1e-3)


def test_cost_above_burst_goes_as_debt(clock: FakeClock) -> None:
    lim = RateLimiter({"tokens": Rate(10.0, burst=5)}, clock=clock)
    assert lim.reserve({"tokens": 50}) == pytest.approx(0.4)  # waits for a full bucket only
    clock.advance(0.4)
    assert lim.available("tokens") == pytest.approx(5 - 50)
    # the debt is repaid at the rate: 45 units owed + 1 wanted -> 4.6 s
    assert lim.reserve({"tokens": 1}) == pytest.approx(4.6)


def test_refund_gives_back_unused_units(clock: FakeClock) -> None:
    lim = RateLimiter({"tokens": Rate(10.0)}, clock=clock)
    assert lim.reserve({"tokens": 10}) == 0.0  # estimated 10 tokens
    lim.refund("tokens", 8)  # used 2
    assert lim.reserve({"tokens": 1}) == pytest.approx(0.2)
    lim.refund("nope", 3)  # unknown dimension: ignored
    with pytest.raises(ValueError):
        lim.refund("tokens", -1)


def test_refund_never_fills_past_the_burst(clock: FakeClock) -> None:
    lim = RateLimiter({"tokens": Rate(10.0, burst=3)}, clock=clock)
    clock.advance(10)
    lim.refund("tokens", 100)
    assert lim.available("tokens") == pytest.approx(3.0)


def test_charge_adds_debt_without_waiting(clock: FakeClock) -> None:
    lim = RateLimiter({"tokens": Rate(10.0)}, clock=clock)
    assert lim.reserve({"tokens": 1}) == 0.0
    lim.charge("tokens", 9)  # used 10, not 1
    assert lim.reserve({"tokens": 1}) == pytest.approx(1.0)


def test_block_until_delays_new_reservations(clock: FakeClock) -> None:
    lim = RateLimiter({"rps": Rate(10.0, burst=5)}, clock=clock)
    lim.block_until(2.0)
    assert lim.blocked_until == pytest.approx(clock() + 2.0)
    assert lim.reserve({"rps": 1}) == pytest.approx(2.0)
    assert lim.reserve({"rps": 1}) == pytest.approx(2.1)  # back to initial_fill, not a full bucket
    assert lim.reserve({}) == pytest.approx(2.0)  # even a cost on no rated dimension


def test_block_until_shifts_the_pending_schedule_in_order(clock: FakeClock) -> None:
    lim = RateLimiter({"rps": Rate(10.0)}, clock=clock)
    pending = [lim.reserve({"rps": 1}) for _ in range(3)]  # 0, 0.1, 0.2
    lim.block_until(1.0)
    assert lim.shift == pytest.approx(1.0)
    # already-issued slots move by 1 s (acquire waits it); new ones queue behind them
    assert lim.reserve({"rps": 1}) == pytest.approx(pending[-1] + 1.0 + 0.1)


def test_block_until_overlapping_blocks(clock: FakeClock) -> None:
    lim = RateLimiter({"rps": Rate(10.0)}, clock=clock)
    lim.block_until(2.0)
    clock.advance(1.0)
    lim.block_until(0.5)  # ends before the current block: no change
    assert lim.shift == pytest.approx(2.0)
    lim.block_until(3.0)  # extends it by 2 s
    assert lim.shift == pytest.approx(4.0)
    assert lim.reserve({"rps": 1}) == pytest.approx(3.0)


def test_set_rate_adds_replaces_and_removes(clock: FakeClock) -> None:
    lim = RateLimiter(clock=clock)
    assert lim.reserve({"rpm": 1}) == 0.0 and lim.reserve({"rpm": 1}) == 0.0
    lim.set_rate("rpm", Rate(2.0, burst=10))  # learnt: starts with initial_fill, not full
    assert lim.rates == {"rpm": Rate(2.0, burst=10)}
    assert lim.reserve({"rpm": 1}) == 0.0
    assert lim.reserve({"rpm": 1}) == pytest.approx(0.5)
    lim.set_rate("rpm", Rate(1.0, burst=10))  # slower: the one-unit debt is repaid at 1/s
    assert lim.available("rpm") == pytest.approx(-1.0)
    assert lim.reserve({"rpm": 1}) == pytest.approx(2.0)
    lim.set_rate("rpm", None)
    assert lim.rates == {}
    assert lim.reserve({"rpm": 1}) == 0.0


def test_set_rate_does_not_fill_the_bucket(clock: FakeClock) -> None:
    lim = RateLimiter({"rps": Rate(10.0, burst=1)}, clock=clock)
    lim.set_rate("rps", Rate(10.0, burst=100))
    assert lim.available("rps") == pytest.approx(1.0)


def test_repr_is_honest(clock: FakeClock) -> None:
    lim = RateLimiter({"rps": Rate(10.0, burst=2)}, clock=clock)
    lim.block_until(1.5)
    text = repr(lim)
    assert text.startswith("RateLimiter(rps=10/s burst=2 available=")
    assert "blocked_for=1.5s" in text


async def test_acquire_sleeps_the_reserved_wait(clock: FakeClock) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    lim = RateLimiter({"rps": Rate(4.0)}, clock=clock, sleep=sleep)
    start = clock()
    assert await lim.acquire({"rps": 1}) == 0.0
    assert await lim.acquire({"rps": 1}) == pytest.approx(0.25)
    assert await lim.acquire({"rps": 1}) == pytest.approx(0.25)
    assert slept == pytest.approx([0.25, 0.25])
    assert clock() - start == pytest.approx(0.5)


async def test_acquire_waits_out_a_block_imposed_while_sleeping(clock: FakeClock) -> None:
    lim: RateLimiter
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        if not slept:
            lim.block_until(3.0)  # a 429 with Retry-After: 3 arrives meanwhile
        slept.append(seconds)
        clock.advance(seconds)

    lim = RateLimiter({"rps": Rate(10.0)}, clock=clock, sleep=sleep)
    lim.reserve({"rps": 1})
    assert await lim.acquire({"rps": 1}) == pytest.approx(0.1 + 3.0)
    assert slept == pytest.approx([0.1, 3.0])


async def test_acquire_really_sleeps() -> None:
    # the limiter's clock is fake (the wait is exact whatever the machine does), the sleep is
    # asyncio's real one: the second acquire is due 0.1 s after the first, and the event loop
    # must really have slept that long (a sleep never returns early; a stall only makes it longer)
    clock = FakeClock(100.0)
    lim = RateLimiter({"rps": Rate(10.0)}, clock=clock)
    loop = asyncio.get_running_loop()
    assert await lim.acquire({"rps": 1}) == 0.0
    start = loop.time()
    wait = await lim.acquire({"rps": 1})
    elapsed = loop.time() - start
    assert wait == pytest.approx(0.1, abs=1e-12)
    assert elapsed >= 0.1 - 1e-3
    assert await lim.acquire({"rps": 1}) == pytest.approx(0.2, abs=1e-12)  # the clock did not move
