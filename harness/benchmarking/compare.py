"""The figure-based regression gate for pytest-benchmark results.

A benchmark records the figures it judges in ``extra_info["figures"]``::

    {"name": {"value": 12345.0, "unit": "req/s", "better": "higher", "tolerance": 0.10}}

``tolerance`` is the relative regression allowed against the baseline's value; an optional
``slack`` (in the figure's unit) also allows that much absolute change, for figures that sit
near zero (a p99 error of 0.1% becoming 0.3% is noise, not a 200% regression). ``value: null``
means the benchmark could not measure (a machine too busy): that is a failure, never a pass.
``gate: "report"`` marks a figure that is printed, and its regression listed, without failing the
gate: a figure in the machine's own units (req/s, CPU us) swings with the VM's hour as much as
with the code, so a gate on it fails on noise; the ratios measured beside it in the same run
are what block.

pytest-benchmark's own ``--benchmark-compare-fail`` only compares round times, which several
benchmarks fix by design (a 5 s latency, a paced stream), so the gate compares the figures.

    python -m harness.benchmarking.compare BASELINE.json CURRENT.json

prints every figure beside its baseline and exits 1 naming each regression (2 on unreadable input).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

Better = Literal["higher", "lower"]
Gate = Literal["block", "report"]
DEFAULT_TOLERANCE = 0.10


class FigureError(ValueError):
    """A results file or a recorded figure that does not follow the contract."""


@dataclass(frozen=True)
class Figure:
    """One judged number of one benchmark."""

    value: float | None
    unit: str
    better: Better
    tolerance: float = DEFAULT_TOLERANCE
    slack: float = 0.0
    gate: Gate = "block"

    @classmethod
    def parse(cls, where: str, raw: Any) -> "Figure":
        if not isinstance(raw, Mapping):
            raise FigureError(f"{where}: a figure is a mapping with value, unit, better, tolerance; got {raw!r}")
        better = raw.get("better")
        if better not in ("higher", "lower"):
            raise FigureError(f"{where}: 'better' must be 'higher' or 'lower', got {better!r}")
        value = raw.get("value")
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise FigureError(f"{where}: 'value' must be a number or null, got {value!r}")
        tolerance = raw.get("tolerance", DEFAULT_TOLERANCE)
        slack = raw.get("slack", 0.0)
        for key, v in (("tolerance", tolerance), ("slack", slack)):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise FigureError(f"{where}: '{key}' must be a number >= 0, got {v!r}")
        gate = raw.get("gate", "block")
        if gate not in ("block", "report"):
            raise FigureError(f"{where}: 'gate' must be 'block' or 'report', got {gate!r}")
        measured = None if value is None or math.isnan(value) else float(value)
        return cls(measured, str(raw.get("unit", "")), better, float(tolerance), float(slack), gate)

    def limit(self) -> float:
        """The worst value still accepted when this figure is the baseline."""
        assert self.value is not None
        allowed = max(abs(self.value) * self.tolerance, self.slack)
        return self.value - allowed if self.better == "higher" else self.value + allowed

    def accepts(self, value: float) -> bool:
        return value >= self.limit() if self.better == "higher" else value <= self.limit()


def figure(value: float | None, unit: str, better: Better, tolerance: float = DEFAULT_TOLERANCE,
           slack: float = 0.0, gate: Gate = "block") -> dict[str, Any]:
    """A figure as a benchmark stores it in ``extra_info["figures"][name]`` (validated here, so a
    typo fails in the benchmark that made it, not later in the gate)."""
    raw: dict[str, Any] = {"value": value, "unit": unit, "better": better, "tolerance": tolerance}
    if slack:
        raw["slack"] = slack
    if gate != "block":
        raw["gate"] = gate
    Figure.parse("figure", raw)
    return raw


@dataclass(frozen=True)
class Regression:
    """A figure the current run fails against the baseline; ``reason`` says how."""

    benchmark: str
    figure: str
    reason: Literal["regressed", "not measured", "missing"]
    baseline: Figure
    current: float | None = None

    @property
    def blocking(self) -> bool:
        return self.baseline.gate == "block"

    def __str__(self) -> str:
        b = self.baseline
        head = f"{self.benchmark}: {self.figure}"
        if self.reason == "missing":
            return f"{head}: not recorded by the current run (baseline {b.value:g} {b.unit})"
        if self.reason == "not measured":
            return f"{head}: not measured in the current run (baseline {b.value:g} {b.unit})"
        assert self.current is not None and b.value is not None
        change = (self.current - b.value) / abs(b.value) if b.value else math.inf
        return (f"{head}: {self.current:g} {b.unit} vs baseline {b.value:g} ({change:+.1%}; "
                f"{b.better} is better, worst accepted {b.limit():g})")


Results = Mapping[str, Any] | str | Path


def _load(results: Results) -> Mapping[str, Any]:
    if isinstance(results, (str, Path)):
        try:
            data = json.loads(Path(results).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise FigureError(f"{results}: cannot read a pytest-benchmark JSON file: {e}") from e
        return data
    return results


def load_figures(results: Results) -> dict[str, dict[str, Figure]]:
    """``{benchmark fullname: {figure name: Figure}}`` from a pytest-benchmark JSON file or dict.
    A benchmark without figures maps to ``{}`` (it ran, but records nothing to judge)."""
    data = _load(results)
    benchmarks = data.get("benchmarks") if isinstance(data, Mapping) else None
    if not isinstance(benchmarks, list):
        raise FigureError("not a pytest-benchmark results file (no 'benchmarks' list)")
    out: dict[str, dict[str, Figure]] = {}
    for bench in benchmarks:
        name = bench.get("fullname") or bench.get("name")
        raw = (bench.get("extra_info") or {}).get("figures") or {}
        out[name] = {fig: Figure.parse(f"{name}: {fig}", v) for fig, v in raw.items()}
    return out


def compare(baseline_json: Results, current_json: Results) -> list[Regression]:
    """Every baseline figure the current run regresses, fails to measure, or no longer records
    (the ``gate: "report"`` ones too: see :attr:`Regression.blocking`).

    Benchmarks the current run did not run are left out (``BENCH_FILES`` picks a subset);
    tolerances, directions and gates are the baseline's, the contract the figures were accepted under.
    """
    baseline, current = load_figures(baseline_json), load_figures(current_json)
    regressions: list[Regression] = []
    for bench, figures in baseline.items():
        if bench not in current:
            continue
        for name, base in figures.items():
            if base.value is None:
                continue  # the baseline itself was not measured: nothing to compare against
            now = current[bench].get(name)
            if now is None:
                regressions.append(Regression(bench, name, "missing", base))
            elif now.value is None:
                regressions.append(Regression(bench, name, "not measured", base))
            elif not base.accepts(now.value):
                regressions.append(Regression(bench, name, "regressed", base, now.value))
    return regressions


def compared_figures(baseline_json: Results, current_json: Results) -> list[tuple[str, str, Figure, Figure | None]]:
    """(benchmark, figure, baseline, current) for every figure both sides know of, for the report."""
    baseline, current = load_figures(baseline_json), load_figures(current_json)
    return [(bench, name, base, current[bench].get(name))
            for bench, figures in baseline.items() if bench in current
            for name, base in figures.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.benchmarking.compare",
        description="Compare the figures of a pytest-benchmark run with a baseline; exit 1 on a regression.")
    parser.add_argument("baseline", type=Path, help="the baseline results (pytest-benchmark JSON)")
    parser.add_argument("current", type=Path, help="the current run's results (pytest-benchmark --benchmark-json)")
    args = parser.parse_args(argv)
    try:
        rows = compared_figures(args.baseline, args.current)
        regressions = compare(args.baseline, args.current)
    except FigureError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not rows:
        print(f"error: no benchmark of {args.current} has figures in {args.baseline}: nothing was compared "
              "(run the benchmarks, or refresh the baseline with make bench-save)", file=sys.stderr)
        return 2
    failed = {(r.benchmark, r.figure) for r in regressions}
    for bench, name, base, now in rows:
        status = ("FAIL" if base.gate == "block" else "WARN") if (bench, name) in failed else "ok"
        shown = "-" if now is None or now.value is None else f"{now.value:g}"
        base_shown = "-" if base.value is None else f"{base.value:g}"
        print(f"{status:4} {bench.rsplit('::', 1)[-1]}: {name} = {shown} {base.unit} (baseline {base_shown}, "
              f"{base.better} is better, tolerance {base.tolerance:.0%}"
              f"{', reported only' if base.gate == 'report' else ''})")
    reported = [r for r in regressions if not r.blocking]
    blocking = [r for r in regressions if r.blocking]
    if reported:
        print(f"\n{len(reported)} reported figure(s) regressed (in machine units; not failing the gate):")
        for r in reported:
            print(f"  {r}")
    if blocking:
        print(f"\n{len(blocking)} figure(s) regressed:", file=sys.stderr)
        for r in blocking:
            print(f"  {r}", file=sys.stderr)
        return 1
    print(f"\nno blocking regression in {len(rows)} figure(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
