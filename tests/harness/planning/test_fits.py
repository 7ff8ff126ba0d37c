"""The fits behind calibration, on synthetic samples drawn from known distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.planning.calibrate import CallFigures, SlotCalibration, apply_slot, fit_slot
from harness.planning.fits import Z99, fit_llm_latency, fit_lognormal, fit_share, fit_token_counts


def _lognormal(rng, median, p99, n):
    return median * np.exp(math.log(p99 / median) / Z99 * rng.standard_normal(n))


def test_lognormal_recovers_median_and_p99_with_honest_intervals():
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(40):
        fit = fit_lognormal(_lognormal(rng, 2.7, 6.5, 1000))
        assert fit.median.value == pytest.approx(2.7, rel=0.06) and fit.p99.value == pytest.approx(6.5, rel=0.12)
        hits += fit.median.low <= 2.7 <= fit.median.high
    assert hits >= 34  # a 95% interval covers the truth ~38 times in 40


def test_small_samples_are_flagged():
    rng = np.random.default_rng(4)
    fit = fit_lognormal(_lognormal(rng, 1.0, 3.0, 50))
    assert fit.p99.warning and "p99 from 50 calls" in fit.p99.warning
    with pytest.raises(ValueError):
        fit_lognormal([1.0])


def test_llm_pace_and_ttft_from_latency_against_output_tokens():
    rng = np.random.default_rng(5)
    n = np.maximum(1, np.round(_lognormal(rng, 200, 800, 500)))
    ttft = _lognormal(rng, 1.2, 5.0, 500)
    fit = fit_llm_latency(ttft + n / 75.0, n)
    assert fit.tokens_per_second.value == pytest.approx(75, rel=0.05)
    assert fit.tokens_per_second.low <= 75 <= fit.tokens_per_second.high * 1.02
    assert fit.ttft.median.value == pytest.approx(1.2, rel=0.08)
    with pytest.raises(ValueError, match="same output length"):
        fit_llm_latency(ttft[:50] + 1.0, np.full(50, 100.0))


def test_token_counts_cut_at_max_tokens_are_censored():
    rng = np.random.default_rng(6)
    raw = np.maximum(1, np.round(_lognormal(rng, 150, 800, 2000)))
    cut = np.minimum(raw, 200)
    fit = fit_token_counts(cut)
    assert fit.median.value == pytest.approx(150, rel=0.06)
    assert fit.p99.value == pytest.approx(800, rel=0.15)  # the uncut p99, though no call went past 200
    assert "stopped at 200" in (fit.p99.warning or "")


def test_share_interval():
    est = fit_share(3, 500, "429s")
    assert est.value == pytest.approx(0.006) and est.low < 0.006 < est.high < 0.02
    assert fit_share(0, 100, "429s").warning


def test_slot_fit_limits_resets_faults_and_profile_fields():
    fig = CallFigures("partner", "score", None, kind="rest", profile="partner", time_scale=0.1)
    rng = np.random.default_rng(7)
    for lat in _lognormal(rng, 2.0, 5.0, 400):
        fig.add(lat * 0.1, "200", 480, 30000)
    for _ in range(8):
        fig.add(0.01, "500", 480, 60, ok=False)
    fig.add(0.01, "429", 480, 60, ok=False)
    for i in range(40):  # limit 600/min; 60 used -> 6 s wall until full at 0.1 = a 60 s real period
        fig.headers.append((1e9, 200, {"x-ratelimit-limit": "600", "x-ratelimit-remaining": "540",
                                       "x-ratelimit-reset": "0.6"}))
    fig.headers.append((1e9, 429, {"x-ratelimit-limit": "600", "retry-after": "0.2"}))
    cal = fit_slot(fig)
    assert cal.limits == {"requests_per_minute": 600}
    assert cal.reset_periods["requests_per_minute"].value == pytest.approx(60.0, rel=0.01)
    assert cal.estimates["retry_after"].value == pytest.approx(2.0)
    assert cal.estimates["faults.error_500"].value == pytest.approx(8 / 409)
    assert cal.estimates["response_bytes"].value == 30000
    data = {"name": "partner", "kind": "rest", "latency": {"median": 9.0},
            "endpoints": [{"name": "score", "path": "/s", "response_bytes": 1}]}
    changed = apply_slot(data, cal, "score")
    assert data["latency"]["median"] == pytest.approx(2.0, rel=0.08)
    assert data["endpoints"][0]["response_bytes"] == 30000 and data["limits"]["requests_per_minute"] == 600
    assert "latency.median" in changed and "endpoints.score.response_bytes" in changed
    assert isinstance(cal, SlotCalibration)


def test_a_locust_knee_sets_the_partner_capacity(tmp_path):
    from harness.planning.calibrate import _apply_knee, Calibration
    from tests.locust.test_knee import history, write

    # 4 -> 10 users grow req/s, then 12 and 14 add nothing (capacity 10 in flight)
    csv = write(tmp_path / "h.csv", history([(4, 4, 900, 0, 0), (6, 6, 900, 0, 0), (8, 8, 900, 0, 0),
                                            (10, 10, 900, 0, 0), (12, 10, 1400, 0, 0), (14, 10, 1700, 0, 0)]))
    cal = Calibration([], {"cardgenius": {"name": "cardgenius", "kind": "rest", "capacity": {"max_in_flight": 40}}},
                      {"cardgenius": []}, [])
    _apply_knee(cal, csv, 1.0)
    assert cal.knee["users"] == 10 and cal.knee["rps"] == pytest.approx(10, rel=0.05)
    assert cal.profiles["cardgenius"]["capacity"]["max_in_flight"] == 10
    assert cal.changed["cardgenius"] == ["capacity.max_in_flight"]
