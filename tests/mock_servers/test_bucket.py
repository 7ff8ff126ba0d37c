"""Token bucket and BucketSet, driven by a fake clock."""

from __future__ import annotations

import pytest

from mock_servers.bucket import BucketSet, TokenBucket

from tests.fakes import FakeClock




@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_starts_full(clock):
    b = TokenBucket(60, 1.0, clock)
    assert b.level() == 60
    assert b.wait_for(60) == 0
    assert b.reset_seconds() == 0


def test_rejects_non_positive_capacity_or_rate(clock):
    with pytest.raises(ValueError, match="capacity and rate"):
        TokenBucket(0, 1.0, clock)
    with pytest.raises(ValueError, match="capacity and rate"):
        TokenBucket(10, 0, clock)


def test_exact_wait_after_draining(clock):
    b = TokenBucket(10, 2.0, clock)  # 2 tokens/s
    b.take(10)
    assert b.level() == 0
    assert b.wait_for(1) == pytest.approx(0.5)
    assert b.wait_for(3) == pytest.approx(1.5)
    clock.advance(0.25)
    assert b.level() == pytest.approx(0.5)
    assert b.wait_for(1) == pytest.approx(0.25)
    clock.advance(0.25)
    assert b.wait_for(1) == 0


def test_refill_caps_at_capacity(clock):
    b = TokenBucket(5, 1.0, clock)
    b.take(5)
    clock.advance(3600)
    assert b.level() == 5


def test_take_may_go_below_zero_and_wait_accounts_for_debt(clock):
    b = TokenBucket(10, 1.0, clock)
    b.take(12)
    assert b.level() == pytest.approx(-2)
    assert b.wait_for(1) == pytest.approx(3.0)


def test_give_back_returns_tokens_but_never_above_capacity(clock):
    b = TokenBucket(100, 1.0, clock)
    b.take(80)
    b.give_back(30)
    assert b.level() == pytest.approx(50)
    b.give_back(1000)
    assert b.level() == 100


def test_reset_seconds_is_time_to_full(clock):
    b = TokenBucket(60, 0.5, clock)
    b.take(30)
    assert b.reset_seconds() == pytest.approx(60.0)
    clock.advance(20)
    assert b.reset_seconds() == pytest.approx(40.0)
    clock.advance(100)
    assert b.reset_seconds() == 0


def test_repr_is_honest(clock):
    b = TokenBucket(60, 1.0, clock)
    b.take(10)
    assert repr(b) == "TokenBucket(capacity=60, rate=1/s, level=50.00)"


def test_admitted_count_is_rate_times_time_plus_burst(clock):
    b = TokenBucket(10, 8.0, clock)  # steps of 1/8 s (exact in binary): one token per step
    admitted = 0
    for _ in range(80):  # 80 steps: t = 0 .. 9.875 s, five attempts at each
        for _ in range(5):
            if b.wait_for(1) == 0:
                b.take(1)
                admitted += 1
        clock.advance(0.125)
    assert admitted == 10 + 8 * 9.875  # burst + rate x (last attempt - first attempt)


class TestBucketSet:
    def test_admits_when_every_dimension_has_room(self, clock):
        bs = BucketSet({"requests": TokenBucket(10, 1, clock), "tokens": TokenBucket(1000, 10, clock)})
        assert bs.try_take({"requests": 1, "tokens": 400}) is None
        assert bs.buckets["requests"].level() == 9
        assert bs.buckets["tokens"].level() == 600

    def test_all_or_none(self, clock):
        bs = BucketSet({"requests": TokenBucket(10, 1, clock), "tokens": TokenBucket(1000, 10, clock)})
        bs.try_take({"tokens": 900})
        refused = bs.try_take({"requests": 1, "tokens": 200})
        assert refused == ("tokens", pytest.approx(10.0))
        # the requests bucket was not charged for the refused call
        assert bs.buckets["requests"].level() == 10
        assert bs.buckets["tokens"].level() == pytest.approx(100)

    def test_reports_the_longest_wait(self, clock):
        bs = BucketSet({"requests": TokenBucket(1, 1, clock), "tokens": TokenBucket(100, 10, clock)})
        bs.try_take({"requests": 1, "tokens": 100})
        dim, wait = bs.try_take({"requests": 1, "tokens": 50})
        assert (dim, wait) == ("tokens", pytest.approx(5.0))
        clock.advance(5)
        assert bs.try_take({"requests": 1, "tokens": 50}) is None

    def test_unknown_dimensions_are_ignored(self, clock):
        bs = BucketSet({"requests": TokenBucket(2, 1, clock)})
        assert bs.try_take({"requests": 1, "tokens": 10**9}) is None
        assert bs.buckets["requests"].level() == 1

    def test_amount_above_capacity_never_passes(self, clock):
        bs = BucketSet({"tokens": TokenBucket(100, 10, clock)})
        dim, wait = bs.try_take({"tokens": 150})
        assert dim == "tokens" and wait == pytest.approx(5.0)
        clock.advance(3600)
        assert bs.try_take({"tokens": 150}) is not None
