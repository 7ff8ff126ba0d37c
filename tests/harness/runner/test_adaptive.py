"""AdaptiveConcurrency: AIMD with a fake clock, FIFO waiters woken through futures."""

from __future__ import annotations

import asyncio

import pytest

from harness.runner.adaptive import AdaptiveConcurrency
from harness.runner.retry import Outcome

from tests.fakes import FakeClock




async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def hold(ac: AdaptiveConcurrency, n: int) -> None:
    for _ in range(n):
        await ac.acquire()


async def call(ac: AdaptiveConcurrency, outcome: str, times: int = 1) -> None:
    """``times`` calls, one after another, that ended in ``outcome``."""
    for _ in range(times):
        await ac.acquire()
        ac.release(outcome)


async def test_starts_at_max_and_decreases_multiplicatively() -> None:
    ac = AdaptiveConcurrency(10, clock=FakeClock(50.0))
    assert (ac.limit, ac.in_flight) == (10, 0)
    limits = []
    for outcome in ("rate_limited", "overloaded", Outcome.RATE_LIMITED):
        await call(ac, outcome)
        limits.append(ac.limit)
    assert limits == [7, 4, 3]  # 10 * 0.7, * 0.7 = 4.9, * 0.7 = 3.43


@pytest.mark.parametrize("outcome", ["server_error", "timeout", "client_error", "whatever"])
async def test_other_outcomes_are_neutral(outcome: str) -> None:
    ac = AdaptiveConcurrency(10, clock=FakeClock(50.0))
    await call(ac, "rate_limited")
    await call(ac, outcome, times=20)
    assert ac.limit == 7 and ac.in_flight == 0


async def test_never_below_min_limit() -> None:
    ac = AdaptiveConcurrency(10, min_limit=2, clock=FakeClock(50.0))
    await call(ac, "rate_limited", times=20)
    assert ac.limit == 2


async def test_cooldown_makes_one_burst_one_decrease() -> None:
    clock = FakeClock(50.0)
    ac = AdaptiveConcurrency(100, cooldown=1.0, clock=clock)
    for _ in range(5):  # five 429s from the same window
        await call(ac, "rate_limited")
        clock.now += 0.1
    assert ac.limit == 70
    clock.now += 0.6  # 1.1 s after the first decrease
    await call(ac, "rate_limited")
    assert ac.limit == 49


async def test_additive_increase_per_window_of_successes_up_to_the_cap() -> None:
    ac = AdaptiveConcurrency(10, clock=FakeClock(50.0))
    await call(ac, "rate_limited")
    assert ac.limit == 7
    await call(ac, "ok", times=6)
    assert ac.limit == 7
    await call(ac, "ok")  # one window of `limit` successes: +1
    assert ac.limit == 8
    await call(ac, Outcome.OK, times=100)
    assert ac.limit == 10  # the user's --workers is a hard cap


def test_release_without_acquire_raises() -> None:
    with pytest.raises(RuntimeError):
        AdaptiveConcurrency(3).release("ok")


@pytest.mark.parametrize("kwargs", [{"max_limit": 0}, {"max_limit": 2, "min_limit": 3},
                                    {"max_limit": 2, "decrease": 1.0}, {"max_limit": 2, "cooldown": -1}])
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        AdaptiveConcurrency(**kwargs)


async def test_acquire_waits_at_the_limit_and_wakes_in_order() -> None:
    ac = AdaptiveConcurrency(2, clock=FakeClock(50.0))
    await hold(ac, 2)
    order: list[int] = []

    async def worker(i: int) -> None:
        await ac.acquire()
        order.append(i)

    tasks = [asyncio.create_task(worker(i)) for i in range(4)]
    await settle()
    assert order == [] and ac.in_flight == 2 and ac.waiting == 4
    ac.release("neutral")
    await settle()
    assert order == [0]
    ac.release("neutral")
    ac.release("neutral")
    await settle()
    assert order == [0, 1, 2]
    ac.release("neutral")
    await settle()
    assert order == [0, 1, 2, 3] and ac.in_flight == 2
    await asyncio.gather(*tasks)


async def test_no_new_slots_while_in_flight_exceeds_a_shrunk_limit() -> None:
    ac = AdaptiveConcurrency(4, clock=FakeClock(50.0))
    await hold(ac, 4)
    waiter = asyncio.create_task(ac.acquire())
    ac.release("rate_limited")  # limit 4 -> 2, in flight 3
    await settle()
    assert ac.limit == 2 and not waiter.done()
    ac.release("neutral")  # in flight 2: still not below the limit
    await settle()
    assert not waiter.done()
    ac.release("neutral")  # in flight 1 < 2
    await settle()
    assert waiter.done() and ac.in_flight == 2


async def test_growing_limit_wakes_waiters_in_order() -> None:
    ac = AdaptiveConcurrency(3, clock=FakeClock(50.0))
    await hold(ac, 3)
    ac.release("rate_limited")  # 3 -> 2.1
    ac.release("rate_limited")  # -> 1.47: limit 1, in flight 1
    assert (ac.limit, ac.in_flight) == (1, 1)
    order: list[int] = []

    async def worker(i: int) -> None:
        await ac.acquire()
        order.append(i)

    waiters = [asyncio.create_task(worker(i)) for i in range(3)]
    await settle()
    assert order == []
    ac.release("ok")  # 1.47 + 1/1 = 2.47: limit 2, in flight 0 -> two waiters go, in order
    await settle()
    assert order == [0, 1] and ac.limit == 2 and ac.in_flight == 2
    waiters[2].cancel()
    await asyncio.gather(*waiters[:2])


async def test_cancelled_waiter_is_skipped_and_a_granted_slot_is_not_lost() -> None:
    ac = AdaptiveConcurrency(1, clock=FakeClock(50.0))
    await ac.acquire()
    first = asyncio.create_task(ac.acquire())
    second = asyncio.create_task(ac.acquire())
    await settle()
    first.cancel()
    await settle()
    assert ac.waiting == 1
    ac.release("ok")
    await settle()
    assert second.done() and ac.in_flight == 1
    # granted, then cancelled before it ran: the slot goes to the next waiter
    third = asyncio.create_task(ac.acquire())
    fourth = asyncio.create_task(ac.acquire())
    await settle()
    ac.release("ok")  # grants `third`
    third.cancel()
    await settle()
    assert third.cancelled() and fourth.done() and ac.in_flight == 1


def test_repr() -> None:
    ac = AdaptiveConcurrency(8, min_limit=2, clock=FakeClock(50.0))
    assert repr(ac) == "AdaptiveConcurrency(limit=8, in_flight=0, waiting=0, min_limit=2, max_limit=8)"
