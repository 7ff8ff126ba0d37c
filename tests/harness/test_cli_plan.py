"""`harness plan` (the model's table), and a fast `harness sweep` that writes a report folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.planning.planner import CapacityModel
from harness.reporting.plots import png_size
from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SEED003 = ROOT / "scenarios" / "seeds" / "003-cardgenius.yaml"
runner = CliRunner()


def _row(out: str, workers: int) -> str:
    for line in out.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line)]
        if len(cells) > 2 and cells[1] == str(workers):
            return line
    raise AssertionError(f"no row for {workers} workers in:\n{out}")


def test_plan_seed003_matches_model():
    # wide enough for the table (narrower consoles get one block per row: tests/harness/reporting/test_console.py)
    res = runner.invoke(app, ["plan", str(SEED003), "--items", "200000", "--workers", "1,5,10,20,50"],
                        env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    out = res.output
    assert "time for 200,000" in out and "binding constraint" in out and "429 risk" in out
    model = CapacityModel(load_scenario(SEED003))
    expect = {1: ("0.37", "22.2", "6.25 days", "1.0x", "0%"), 5: ("1.85", "111", "30.0 h", "5.0x", "80%"),
              10: ("3.7", "222", "15.0 h", "10.0x", "90%"), 20: ("7.4", "444", "7.5 h", "20.0x", "95%"),
              50: ("14.8", "888", "3.8 h", "40.0x", "97%")}
    for w, cells in expect.items():
        row = _row(out, w)
        for c in cells:
            assert c in row, (w, c, row)
        p = model.predict(w, 200_000)
        assert f"{p.items_per_s * 60:.3g}".rstrip(".") in row.replace(",", "") or f"{p.items_per_s * 60:.0f}" in row
    assert "capacity 40" in _row(out, 50) and "queueing" in out  # the partner's 40 in flight binds at 50


def test_plan_json_and_what_if():
    base = runner.invoke(app, ["plan", str(SEED003), "--items", "1000", "--workers", "20", "--json"])
    fast = runner.invoke(app, ["plan", str(SEED003), "--items", "1000", "--workers", "20", "--json",
                               "--latency-factor", "0.5"])
    assert base.exit_code == 0 and fast.exit_code == 0, base.output + fast.output
    b, f = json.loads(base.output)["points"][0], json.loads(fast.output)["points"][0]
    assert f["items_per_s"] == pytest.approx(2 * b["items_per_s"], rel=0.01)
    limited = runner.invoke(app, ["plan", str(SEED003), "--items", "100000", "--workers", "20", "--json",
                                  "--set", "cardgenius.limits.requests_per_minute=120"])
    assert limited.exit_code == 0, limited.output
    p = json.loads(limited.output)["points"][0]
    # the runner learns the 120/min from the headers and paces at 95% of it: no 429s
    assert p["items_per_s"] == pytest.approx(0.95 * 2.0, rel=0.01)
    assert "requests/min (learnt from headers)" in p["binding"] and p["risk"] == "none"
    half = runner.invoke(app, ["plan", str(SEED003), "--items", "100000", "--workers", "20", "--json",
                               "--set", "cardgenius.limits.requests_per_minute=120", "--limit-factor", "0.5"])
    assert json.loads(half.output)["points"][0]["items_per_s"] == pytest.approx(0.95 * 1.0, rel=0.01)


def test_plan_usage_errors():
    assert runner.invoke(app, ["plan", str(SEED003), "--workers", "a,b"]).exit_code == 2
    assert runner.invoke(app, ["plan", str(SEED003), "--set", "nonsense"]).exit_code == 2
    assert runner.invoke(app, ["plan", "no-such-file.yaml"]).exit_code == 2


def test_sweep_writes_report(tmp_path):
    out = tmp_path / "rep"
    res = runner.invoke(app, ["sweep", str(ROOT / "scenarios" / "examples" / "cardgenius-users.yaml"),
                              "--workers", "1,4", "--items", "500", "--sample", "12", "--time-scale", "0.02",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    names = {p.name for p in out.iterdir()}
    assert names == {"report.md", "report.json", "report.html", "time.png", "time.svg", "throughput.png", "throughput.svg",
                     "latency.png", "latency.svg"}
    doc = json.loads((out / "report.json").read_text())
    assert [p["workers"] for p in doc["points"]] == [1, 4]
    assert all(p["measured"]["sample_items"] == 12 for p in doc["points"])
    assert all(p["measured"]["latency_real_seconds"]["p50"] > 0 for p in doc["points"])
    assert "measured time" in (out / "report.md").read_text()
    assert png_size(out / "time.png")[0] > 0
    assert "measured p99" in (out / "latency.svg").read_text()
    assert "measured time" in res.output and "error" in res.output
