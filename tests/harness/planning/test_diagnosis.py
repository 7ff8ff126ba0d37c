"""Issue 14.19: a sweep point off the model by more than the bar says what the run suggests."""

from __future__ import annotations

from harness.planning.diagnosis import explain
from harness.planning.results import Measured, Prediction, SweepPoint


def _point(err: float, summary: dict, workers: int = 10) -> SweepPoint:
    pred = Prediction(workers, 1000, 100.0, 10.0, "workers", 1.0, 10.0, 12.0, float(workers), 1e4, 1e5, "none", 0.0)
    return SweepPoint(workers, pred, Measured(200, 5.0, 100.0 * (1 + err), 10.0 / (1 + err), summary))


def _summary(**kw) -> dict:
    base = {"requests": 1000, "requests_by_outcome": {"ok": 1000}, "retries_by_reason": {},
            "latency_real_seconds": {"p50": 1.0}, "peak_in_flight": 10, "items_failed": 0}
    return {**base, **kw}


def test_within_the_bar_says_nothing() -> None:
    assert explain(_point(0.05, _summary())) is None


def test_rate_limited_point_names_the_429s_and_retries() -> None:
    text = explain(_point(0.27, _summary(requests_by_outcome={"ok": 1000, "rate_limited": 120},
                                         retries_by_reason={"rate_limited": 120}, requests=1120)))
    assert text is not None and "27% slower than the model" in text
    assert "120 of 1120 requests got 429" in text and "rate limit binds harder than the model's 'workers'" in text
    assert "retries rate_limited 120" in text


def test_queueing_and_idle_workers_are_named() -> None:
    text = explain(_point(0.4, _summary(latency_real_seconds={"p50": 1.5}, peak_in_flight=4)))
    assert "queueing: requests took 1.50 s at p50 against the model's 1.00 s" in text
    assert "at most 4 of 10 workers had a request in flight" in text


def test_no_sign_points_at_the_sample() -> None:
    text = explain(_point(-0.2, _summary()))
    assert "20% faster" in text and "sample may be too small" in text
