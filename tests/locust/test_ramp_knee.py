"""Done-when 1: a step ramp of real headless Locust runs finds the knee of a mock within 10%.

CardGenius with a known capacity (10 in flight at a mean latency of E[lognormal(2.7 s, p99
6.5 s)] = 2.90 s: 3.45 req/s) and OpenAI with a known RPM (3 per scaled minute at time scale
0.001: 50 req/s wall). Time compression keeps each ramp under 30 s.
"""

from __future__ import annotations

import math

import pytest

from harness.planning.knee import KneeConfig, knee_from_csv

from .runlocust import run_locust


def lognormal_mean(median: float, p99: float) -> float:
    sigma = math.log(p99 / median) / 2.3263478740408408
    return median * math.exp(sigma ** 2 / 2)


def test_cardgenius_capacity_knee(mock_server, tmp_path):
    scale, in_flight = 0.02, 10
    capacity = in_flight / lognormal_mean(2.7, 6.5)  # real req/s; the profile's latency
    mock = mock_server(["cardgenius"], time_scale=scale, seed=1,
                       sets=[f"cardgenius.capacity.max_in_flight={in_flight}"])
    run_locust("cardgenius.py", mock.url("cardgenius"), "--shape", "step", "--users-start", "4", "--users-step", "2",
               "-u", "14", "-r", "100", "--step-time", "3", "-t", "30", "--stop-timeout", "2",
               "--csv", str(tmp_path / "cg"), "--csv-full-history", timeout=60)
    report = knee_from_csv(tmp_path / "cg_stats_history.csv", KneeConfig(time_scale=scale, slo_p95=10.0))
    print(f"\nCardGenius knee {report.sustainable_rps:.3f} req/s at {report.users} users vs capacity "
          f"{capacity:.3f} ({report.sustainable_rps / capacity - 1:+.1%})")
    assert report.users == in_flight
    assert report.sustainable_rps == pytest.approx(capacity, rel=0.10)
    assert report.broke is not None and report.broke.verdict == "plateau"


def test_openai_rpm_knee(mock_server, tmp_path):
    scale, rpm = 0.001, 3
    limit = rpm / (60 * scale)  # 50 req/s wall
    mock = mock_server(["openai"], time_scale=scale, seed=1,
                       sets=[f"openai.limits.requests_per_minute={rpm}", "openai.limits.tokens_per_minute=100000000"])
    run_locust("openai.py", mock.url("openai"), "--shape", "step", "--users-start", "38", "--users-step", "3",
               "-u", "56", "-r", "200", "--pacing", "1", "--step-time", "3", "-t", "30", "--max-tokens", "16",
               "--stop-timeout", "2", "--csv", str(tmp_path / "oa"), "--csv-full-history", timeout=60)
    report = knee_from_csv(tmp_path / "oa_stats_history.csv", KneeConfig(time_scale=scale, max_error_ratio=0.01))
    per_minute = report.sustainable_rps * 60  # real time: requests per (profile) minute
    print(f"\nOpenAI knee {report.knee.rps:.1f} req/s wall = {per_minute:.2f}/min at {report.users} users vs RPM {rpm} "
          f"({per_minute / rpm - 1:+.1%})")
    assert per_minute == pytest.approx(rpm, rel=0.10)
    assert report.knee.rps == pytest.approx(limit, rel=0.10)
    assert report.broke is not None and "429s" in report.broke.verdict
