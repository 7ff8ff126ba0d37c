"""Header formats: Go durations (OpenAI), RFC 3339 instants (Anthropic), retry-after."""

from __future__ import annotations

from datetime import datetime

import pytest

from mock_servers.durations import go_duration, retry_after_seconds, rfc3339


@pytest.mark.parametrize(
    "seconds,text",
    [
        (0, "0s"),
        (0.0004, "0s"),
        (-3, "0s"),
        (0.001, "1ms"),
        (0.02, "20ms"),
        (0.084, "84ms"),
        (0.999, "999ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (2.028, "2.028s"),
        (59.9, "59.9s"),
        (60, "1m0s"),
        (60.5, "1m0.5s"),
        (360, "6m0s"),
        (3600, "1h0m0s"),
        (3723, "1h2m3s"),
        (90061.25, "25h1m1.25s"),
    ],
)
def test_go_duration(seconds, text):
    assert go_duration(seconds) == text


def test_go_duration_rounds_to_the_millisecond():
    assert go_duration(0.0206) == "21ms"
    assert go_duration(1.2344) == "1.234s"
    assert go_duration(0.99999) == "1s"


@pytest.mark.parametrize(
    "epoch,text",
    [
        (0, "1970-01-01T00:00:00Z"),
        (1735689600, "2025-01-01T00:00:00Z"),
        (1735689607, "2025-01-01T00:00:07Z"),
        (1735689606.2, "2025-01-01T00:00:07Z"),  # whole seconds round up: never earlier than the reset
    ],
)
def test_rfc3339_whole_seconds(epoch, text):
    assert rfc3339(epoch) == text


def test_rfc3339_fractional():
    assert rfc3339(1735689606.25, fractional=True) == "2025-01-01T00:00:06.250Z"
    assert rfc3339(0.5, fractional=True) == "1970-01-01T00:00:00.500Z"


def test_rfc3339_parses_back():
    text = rfc3339(1735689606.25, fractional=True)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.timestamp() == pytest.approx(1735689606.25, abs=0.001)


@pytest.mark.parametrize(
    "seconds,scaled,text",
    [
        (0.3, False, "1"),
        (1.0, False, "1"),
        (1.2, False, "2"),
        (0, False, "1"),
        (0.3, True, "0.300"),
        (0.0123, True, "0.012"),
        (0, True, "0.001"),
        (12.5, True, "12.500"),
    ],
)
def test_retry_after_seconds(seconds, scaled, text):
    assert retry_after_seconds(seconds, scaled) == text
