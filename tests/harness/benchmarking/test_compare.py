"""The figure comparator (harness.benchmarking.compare), on hand-made and doctored results."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.benchmarking.compare import Figure, FigureError, compare, figure, load_figures, main

BASELINE = Path(__file__).resolve().parents[2] / "benchmarks" / "baseline" / "baseline.json"


def results(**benches: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"benchmarks": [{"name": n, "fullname": f"tests/benchmarks/t.py::{n}", "extra_info": {"figures": f}}
                           for n, f in benches.items()]}


RPS = figure(10_000.0, "req/s", "higher", 0.10)
RSS = figure(70.0, "MB", "lower", 0.20)
P99 = figure(0.1, "%", "lower", 0.10, slack=2.0)


def base() -> dict[str, Any]:
    return results(test_rps={"rps": RPS}, test_mem={"peak_rss": RSS, "p99_error": P99})


def with_value(data: dict[str, Any], bench: str, fig: str, value: float | None) -> dict[str, Any]:
    doctored = copy.deepcopy(data)
    for b in doctored["benchmarks"]:
        if b["name"] == bench:
            b["extra_info"]["figures"][fig]["value"] = value
    return doctored


def names(regressions) -> list[tuple[str, str, str]]:
    return [(r.benchmark.rsplit("::", 1)[-1], r.figure, r.reason) for r in regressions]


def test_identical_results_pass():
    assert compare(base(), base()) == []


@pytest.mark.parametrize("value, regressed", [(9_000.0, False), (8_999.0, True), (20_000.0, False)])
def test_higher_is_better_fails_below_the_tolerance_exactly(value, regressed):
    got = compare(base(), with_value(base(), "test_rps", "rps", value))
    assert names(got) == ([("test_rps", "rps", "regressed")] if regressed else [])


@pytest.mark.parametrize("value, regressed", [(84.0, False), (84.5, True), (10.0, False)])
def test_lower_is_better_fails_above_the_tolerance_exactly(value, regressed):
    got = compare(base(), with_value(base(), "test_mem", "peak_rss", value))
    assert names(got) == ([("test_mem", "peak_rss", "regressed")] if regressed else [])


def test_slack_allows_absolute_noise_near_zero_but_not_a_real_regression():
    assert compare(base(), with_value(base(), "test_mem", "p99_error", 2.1)) == []
    got = compare(base(), with_value(base(), "test_mem", "p99_error", 4.9))
    assert names(got) == [("test_mem", "p99_error", "regressed")]
    assert "4.9 % vs baseline 0.1" in str(got[0]) and "worst accepted 2.1" in str(got[0])


def test_not_measured_is_a_failure_not_a_pass():
    got = compare(base(), with_value(base(), "test_rps", "rps", None))
    assert names(got) == [("test_rps", "rps", "not measured")]
    assert "not measured" in str(got[0])


def test_a_figure_the_current_run_no_longer_records_fails():
    current = base()
    del current["benchmarks"][1]["extra_info"]["figures"]["peak_rss"]
    assert names(compare(base(), current)) == [("test_mem", "peak_rss", "missing")]


def test_benchmarks_not_run_are_left_out_and_new_ones_are_ignored():
    current = results(test_rps={"rps": RPS}, test_new={"x": RPS})
    assert compare(base(), current) == []


def test_the_baselines_tolerance_and_direction_rule():
    current = results(test_rps={"rps": figure(5_000.0, "req/s", "lower", 0.9)},
                      test_mem={"peak_rss": RSS, "p99_error": P99})
    assert names(compare(base(), current)) == [("test_rps", "rps", "regressed")]


def test_several_regressions_are_all_named():
    current = with_value(with_value(base(), "test_rps", "rps", 1.0), "test_mem", "peak_rss", 250.0)
    assert sorted(names(compare(base(), current))) == [("test_mem", "peak_rss", "regressed"),
                                                       ("test_rps", "rps", "regressed")]


@pytest.mark.parametrize("raw, message", [
    ({"value": 1, "unit": "x", "better": "up"}, "'better' must be 'higher' or 'lower'"),
    ({"value": "fast", "unit": "x", "better": "higher"}, "'value' must be a number or null"),
    ({"value": 1, "unit": "x", "better": "higher", "tolerance": -0.1}, "'tolerance' must be a number >= 0"),
    (3.0, "a figure is a mapping"),
])
def test_malformed_figures_are_refused_naming_the_figure(raw, message):
    with pytest.raises(FigureError, match=message) as e:
        load_figures(results(test_rps={"rps": raw}))
    assert "test_rps: rps" in str(e.value)


def test_figure_helper_validates_and_round_trips():
    assert Figure.parse("f", figure(1.5, "s", "lower", 0.05)) == Figure(1.5, "s", "lower", 0.05)
    with pytest.raises(FigureError):
        figure(1.0, "s", "sideways")  # type: ignore[arg-type]


def write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_cli_exits_1_naming_the_regressed_figure(tmp_path, capsys):
    b = write(tmp_path, "b.json", base())
    c = write(tmp_path, "c.json", with_value(base(), "test_mem", "peak_rss", 250.0))
    assert main([str(b), str(c)]) == 1
    out, err = capsys.readouterr()
    assert "FAIL test_mem: peak_rss = 250 MB (baseline 70" in out
    assert "test_mem: peak_rss: 250 MB vs baseline 70 (+257.1%" in err
    assert main([str(b), str(b)]) == 0
    assert "no blocking regression in 3 figure(s)" in capsys.readouterr().out


def test_a_reported_figure_is_listed_but_does_not_fail_the_gate(tmp_path, capsys):
    """``gate: "report"`` (figures in the machine's own units): its regression is printed as WARN
    and listed, the exit status stays 0; a blocking regression beside it still fails."""
    reported = results(test_rps={"rps": figure(10_000.0, "req/s", "higher", 0.10, gate="report")},
                       test_mem={"peak_rss": RSS})
    b = write(tmp_path, "b.json", reported)
    slow = with_value(reported, "test_rps", "rps", 5_000.0)
    assert [r.blocking for r in compare(reported, slow)] == [False]
    assert main([str(b), str(write(tmp_path, "slow.json", slow))]) == 0
    out = capsys.readouterr().out
    assert "WARN test_rps: rps = 5000 req/s (baseline 10000, higher is better, tolerance 10%, reported only)" in out
    assert "1 reported figure(s) regressed" in out and "test_rps: rps: 5000 req/s vs baseline 10000" in out
    both = with_value(slow, "test_mem", "peak_rss", 250.0)
    assert main([str(b), str(write(tmp_path, "both.json", both))]) == 1
    assert "1 figure(s) regressed" in capsys.readouterr().err
    with pytest.raises(FigureError, match="'gate' must be 'block' or 'report'"):
        figure(1.0, "s", "lower", gate="maybe")  # type: ignore[arg-type]


def test_cli_exits_2_when_nothing_is_compared_or_the_file_is_unreadable(tmp_path, capsys):
    b = write(tmp_path, "b.json", base())
    other = write(tmp_path, "c.json", results(test_other={"x": RPS}))
    assert main([str(b), str(other)]) == 2
    assert "nothing was compared" in capsys.readouterr().err
    assert main([str(b), str(tmp_path / "absent.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_committed_baseline_records_figures_and_a_doctored_copy_fails_naming_it(tmp_path):
    """The gate as ``make bench-compare BASELINE=doctored.json`` runs it: the committed baseline
    against itself passes; a copy with one figure doctored well beyond its tolerance (50% plus
    twice the tolerance better) makes the same results fail, and the command line names exactly
    that figure."""
    data = json.loads(BASELINE.read_text())
    assert all(load_figures(data).values()), "every benchmark in the baseline records its figures"
    assert compare(data, data) == []
    index, bench = next((i, b) for i, b in enumerate(data["benchmarks"]) if "runner_throughput" in b["name"])
    name = next(n for n, f in bench["extra_info"]["figures"].items()
                if f["better"] == "higher" and f.get("gate", "block") == "block")
    doctored = copy.deepcopy(data)
    figure = doctored["benchmarks"][index]["extra_info"]["figures"][name]
    figure["value"] *= 1.5 + 2 * figure["tolerance"]
    proc = subprocess.run([sys.executable, "-m", "harness.benchmarking.compare",
                           str(write(tmp_path, "doctored.json", doctored)), str(write(tmp_path, "current.json", data))],
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{bench['fullname']}: {name}: " in proc.stderr and "1 figure(s) regressed" in proc.stderr
    assert [(r.benchmark, r.figure) for r in compare(doctored, data)] == [(bench["fullname"], name)]
