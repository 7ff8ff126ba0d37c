"""harness.planning.knee on synthetic Locust stats histories (no Locust run)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.planning.knee import KneeConfig, find_knee, knee_from_csv, read_history

PCTS = ["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"]
COLUMNS = ["Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s", *PCTS, "Total Request Count",
           "Total Failure Count", "Total Median Response Time", "Total Average Response Time",
           "Total Min Response Time", "Total Max Response Time", "Total Average Content Size"]


def _row(ts, users, typ, name, total, failures, p95_ms):
    row = dict.fromkeys(COLUMNS, "0")
    row.update({"Timestamp": str(ts), "User Count": str(users), "Type": typ, "Name": name,
                "Total Request Count": str(total), "Total Failure Count": str(failures)})
    for p in PCTS:
        row[p] = str(p95_ms) if total else "N/A"
    return row


def history(steps, ticks_per_step=4, endpoint="recommend", full=True, t0=1_700_000_000, extra_types=False):
    """steps: (users, req/s, p95 ms, 429/s, errors/s) per step; one tick a second."""
    rows, ok, limited, errors, tick = [], 0, 0, 0, 0
    for users, rps, p95, lim_rps, err_rps in steps:
        for _ in range(ticks_per_step):
            tick += 1
            ok += rps - lim_rps - err_rps
            limited += lim_rps
            errors += err_rps
            ts = t0 + tick
            entries = [_row(ts, users, "POST", endpoint, ok + errors, errors, p95)]
            if limited:
                entries.append(_row(ts, users, "POST", endpoint + " [429]", limited, limited, 2))
            if extra_types:  # streaming entries: never requests
                entries.append(_row(ts, users, "TTFT", endpoint, 10 ** 6, 0, 99_999))
                entries.append(_row(ts, users, "TOKENS/S", endpoint, 10 ** 6, 0, 99_999))
            total = sum(int(e["Total Request Count"]) for e in entries)
            if full:
                rows.extend(entries)
            rows.append(_row(ts, users, "", "Aggregated", total, errors + limited, p95))
    return rows


def write(path: Path, rows) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return path


def test_capacity_plateau_is_the_knee():
    # 10 users' worth of capacity at 17 req/s per user: throughput flat past 10 users
    steps = [(u, min(u, 10) * 17, 100 if u <= 10 else 100 * u // 10, 0, 0) for u in (4, 6, 8, 10, 12, 14)]
    report = find_knee(history(steps))
    assert report.users == 10
    assert report.sustainable_rps == pytest.approx(170, rel=0.01)
    assert report.broke.users == 12 and report.broke.verdict == "plateau"


def test_429_ratio_breaks_the_slo_and_stays_apart_from_errors():
    steps = [(40, 40, 5, 0, 0), (45, 45, 5, 0, 0), (50, 50, 5, 0, 0), (55, 55, 5, 5, 0)]
    report = find_knee(history(steps), KneeConfig(max_error_ratio=0.01))
    assert report.users == 50 and report.sustainable_rps == pytest.approx(50, rel=0.01)
    assert report.broke.verdict == "429s"
    assert report.broke.rate_limited_ratio == pytest.approx(5 / 55, rel=0.01)
    assert report.broke.error_ratio == 0


def test_errors_and_p95_break_the_slo():
    steps = [(2, 20, 100, 0, 0), (4, 40, 100, 0, 0), (6, 60, 100, 0, 3)]
    assert find_knee(history(steps)).broke.verdict == "errors"
    steps = [(2, 20, 100, 0, 0), (4, 40, 200, 0, 0), (6, 60, 900, 0, 0)]
    report = find_knee(history(steps), KneeConfig(slo_p95=0.5))
    assert report.users == 4 and report.broke.verdict == "p95"


def test_ttft_and_tokens_entries_are_not_requests():
    steps = [(2, 20, 100, 0, 0), (4, 40, 100, 0, 0)]
    report = find_knee(history(steps, extra_types=True))
    assert report.sustainable_rps == pytest.approx(40, rel=0.01)
    assert report.knee.p95 == pytest.approx(0.1)


def test_time_scale_reports_real_rates_and_judges_real_p95():
    steps = [(10, 50, 30, 0, 0), (20, 100, 30, 0, 0)]  # 30 ms at time scale 0.01 = 3 s real
    report = find_knee(history(steps), KneeConfig(time_scale=0.01, slo_p95=5.0))
    assert report.sustainable_rps == pytest.approx(1.0, rel=0.01)  # 100 req/s wall x 0.01
    assert report.to_dict()["sustainable_per_minute"] == pytest.approx(60, rel=0.01)
    assert find_knee(history(steps), KneeConfig(time_scale=0.01, slo_p95=2.0)).knee is None


def test_whole_second_stamps_are_fitted():
    # ticks every 1.3 s written with whole-second stamps: rates must still come out right
    rows = history([(5, 13, 10, 0, 0), (10, 26, 10, 0, 0)], ticks_per_step=6)
    aggregated = [r for r in rows if r["Name"] == "Aggregated"]
    stamps = {}
    for i, r in enumerate(aggregated):
        stamps[r["Timestamp"]] = str(1_700_000_000 + int(i * 1.3))
    for r in rows:
        r["Timestamp"] = stamps[r["Timestamp"]]
    report = find_knee(rows)
    assert report.sustainable_rps == pytest.approx(26 / 1.3, rel=0.03)


def test_without_full_history_says_so():
    report = find_knee(history([(2, 20, 100, 0, 0), (4, 40, 100, 0, 0)], full=False))
    assert report.users == 4
    assert any("--csv-full-history" in n for n in report.notes)


def test_cli(tmp_path):
    path = write(tmp_path / "run_stats_history.csv", history([(u, min(u, 10) * 17, 100, 0, 0) for u in (4, 8, 10, 12)]))
    assert len(read_history(path)) == 16 * 2
    result = CliRunner().invoke(app, ["knee", str(path), "--slo-p95", "1"])
    assert result.exit_code == 0, result.output
    assert "knee: 170.000 req/s" in result.output and "at 10 users" in result.output
    result = CliRunner().invoke(app, ["knee", str(path), "--json", "--time-scale", "0.5"])
    assert '"sustainable_rps": 85.0' in result.output
    bad = write(tmp_path / "bad_stats_history.csv", history([(4, 40, 100, 0, 40)]))
    assert CliRunner().invoke(app, ["knee", str(bad)]).exit_code == 1
    assert knee_from_csv(bad).knee is None
