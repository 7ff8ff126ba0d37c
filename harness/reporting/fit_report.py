"""The fit report of ``harness calibrate``: every fitted figure with its sample size, 95%
interval and warning, as Markdown (for people) and JSON (for tools)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from harness.format import fmt_figure
from harness.planning.calibrate import Calibration

_ORDER = ("latency.median", "latency.p99", "latency.ttft", "latency.ttft_p99", "latency.tokens_per_second",
          "output_tokens.median", "output_tokens.p99", "input_tokens", "request_bytes", "response_bytes",
          "rate_limited", "retry_after")


def _fmt(v: float, unit: str) -> str:
    return f"{v:.2%}" if unit == "share" else fmt_figure(v)


def rows(cal: Calibration) -> list[dict[str, Any]]:
    """One row per fitted figure: slot, figure, value, interval, n, unit, warning."""
    out = []
    for slot in cal.slots:
        keys = [k for k in _ORDER if k in slot.estimates] + sorted(k for k in slot.estimates if k not in _ORDER)
        for key in keys:
            e = slot.estimates[key]
            out.append({"slot": slot.label, "figure": key, "value": _fmt(e.value, e.unit),
                        "interval": f"{_fmt(e.low, e.unit)} - {_fmt(e.high, e.unit)}", "n": e.n,
                        "unit": "" if e.unit == "share" else e.unit, "warning": e.warning or ""})
        for dim, value in slot.limits.items():
            period = slot.reset_periods.get(dim)
            out.append({"slot": slot.label, "figure": f"limits.{dim}", "value": f"{value:g}",
                        "interval": "stated by the headers", "n": slot.calls,
                        "unit": "per second" if dim == "rate" else "per minute", "warning": ""})
            if period is not None:
                out.append({"slot": slot.label, "figure": f"reset period of {dim}", "value": _fmt(period.value, "s"),
                            "interval": f"{_fmt(period.low, 's')} - {_fmt(period.high, 's')} (10-90%)",
                            "n": period.n, "unit": "s", "warning": period.warning or ""})
    return out


def to_markdown(cal: Calibration, profile_paths: dict[str, Path]) -> str:
    lines = ["# Calibration", "", f"From: {', '.join(cal.sources)}"]
    if cal.scenario:
        lines.append(f"Scenario: {cal.scenario}")
    lines += ["", "Profiles written (fields replaced by what was measured):", ""]
    for name, path in profile_paths.items():
        fields = ", ".join(dict.fromkeys(cal.changed.get(name, []))) or "none"
        lines.append(f"- `{path}`: {fields}")
    if cal.knee:
        lines += ["", f"Knee: {cal.knee['rps']:.3g} req/s at {cal.knee['users']} users ({cal.knee['csv']})"]
    lines += ["", "| call | figure | value | 95% interval | n | unit | warning |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows(cal):
        lines.append(f"| {r['slot']} | {r['figure']} | {r['value']} | {r['interval']} | {r['n']} | {r['unit']} | "
                     f"{r['warning']} |")
    warnings = list(dict.fromkeys(cal.warnings + [w for s in cal.slots for w in s.warnings]))
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in warnings]
    counts = [f"- {s.label}: {s.calls} calls, {s.ok} ok; by status "
              + ", ".join(f"{k}: {v}" for k, v in sorted(s.statuses.items())) for s in cal.slots]
    lines += ["", "## Calls", ""] + counts
    return "\n".join(lines) + "\n"


def write_calibration(cal: Calibration, out: Path) -> dict[str, Path]:
    """The profile(s) and the fit report. ``out`` is a YAML file when the runs used one profile,
    else a folder that gets ``<profile>.yaml`` each; the report goes beside them."""
    out = Path(out)
    many = len(cal.profiles) > 1
    if many and out.suffix in (".yaml", ".yml"):
        raise ValueError(f"--out {out}: the runs used {len(cal.profiles)} profiles "
                         f"({', '.join(cal.profiles)}); give a folder to write one YAML each")
    paths: dict[str, Path] = {}
    if many or out.suffix not in (".yaml", ".yml"):
        out.mkdir(parents=True, exist_ok=True)
        for name in cal.profiles:
            paths[name] = out / f"{name}.yaml"
        stem = out / "calibration"
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        paths[next(iter(cal.profiles))] = out
        stem = out.with_suffix("")
    for name, data in cal.profiles.items():
        head = (f"# Calibrated by `harness calibrate` from {', '.join(cal.sources)}\n"
                f"# fitted: {', '.join(dict.fromkeys(cal.changed.get(name, []))) or 'nothing'}\n")
        paths[name].write_text(head + yaml.safe_dump(data, sort_keys=False, width=120))
    report_md = stem.with_name(stem.name + ".fit.md")
    report_json = stem.with_name(stem.name + ".fit.json")
    report_md.write_text(to_markdown(cal, paths))
    report_json.write_bytes(orjson.dumps({**cal.as_dict(), "profiles": {k: str(v) for k, v in paths.items()}},
                                         option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return {**{f"profile:{k}": v for k, v in paths.items()}, "report": report_md, "json": report_json}
