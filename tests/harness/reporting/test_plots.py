"""Plots (harness/plots.py): non-empty PNG and SVG of the expected size, legible text."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.planning.results import Constraint, Prediction
from harness.reporting.plots import DPI, FIG_SIZE, plot_all, png_size
from harness.planning.results import Measured, SweepPoint, SweepResult


def _pred(w: int, rate: float, limit: float | None) -> Prediction:
    x = min(w / 2.7, limit or 1e9)
    cons = [Constraint("partner requests/min (server)", limit, 0.0, True, "600/min / 1 per item")] if limit else []
    binding = f"concurrency ({w} workers / 2.70s per item)" if x < (limit or 1e9) else cons[0].name
    return Prediction(w, 1000, 1000 / x, x, binding, 2.7, x, x, min(w, x * 2.7), x * 4000, x * 280000, "none",
                      0.0, cons)


def _result() -> SweepResult:
    r = SweepResult("demo-scenario", 1000, 0.05, sequential=_pred(1, 1, 10.0))
    claims = {1: {"duration_s": [2500, 2800]}, 20: {"duration_s": 100, "throughput_per_min": [400, 800]}}
    for w in (1, 5, 20, 50):
        p = _pred(w, 1, 10.0)
        m = Measured(50, 5.0, p.duration_s * 1.03, p.items_per_s / 1.03,
                     {"latency_real_seconds": {"p50": 2.5 + w / 100, "p95": 4.9, "p99": 6.4}})
        r.points.append(SweepPoint(w, p, m, claims.get(w)))
    return r


@pytest.fixture(scope="module")
def plots(tmp_path_factory):
    out = tmp_path_factory.mktemp("plots")
    return plot_all(_result(), out)


def test_all_files(plots):
    assert set(plots) == {f"{n}.{e}" for n in ("time", "throughput", "latency") for e in ("png", "svg")}
    for path in plots.values():
        assert Path(path).stat().st_size > 5000


def test_png_size(plots):
    for name, path in plots.items():
        if name.endswith(".png"):
            assert png_size(path) == (int(FIG_SIZE[0] * DPI), int(FIG_SIZE[1] * DPI))


def test_svg_text(plots):
    time_svg = plots["time.svg"].read_text()
    assert "demo-scenario: time for 1,000 items vs workers" in time_svg
    assert "workers (requests in flight at most)" in time_svg
    assert "time for 1,000 items (minutes)" in time_svg
    assert "claimed by the document" in time_svg and "measured on the mock" in time_svg
    thr = plots["throughput.svg"].read_text()
    assert "throughput (items per second, real time)" in thr
    assert "limit: partner requests/min (server)" in thr  # the legend's limit line
    assert "limit 10 items/s: partner requests/min (server)" in thr  # the label on the line
    lat = plots["latency.svg"].read_text()
    for s in ("measured p50", "measured p95", "measured p99", "request latency (seconds, real time)"):
        assert s in lat


def test_png_size_rejects_other_files(tmp_path):
    f = tmp_path / "x.png"
    f.write_bytes(b"not a png at all, really")
    with pytest.raises(ValueError):
        png_size(f)
