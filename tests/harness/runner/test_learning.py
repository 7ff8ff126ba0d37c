"""Learning limits from the providers' real header sets (docs/provider-fidelity.md)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from harness.runner.learning import (
    learn,
    learn_from_headers,
    parse_go_duration,
    parse_rfc3339,
    retry_after_seconds,
)
from harness.runner.limiter import Rate
from mock_servers.durations import go_duration
from mock_servers.timescale import TimeScale

# docs/provider-fidelity.md 1.1
OPENAI = {
    "x-ratelimit-limit-requests": "60",
    "x-ratelimit-limit-tokens": "150000",
    "x-ratelimit-remaining-requests": "59",
    "x-ratelimit-remaining-tokens": "149984",
    "x-ratelimit-reset-requests": "1s",
    "x-ratelimit-reset-tokens": "6m0s",
    "openai-processing-ms": "1032",
    "x-request-id": "req_deaa3616cbd15d33b4db96b3ba74d2b4",
}
# docs/provider-fidelity.md 2.2
ANTHROPIC = {
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "49",
    "anthropic-ratelimit-requests-reset": "2025-06-01T12:00:01Z",
    "anthropic-ratelimit-input-tokens-limit": "30000",
    "anthropic-ratelimit-input-tokens-remaining": "30000",
    "anthropic-ratelimit-input-tokens-reset": "2025-06-01T12:00:00Z",
    "anthropic-ratelimit-output-tokens-limit": "8000",
    "anthropic-ratelimit-output-tokens-remaining": "7000",
    "anthropic-ratelimit-output-tokens-reset": "2025-06-01T12:00:08Z",
    "anthropic-ratelimit-tokens-limit": "38000",
    "anthropic-ratelimit-tokens-remaining": "37000",
    "anthropic-ratelimit-tokens-reset": "2025-06-01T12:00:08Z",
    "request-id": "req_011CSHoEeqs5C35K2UUqR7Fy",
}
NOON = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()


def test_openai_headers() -> None:
    rates = learn_from_headers(OPENAI)
    assert set(rates) == {"requests_per_minute", "tokens_per_minute"}
    assert rates["requests_per_minute"].per_second == pytest.approx(60 * 0.95 / 60)
    assert rates["requests_per_minute"].burst == 1.0
    assert rates["tokens_per_minute"].per_second == pytest.approx(150000 * 0.95 / 60)


def test_openai_remaining_and_reset() -> None:
    learnt = learn(OPENAI)
    assert learnt.remaining == {"requests_per_minute": 59, "tokens_per_minute": 149984}
    assert learnt.reset_seconds == pytest.approx({"requests_per_minute": 1.0, "tokens_per_minute": 360.0})


def test_headers_are_case_insensitive_and_time_scaled() -> None:
    upper = {k.upper(): v for k, v in OPENAI.items()}
    rates = learn_from_headers(upper, time_scale=TimeScale(0.01), safety=1.0)
    assert rates["requests_per_minute"].per_second == pytest.approx(60 / 0.6)
    assert rates["tokens_per_minute"].per_second == pytest.approx(150000 / 0.6)


def test_anthropic_headers() -> None:
    learnt = learn(ANTHROPIC, now_epoch=NOON)
    assert set(learnt.updates) == {"requests_per_minute", "input_tokens_per_minute", "output_tokens_per_minute"}
    assert learnt.updates["requests_per_minute"].per_second == pytest.approx(50 * 0.95 / 60)
    assert learnt.updates["input_tokens_per_minute"].per_second == pytest.approx(30000 * 0.95 / 60)
    assert learnt.updates["output_tokens_per_minute"].per_second == pytest.approx(8000 * 0.95 / 60)
    assert learnt.remaining["output_tokens_per_minute"] == 7000
    assert learnt.reset_seconds == pytest.approx(
        {"requests_per_minute": 1.0, "input_tokens_per_minute": 0.0, "output_tokens_per_minute": 8.0})


def test_spapi_header_is_a_per_second_rate() -> None:
    learnt = learn({"x-amzn-RateLimit-Limit": "2.0", "x-amzn-RequestId": "6875f61f-6aa1-11e8"},
                   operation="getCatalogItem")
    assert learnt.updates == {"requests_per_second": Rate(2.0 * 0.95, 1.0)}
    assert learnt.operation == "getCatalogItem"
    slow = learn_from_headers({"x-amzn-RateLimit-Limit": "0.0055"}, time_scale=TimeScale(0.5), safety=1.0)
    assert slow["requests_per_second"].per_second == pytest.approx(0.011)


def test_generic_header_is_per_minute_unless_a_window_is_given() -> None:
    rates = learn_from_headers({"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "12"})
    assert rates == {"requests_per_minute": Rate.per_minute(600 * 0.95)}
    hourly = learn_from_headers({"x-ratelimit-limit": "5000, 5000;w=3600"}, safety=1.0)
    assert hourly["requests_per_minute"].per_second == pytest.approx(5000 / 3600)


def test_generic_reset_seconds_or_epoch() -> None:
    learnt = learn({"X-RateLimit-Limit": "600", "X-RateLimit-Reset": "12.5"})
    assert learnt.reset_seconds == {"requests_per_minute": 12.5}
    learnt = learn({"X-RateLimit-Limit": "600", "X-RateLimit-Reset": str(int(NOON) + 30)}, now_epoch=NOON)
    assert learnt.reset_seconds == {"requests_per_minute": 30.0}


@pytest.mark.parametrize("headers", [
    {},
    {"x-ratelimit-limit-requests": "lots"},
    {"x-ratelimit-limit-requests": "0"},
    {"x-ratelimit-limit-requests": "-5", "x-amzn-ratelimit-limit": "nan"},
    {"content-type": "application/json"},
])
def test_nothing_learnt_from_missing_or_bad_limits(headers: dict[str, str]) -> None:
    assert learn_from_headers(headers) == {}


def test_bad_reset_does_not_hide_the_limit() -> None:
    learnt = learn({"x-ratelimit-limit-requests": "60", "x-ratelimit-reset-requests": "soon"})
    assert "requests_per_minute" in learnt.updates
    assert learnt.reset_seconds == {}


def test_safety_and_time_scale_are_checked() -> None:
    with pytest.raises(ValueError):
        learn_from_headers(OPENAI, safety=0)
    with pytest.raises(ValueError):
        learn_from_headers(OPENAI, time_scale=TimeScale(0))


@pytest.mark.parametrize("text, seconds", [
    ("12ms", 0.012), ("9ms", 0.009), ("120ms", 0.12), ("464ms", 0.464), ("1s", 1.0),
    ("6m0s", 360.0), ("4m12.172s", 252.172), ("16m33.562s", 993.562),
    ("23h18m29.144s", 23 * 3600 + 18 * 60 + 29.144), ("1.5s", 1.5), ("20ms", 0.02),
    ("1h2m3.5s", 3723.5), ("0s", 0.0), ("0", 0.0), ("1m", 60.0), ("250us", 0.00025), ("5ns", 5e-9),
    ("-1.5s", -1.5),
])
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("seconds", [0.009, 0.464, 1.0, 1.5, 59.999, 360.0, 993.562, 83909.144])
def test_go_duration_round_trips_the_mocks_format(seconds: float) -> None:
    assert parse_go_duration(go_duration(seconds)) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "1x", "1.5.3s", "m", "6m0", "6 m", "s1", "1s2"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)


@pytest.mark.parametrize("text, epoch", [
    ("2025-06-01T12:00:01Z", NOON + 1),
    ("2025-06-01T12:00:00.5Z", NOON + 0.5),
    ("2025-06-01T12:00:00.123456789Z", NOON + 0.123456789),
    ("2025-06-01T14:00:08+02:00", NOON + 8),
    ("2025-06-01t12:00:08z", NOON + 8),
])
def test_rfc3339(text: str, epoch: float) -> None:
    assert parse_rfc3339(text) == pytest.approx(epoch, abs=1e-6)


@pytest.mark.parametrize("text", ["2025-06-01T12:00:01", "2025-06-01", "yesterday", "1748779200"])
def test_bad_rfc3339(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_retry_after_ms_comes_first() -> None:
    assert retry_after_seconds({"retry-after-ms": "84", "retry-after": "1"}) == pytest.approx(0.084)


@pytest.mark.parametrize("value, seconds", [("20", 20.0), ("0.25", 0.25), ("0", 0.0), ("-3", 0.0)])
def test_retry_after_seconds(value: str, seconds: float) -> None:
    assert retry_after_seconds({"Retry-After": value}) == pytest.approx(seconds)


def test_retry_after_http_date() -> None:
    headers = {"retry-after": "Sun, 01 Jun 2025 12:00:30 GMT"}
    assert retry_after_seconds(headers, NOON) == pytest.approx(30.0)
    assert retry_after_seconds(headers, NOON + 60) == 0.0  # in the past


@pytest.mark.parametrize("headers", [{}, {"retry-after": "soon"}, {"retry-after": ""}, {"retry-after-ms": "x"}])
def test_retry_after_absent_or_unparsable(headers: dict[str, str]) -> None:
    assert retry_after_seconds(headers, NOON) is None
