"""Keepa's token balance with a fake clock: discrete per-minute refills, a cap, a negative balance."""

from __future__ import annotations

import pytest

from mock_servers.profile import KeepaTokens
from mock_servers.providers.keepa import KeepaBalance
from mock_servers.timescale import TimeScale

from tests.fakes import FakeClock




@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(500.0)


def balance(clock, scale: float = 1.0, **spec) -> KeepaBalance:
    return KeepaBalance(KeepaTokens(**spec), TimeScale(scale), clock)


def test_starts_with_a_full_hour_by_default(clock):
    b = balance(clock, refill_rate=20)
    assert b.cap == 1200 and b.tokens == 1200 and b.rate == 20


def test_initial_balance_and_cap_from_max_hours(clock):
    b = balance(clock, refill_rate=20, initial=5, max_hours=0.5)
    assert b.tokens == 5 and b.cap == 600


def test_refill_is_discrete_per_minute(clock):
    b = balance(clock, refill_rate=20, initial=0)
    clock.advance(59.9)
    b.try_spend(0)
    assert b.tokens == 0
    clock.advance(0.1)
    assert b.try_spend(1)
    assert b.tokens == 19
    clock.advance(119.99)  # 2 more full minutes would be at +120 s: only one has passed
    b.refill_in_ms()
    assert b.tokens == 39
    clock.advance(0.01)
    b.refill_in_ms()
    assert b.tokens == 59


def test_several_missed_refills_arrive_together(clock):
    b = balance(clock, refill_rate=10, initial=0)
    clock.advance(5 * 60 + 1)
    b.refill_in_ms()
    assert b.tokens == 50


def test_balance_caps(clock):
    b = balance(clock, refill_rate=20, initial=1190)
    clock.advance(3 * 60)
    b.refill_in_ms()
    assert b.tokens == 1200


def test_a_request_runs_while_positive_and_may_go_negative(clock):
    b = balance(clock, refill_rate=20, initial=3)
    assert b.try_spend(10)
    assert b.tokens == -7
    assert not b.try_spend(1)
    assert b.tokens == -7  # a refused request costs nothing
    clock.advance(60)
    assert b.try_spend(1)  # -7 + 20 = 13 > 0
    assert b.tokens == 12


def test_zero_balance_is_refused(clock):
    b = balance(clock, refill_rate=20, initial=1)
    assert b.try_spend(1)
    assert b.tokens == 0
    assert not b.try_spend(1)


def test_refill_in_ms(clock):
    b = balance(clock, refill_rate=20)
    assert b.refill_in_ms() == 60_000
    clock.advance(12.3456)
    assert b.refill_in_ms() == 47_655  # rounded up to the millisecond
    clock.advance(47.6544)
    assert b.refill_in_ms() == 60_000


def test_time_scale_shortens_the_minute(clock):
    b = balance(clock, scale=0.01, refill_rate=20, initial=0)  # a "minute" is 0.6 s
    assert b.period == pytest.approx(0.6)
    assert b.refill_in_ms() == pytest.approx(600, abs=1)  # 60 x 0.01 is not exact in binary
    clock.advance(0.61)
    assert b.refill_in_ms() == pytest.approx(590, abs=1)
    assert b.tokens == 20
    clock.advance(6)  # ten more scaled minutes
    b.refill_in_ms()
    assert b.tokens == 220


def test_spent_tokens_equal_initial_plus_refills(clock):
    b = balance(clock, refill_rate=20, initial=100)
    spent = 0
    for _ in range(10 * 60 * 8):  # t = 0 .. 599.875 s, one single-token attempt every 1/8 s
        if b.try_spend(1):
            spent += 1
        clock.advance(0.125)
    assert spent == 100 + 9 * 20  # initial + the refills at 60, 120, ... 540 s


def test_refill_in_is_never_zero_when_a_refill_falls_due_between_clock_readings(clock):
    """A clock that moves 0.6 ms at each reading, crossing a refill boundary: the answer is
    computed from one reading, so it is the time to the next refill, not 0 (the limits-accuracy
    test saw ``refillIn: 0`` on a loaded machine)."""
    b = balance(clock, refill_rate=20, initial=0)
    clock.advance(60.0 - 0.001)  # a millisecond before the first refill

    class Ticking:
        def __call__(self) -> float:
            clock.advance(0.0006)
            return clock.now

    b._clock = Ticking()
    # read 0.4 ms before the refill (the next reading would be past it): 1 ms to go, not 0
    assert b.refill_in_ms() == 1
    assert b.tokens == 0
