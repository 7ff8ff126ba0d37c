"""Learning rate limits from response headers when the scenario gives none.

Hand-written because no library knows these providers' header sets together: OpenAI's
``x-ratelimit-*`` (Go-duration resets), Anthropic's ``anthropic-ratelimit-*`` (RFC 3339
resets), SP-API's ``x-amzn-RateLimit-Limit`` (a per-operation rate) and the generic
``X-RateLimit-Limit``. Headers only: Keepa's token balance comes in bodies, not here.

Rates come out in wall-clock units for :class:`harness.runner.limiter.RateLimiter`: multiplied by
``safety`` and divided by ``time_scale`` (a per-minute limit is per ``60 * time_scale`` s).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Mapping

from mock_servers.timescale import REAL_TIME, TimeScale

from harness.runner.limiter import Rate

__all__ = [
    "LEARNT_BURST",
    "SAFETY",
    "LearntLimits",
    "learn",
    "learn_from_headers",
    "parse_go_duration",
    "parse_rfc3339",
    "retry_after_seconds",
]

SAFETY = 0.95  # the share of a learnt limit the runner paces at (the planner models the same)
LEARNT_BURST = 1.0  # units a learnt dimension lets go at once: smooth pacing, no bucket to spend

# header (lower case) -> (dimension, its remaining header, its reset header, reset format)
_PER_MINUTE: tuple[tuple[str, str, str, str, str], ...] = (
    ("x-ratelimit-limit-requests", "requests_per_minute",
     "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests", "go"),
    ("x-ratelimit-limit-tokens", "tokens_per_minute",
     "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens", "go"),
    ("anthropic-ratelimit-requests-limit", "requests_per_minute",
     "anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset", "rfc3339"),
    ("anthropic-ratelimit-input-tokens-limit", "input_tokens_per_minute",
     "anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-input-tokens-reset", "rfc3339"),
    ("anthropic-ratelimit-output-tokens-limit", "output_tokens_per_minute",
     "anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset", "rfc3339"),
)
_SPAPI = "x-amzn-ratelimit-limit"
_GENERIC = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
_WINDOW = re.compile(r";\s*w\s*=\s*([0-9.]+)")  # IETF RateLimit policy: "100;w=60"

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


@dataclass
class LearntLimits:
    """What one response said: rates per dimension, and where given the units remaining and
    the seconds until the bucket is full again (wall-clock, as sent)."""

    updates: dict[str, Rate]
    remaining: dict[str, float] = field(default_factory=dict)
    reset_seconds: dict[str, float] = field(default_factory=dict)
    operation: str | None = None


def parse_go_duration(text: str) -> float:
    """Seconds in a Go ``time.Duration`` string: ``6m0s``, ``1.5s``, ``20ms``, ``1h2m3.5s``."""
    s = text.strip()
    sign = -1.0 if s.startswith("-") else 1.0
    s = s.lstrip("+-")
    if s == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _GO_PART.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(s):
        raise ValueError(f"not a Go duration: {text!r}")
    return sign * total


def parse_rfc3339(text: str) -> float:
    """Epoch seconds of an RFC 3339 instant (``2025-06-01T12:00:01Z``, fractions, offsets)."""
    s = text.strip().upper()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    match = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d:\d\d)", s)
    if match is None:
        raise ValueError(f"not an RFC 3339 instant: {text!r}")
    head, frac, offset = match.groups()
    dt = datetime.fromisoformat(head + offset)  # fractions parsed here: any number of digits
    return dt.timestamp() + (float(frac) if frac else 0.0)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v).strip() for k, v in headers.items()}


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.split(",")[0].split(";")[0])
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _reset(text: str | None, fmt: str, now_epoch: float) -> float | None:
    if not text:
        return None
    try:
        if fmt == "go":
            return max(0.0, parse_go_duration(text))
        if fmt == "rfc3339":
            return max(0.0, parse_rfc3339(text) - now_epoch)
    except ValueError:
        return None
    value = _number(text)  # generic: seconds, or an epoch instant when it is that large
    if value is None:
        return None
    return max(0.0, value - now_epoch) if value > 1e9 else max(0.0, value)


def learn(
    headers: Mapping[str, str],
    *,
    time_scale: TimeScale = REAL_TIME,
    safety: float = SAFETY,
    operation: str | None = None,
    now_epoch: float | None = None,
    details: bool = True,
) -> LearntLimits:
    """Rates (and remaining/reset where sent) from one response's headers, case-insensitive.

    Dimensions: ``requests_per_minute``, ``tokens_per_minute`` (OpenAI),
    ``input_tokens_per_minute``, ``output_tokens_per_minute`` (Anthropic),
    ``requests_per_second`` (SP-API: the rate of ``operation``, burst 1). Limits that are
    missing, unparsable or not positive are left out. ``details=False`` skips remaining/reset."""
    if not 0 < safety <= 1:
        raise ValueError(f"safety must be in (0, 1], got {safety!r}")
    h = _lower(headers)
    now = now_epoch if now_epoch is not None else (time.time() if details else 0.0)
    out = LearntLimits(updates={}, operation=operation)

    def note(dim: str, remaining: str | None, reset: str | None, fmt: str) -> None:
        if not details:
            return
        left = _number(remaining)
        if left is not None:
            out.remaining[dim] = left
        seconds = _reset(reset, fmt, now)
        if seconds is not None:
            out.reset_seconds[dim] = seconds

    generic = _number(h.get(_GENERIC[0]))
    if generic is not None and generic > 0:
        window = _WINDOW.search(h[_GENERIC[0]])
        seconds = float(window.group(1)) if window else 60.0
        if seconds > 0:
            out.updates["requests_per_minute"] = Rate(time_scale.per_second(generic * safety / seconds), LEARNT_BURST)
            note("requests_per_minute", h.get(_GENERIC[1]), h.get(_GENERIC[2]), "generic")
    for name, dim, remaining, reset, fmt in _PER_MINUTE:  # provider headers win over generic
        limit = _number(h.get(name))
        if limit is not None and limit > 0:
            out.updates[dim] = Rate.per_minute(limit * safety, LEARNT_BURST, time_scale=time_scale)
            note(dim, h.get(remaining), h.get(reset), fmt)
    rate = _number(h.get(_SPAPI))
    if rate is not None and rate > 0:
        out.updates["requests_per_second"] = Rate(time_scale.per_second(rate * safety), burst=LEARNT_BURST)
    return out


def learn_from_headers(
    headers: Mapping[str, str],
    *,
    time_scale: TimeScale = REAL_TIME,
    safety: float = SAFETY,
    operation: str | None = None,
) -> dict[str, Rate]:
    """Dimension -> learnt :class:`Rate` from one response's headers (see :func:`learn`).
    SP-API rates are per operation: apply a result for ``operation`` to that operation's
    limiter only."""
    for name in headers:  # the common case, an API that sends no limit headers: no work
        if "ratelimit" in name.lower():
            break
    else:
        return {}
    return learn(headers, time_scale=time_scale, safety=safety, operation=operation, details=False).updates


def retry_after_seconds(headers: Mapping[str, str], now_epoch: float | None = None) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms`` first, then ``retry-after``
    (seconds, decimals allowed, or an HTTP date, relative to ``now_epoch``). None if absent
    or unparsable; never negative."""
    h = _lower(headers)
    ms = _plain_number(h.get("retry-after-ms"))
    if ms is not None:
        return max(0.0, ms / 1000.0)
    text = h.get("retry-after")
    if not text:
        return None
    seconds = _plain_number(text)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": HTTP dates are GMT anyway
        when = when.replace(tzinfo=timezone.utc)
    now = time.time() if now_epoch is None else now_epoch
    return max(0.0, when.timestamp() - now)


def _plain_number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
