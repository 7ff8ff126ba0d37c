"""Formats the providers use for durations and instants in headers and messages."""

from __future__ import annotations

import math
from datetime import datetime, timezone


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` rounded to the millisecond, as OpenAI sends
    ``x-ratelimit-reset-*`` (``6m0s``, ``1.5s``, ``20ms``, ``0s``)."""
    ms = max(0, round(seconds * 1000))
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rem = divmod(ms, 3_600_000)
    minutes, rem = divmod(rem, 60_000)
    secs = rem / 1000
    sec_text = f"{secs:.3f}".rstrip("0").rstrip(".")
    out = ""
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + f"{sec_text}s"


def rfc3339(epoch_seconds: float, fractional: bool = False) -> str:
    """An RFC 3339 UTC instant (``2025-01-01T00:00:07Z``), as Anthropic sends resets."""
    if not fractional:
        epoch_seconds = math.ceil(epoch_seconds)
    dt = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    if fractional:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def retry_after_seconds(seconds: float, scaled: bool) -> str:
    """``retry-after`` in whole seconds (rounded up) as the providers send it; with a
    compressed time scale, a decimal the official SDKs also accept."""
    if scaled:
        return f"{max(seconds, 0.001):.3f}"
    return str(max(1, math.ceil(seconds)))
