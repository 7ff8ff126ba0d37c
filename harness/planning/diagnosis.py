"""Why a sweep point's measurement differs from the model: what the run itself suggests.

A number alone ("27% slower") sends a reader to the logs; the measured summary already says
whether the server refused requests (429s), requests were retried, requests queued (latency
above the model's) or fewer workers were busy than asked (a client-side limit held them).
"""

from __future__ import annotations

from typing import Any

from harness.planning.results import SweepPoint

__all__ = ["ACCURACY_BAR", "explain"]

ACCURACY_BAR = 0.10  # the design's bar: predicted vs measured duration within 10%


def explain(point: SweepPoint, bar: float = ACCURACY_BAR) -> str | None:
    """A sentence naming the constraint the measurement suggests, when it misses the model by
    more than ``bar``; None when within the bar or not measured."""
    err = point.error
    if err is None or abs(err) <= bar or point.measured is None:
        return None
    s: dict[str, Any] = point.measured.summary
    pred = point.predicted
    requests = int(s.get("requests") or 0)
    signs: list[str] = []
    limited = int((s.get("requests_by_outcome") or {}).get("rate_limited", 0))
    if limited:
        signs.append(f"{limited} of {requests} requests got 429 ({100 * limited / max(requests, 1):.1f}%): a rate "
                     f"limit binds harder than the model's {pred.binding!r}")
    retries = s.get("retries_by_reason") or {}
    if retries:
        signs.append("retries " + ", ".join(f"{k} {v}" for k, v in sorted(retries.items())))
    calls = max(1.0, pred.requests_per_s / pred.items_per_s) if pred.items_per_s > 0 else 1.0
    per_call = pred.item_time_s / calls
    p50 = float((s.get("latency_real_seconds") or {}).get("p50") or 0.0)
    if per_call > 0 and p50 > 1.2 * per_call:
        signs.append(f"queueing: requests took {p50:.2f} s at p50 against the model's {per_call:.2f} s")
    peak = int(s.get("peak_in_flight") or 0)
    if 0 < peak < 0.9 * point.workers:
        signs.append(f"at most {peak} of {point.workers} workers had a request in flight (a client-side limit "
                     "or the limiter's pacing held them)")
    failed = int(s.get("items_failed") or 0)
    if failed:
        signs.append(f"{failed} items failed")
    direction = "slower" if err > 0 else "faster"
    head = f"{point.workers} worker{'s' if point.workers != 1 else ''}: measured {100 * abs(err):.0f}% {direction} than the model"
    if not signs:
        return head + ("; no 429s, retries or queueing seen: the sample may be too small (a larger --sample or "
                       "--budget narrows it)")
    return head + "; the run suggests: " + "; ".join(signs)
