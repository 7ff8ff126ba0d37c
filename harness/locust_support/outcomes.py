"""Sorting Locust's results into the runner's outcome labels, 429s apart from errors.

A 429 is recorded under its own stats entry, ``"<endpoint> [429]"``, and as a failure whose
message starts ``rate_limited:``; other failures start ``server_error:``, ``client_error:``,
``timeout:`` or ``connection_error:``. So Locust's stats table, its failures table (CSV and
HTML) and the Prometheus export all show 429s apart from errors, and the knee finder reads the
429 ratio from the stats history. Time to first token and tokens/s are their own entries
(request types :data:`TTFT` and :data:`TOKENS_PER_S`), never counted as requests.
"""

from __future__ import annotations

import re
from typing import Any

OUTCOMES = ("ok", "rate_limited", "server_error", "client_error", "timeout", "connection_error")
RATE_LIMITED_SUFFIX = " [429]"
TTFT = "TTFT"                # response_time = time to first token (ms), response_length = 0
TOKENS_PER_S = "TOKENS/S"    # response_time = output tokens per second, response_length = output tokens
NON_HTTP_TYPES = frozenset({TTFT, TOKENS_PER_S})

_STATUS = re.compile(r"\b([1-5]\d\d)\b")


def outcome_of_status(status: int) -> str:
    """The outcome label of an HTTP status (0: no answer, a connection error)."""
    if 200 <= status < 400:
        return "ok"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"  # 503 overloaded and Anthropic's 529 included
    if status >= 400:
        return "client_error"
    return "connection_error"


def outcome_of_error(error: Any) -> str:
    """The outcome label of a Locust failure (its message or exception, as stats.errors holds it)."""
    text = str(error)
    for outcome in OUTCOMES[1:]:
        if outcome + ":" in text:
            return outcome
    low = text.lower()
    if "timeout" in low or "timed out" in low:
        return "timeout"
    m = _STATUS.search(text)
    if m and ("http" in low or "status" in low):
        return outcome_of_status(int(m.group(1)))
    return "connection_error"


def failure_message(outcome: str, status: int, detail: str = "") -> str:
    """``"rate_limited: HTTP 429"``, ``"server_error: HTTP 503 overloaded"``, ..."""
    text = f"{outcome}: HTTP {status}" if status else f"{outcome}"
    return f"{text} {detail}".strip()


def is_rate_limited_name(name: str) -> bool:
    return name.endswith(RATE_LIMITED_SUFFIX)


def endpoint_of(name: str) -> str:
    """The endpoint label of a stats entry name (``"chat [429]"`` -> ``"chat"``)."""
    return name[: -len(RATE_LIMITED_SUFFIX)] if is_rate_limited_name(name) else name


def check(response: Any, endpoint: str) -> str:
    """Mark a ``catch_response=True`` response by outcome and return the outcome.

    A 429 is renamed to ``"<endpoint> [429]"`` and failed as ``rate_limited``; other non-2xx
    answers and transport errors fail with their outcome as the message's first word.
    """
    status = int(getattr(response, "status_code", 0) or 0)
    error = getattr(response, "error", None)
    if status == 0 or (error is not None and status < 200):
        outcome = "timeout" if error is not None and "timeout" in repr(error).lower() else "connection_error"
        response.failure(f"{outcome}: {type(error).__name__ if error is not None else 'no response'}")
        return outcome
    outcome = outcome_of_status(status)
    if outcome == "ok":
        response.success()
        return outcome
    if outcome == "rate_limited":
        response.request_meta["name"] = endpoint + RATE_LIMITED_SUFFIX
    response.failure(failure_message(outcome, status, _reason(response)))
    return outcome


def _reason(response: Any) -> str:
    """A short, bounded hint from the error body (its ``type``/``code``), never the whole body."""
    try:
        body = response.json()
    except Exception:  # noqa: BLE001 - not JSON, or cut off
        return ""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        kind = err.get("type") or err.get("code")
        return str(kind)[:40] if kind else ""
    errs = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errs, list) and errs and isinstance(errs[0], dict):
        return str(errs[0].get("code", ""))[:40]
    return ""
