"""RetryPolicy and status classification."""

from __future__ import annotations

import random

import pytest

from harness.runner.retry import TRANSIENT, Outcome, RetryPolicy, classify_status
from mock_servers.timescale import TimeScale


@pytest.mark.parametrize("status, outcome", [
    (200, Outcome.OK), (201, Outcome.OK), (204, Outcome.OK),
    (429, Outcome.RATE_LIMITED), (408, Outcome.TIMEOUT),
    (500, Outcome.SERVER_ERROR), (502, Outcome.SERVER_ERROR), (503, Outcome.SERVER_ERROR),
    (529, Outcome.SERVER_ERROR),
    (400, Outcome.CLIENT_ERROR), (401, Outcome.CLIENT_ERROR), (403, Outcome.CLIENT_ERROR),
    (404, Outcome.CLIENT_ERROR), (422, Outcome.CLIENT_ERROR), (302, Outcome.CLIENT_ERROR),
])
def test_classify_status(status: int, outcome: Outcome) -> None:
    assert classify_status(status) is outcome


def test_outcome_values_are_the_metric_labels() -> None:
    assert [o.value for o in Outcome] == [
        "ok", "rate_limited", "server_error", "client_error", "timeout", "connection_error"]
    assert str(Outcome.RATE_LIMITED) == "rate_limited" and Outcome("timeout") is Outcome.TIMEOUT
    assert TRANSIENT == {Outcome.RATE_LIMITED, Outcome.SERVER_ERROR, Outcome.TIMEOUT, Outcome.CONNECTION_ERROR}


def test_should_retry_transient_only_and_up_to_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    for outcome in TRANSIENT:
        assert policy.should_retry(outcome, 1) and policy.should_retry(outcome, 2)
        assert not policy.should_retry(outcome, 3)
    assert not policy.should_retry(Outcome.CLIENT_ERROR, 1)
    assert not policy.should_retry(Outcome.OK, 1)
    assert policy.should_retry("rate_limited", 1)


def test_no_jitter_is_exponential_and_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, multiplier=2.0, max_delay=3.0, jitter="none")
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(100_000) == 3.0  # no overflow


@pytest.mark.parametrize("attempt", [1, 3, 6, 12])
def test_full_jitter_spans_zero_to_the_backoff(attempt: int) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    cap = min(30.0, 0.5 * 2 ** (attempt - 1))
    rng = random.Random(7)
    draws = [policy.delay(attempt, rng=rng) for _ in range(2000)]
    assert all(0.0 <= d <= cap for d in draws)
    assert min(draws) < 0.02 * cap and max(draws) > 0.98 * cap


def test_equal_jitter_stays_in_the_upper_half() -> None:
    policy = RetryPolicy(base_delay=1.0, jitter="equal")
    rng = random.Random(3)
    draws = [policy.delay(3, rng=rng) for _ in range(2000)]
    assert all(2.0 <= d <= 4.0 for d in draws)
    assert min(draws) < 2.05 and max(draws) > 3.95


def test_retry_after_is_never_undercut() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    rng = random.Random(11)
    for _ in range(500):
        assert policy.delay(1, retry_after=2.0, rng=rng) >= 2.0
    # the server's wait beats the cap: capped at max(max_delay, retry_after)
    assert policy.delay(1, retry_after=90.0, rng=rng) == 90.0
    assert RetryPolicy(jitter="none").delay(20, retry_after=90.0) == 90.0
    # a shorter retry_after does not shorten the backoff
    assert RetryPolicy(jitter="none").delay(4, retry_after=0.1) == 4.0
    assert policy.delay(1, retry_after=-5.0, rng=rng) >= 0.0


def test_scaled_multiplies_durations() -> None:
    policy = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=30.0, jitter="none").scaled(TimeScale(0.01))
    assert policy == RetryPolicy(max_attempts=4, base_delay=0.005, max_delay=0.3, jitter="none")
    assert policy.delay(3) == pytest.approx(0.02)


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base_delay": -1}, {"multiplier": 0.5},
                                    {"jitter": "some"}])
def test_bad_policies(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)
