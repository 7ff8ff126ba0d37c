"""Plan against reality (``harness compare``): every figure of the load spec as the plan
predicted it and as a run measured it, with the error, and the profile fields the run
contradicts (the profile's value outside the measurement's 95% interval, widened by
``TOLERANCE`` for what a model may round)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mock_servers.rules import rules_for

from harness.format import fmt_figure
from harness.planning.calibrate import SlotCalibration, fit_slot, load_figures
from harness.reporting.loadspec import LoadSpec

TOLERANCE = 0.05
SHARES = ("error_rate", "rate_limited_rate", "item_failure_rate")
FIGURES = ("items_per_second", "duration_seconds", "requests_per_item", "sustained_rps", "peak_rps", "concurrency",
           "request_bytes", "response_bytes", "bandwidth_out_bps", "bandwidth_in_bps", "daily_requests",
           "daily_bytes", "total_requests", *SHARES, "latency_seconds.p50", "latency_seconds.p95", "latency_seconds.p99", "cost_total")


@dataclass
class FigureRow:
    figure: str
    predicted: float | None
    measured: float | None
    error: float | None          # (measured - predicted) / predicted; for shares: measured - predicted
    error_scale: str = "relative"  # relative | points (a share's difference)


@dataclass
class Contradiction:
    field: str
    profile: float
    measured: float
    low: float
    high: float
    n: int
    contradicted: bool

    @property
    def error(self) -> float:
        return self.measured / self.profile - 1 if self.profile else math.inf


@dataclass
class Comparison:
    plan_source: str
    run: str
    items: int
    workers: int
    rows: list[FigureRow] = field(default_factory=list)
    fields: list[Contradiction] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def contradicted(self) -> list[Contradiction]:
        return [f for f in self.fields if f.contradicted]

    def as_dict(self) -> dict[str, Any]:
        return {"plan": self.plan_source, "run": self.run, "items": self.items, "workers": self.workers,
                "figures": [asdict(r) for r in self.rows],
                "profile_fields": [{**asdict(f), "error": f.error} for f in self.fields],
                "contradicted": [f.field for f in self.contradicted], "notes": self.notes}


def _get(d: dict[str, Any], key: str) -> float | None:
    node: Any = d
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, (int, float)) and math.isfinite(float(node)) else None


def _plan_spec(plan: Path, run_spec: LoadSpec, run_scenario: str | None):
    """The load spec the plan predicts for the run's items and workers, and the scenario it used:
    ``plan`` is a scenario YAML, a profile YAML (the run's scenario on it) or a load_spec.json."""
    if plan.suffix == ".json":
        doc = json.loads(plan.read_text())
        if doc.get("source") != "plan":
            raise ValueError(f"{plan}: not a load spec from a plan (source {doc.get('source')!r})")
        return doc, None
    loaded = _plan_scenario(plan, run_scenario)
    spec = LoadSpec.from_plan(loaded, run_spec.items, run_spec.workers)
    return spec.to_dict(), loaded


def _plan_scenario(plan: Path, run_scenario: str | None):
    """The scenario a plan YAML stands for: itself, or (a profile) the run's scenario on it."""
    from harness.scenario import load_scenario, scenario_from_data

    import yaml

    data = yaml.safe_load(plan.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{plan}: not a scenario, profile or load_spec.json")
    if "kind" in data and "targets" not in data:  # a profile: the run's scenario on it
        if not run_scenario or not Path(run_scenario).exists():
            raise ValueError(f"{plan} is a profile, and the run's scenario ({run_scenario}) cannot be read to "
                             "plan with it; give the scenario instead")
        scen_path = Path(run_scenario)
        sdata = yaml.safe_load(scen_path.read_text())
        hit = False
        for spec in (sdata.get("targets") or {}).values():
            src = str(spec.get("profile", ""))
            if Path(src).stem == data.get("name") or src == data.get("name"):
                spec["profile"] = str(plan.resolve())
                hit = True
        if not hit:
            raise ValueError(f"profile {data.get('name')!r} is not used by the run's scenario {scen_path}")
        if sdata.get("mock"):
            sdata["mock"] = {k: v for k, v in sdata["mock"].items() if k.split(".", 1)[0] != data.get("name")}
        return scenario_from_data(sdata, scen_path)
    return load_scenario(plan)


def compare(plan: Path, checkpoint: Path) -> Comparison:
    from harness.reporting.loadspec import read_run_meta

    summary = json.loads(read_run_meta(checkpoint).get("summary") or "{}")
    if summary.get("mode") == "batch":
        return compare_batch(Path(plan), checkpoint, summary)
    run_spec = LoadSpec.from_run(checkpoint)
    book, scenario, _ = load_figures([checkpoint])
    predicted, loaded = _plan_spec(Path(plan), run_spec, scenario)
    measured = run_spec.to_dict()
    cmp = Comparison(str(plan), str(checkpoint), run_spec.items, run_spec.workers)
    if predicted.get("items") != run_spec.items or predicted.get("workers") != run_spec.workers:
        cmp.notes.append(f"the plan is for {predicted.get('items')} items at {predicted.get('workers')} workers, "
                         f"the run did {run_spec.items} at {run_spec.workers}: rates compare, totals do not")
    for key in FIGURES:
        p, m = _get(predicted, key), _get(measured, key)
        if key in SHARES:
            err = None if p is None or m is None else m - p
            cmp.rows.append(FigureRow(key, p, m, err, "points"))
        else:
            err = None if p is None or m is None or p == 0 else m / p - 1
            cmp.rows.append(FigureRow(key, p, m, err))
    if loaded is not None:
        for fig in book.slots.values():
            profile = loaded.profiles.get(fig.target)
            if profile is not None and fig.mode == "online":
                cmp.fields += _profile_fields(profile, fit_slot(fig))
    else:
        cmp.notes.append("a load_spec.json holds no profile: give the scenario or profile to check its fields")
    return cmp


def _check(out: list[Contradiction], name: str, value: float | None, est) -> None:
    if value is None or est is None or not value:
        return
    low, high = est.low * (1 - TOLERANCE), est.high * (1 + TOLERANCE)
    out.append(Contradiction(name, float(value), est.value, est.low, est.high, est.n, not (low <= value <= high)))


def _profile_fields(profile, cal: SlotCalibration) -> list[Contradiction]:
    out: list[Contradiction] = []
    est = cal.estimates
    if rules_for(profile).llm and cal.model and cal.model in profile.models:
        s = profile.model_settings(cal.model)
        where = f"{profile.name}.models.{cal.model}"
        if "latency.tokens_per_second" in est:
            _check(out, f"{where}.latency.median", s.latency.median, est.get("latency.median"))
            _check(out, f"{where}.latency.p99", s.latency.p99, est.get("latency.p99"))
            _check(out, f"{where}.latency.tokens_per_second", s.latency.tokens_per_second,
                   est.get("latency.tokens_per_second"))
            _check(out, f"{where}.output_tokens.median", s.output_tokens.median, est.get("output_tokens.median"))
        limits = s.limits
    else:
        where = profile.name
        ep = next((e for e in profile.endpoints if e.name == cal.endpoint), None)
        if ep is None and len(profile.endpoints) == 1:
            ep = profile.endpoints[0]
        lat = ep.latency if ep is not None and ep.latency else profile.latency
        lat_where = f"{where}.endpoints.{ep.name}.latency" if ep is not None and ep.latency else f"{where}.latency"
        _check(out, f"{lat_where}.median", lat.median, est.get("latency.median"))
        _check(out, f"{lat_where}.p99", lat.p99, est.get("latency.p99"))
        if ep is not None:
            _check(out, f"{where}.endpoints.{ep.name}.response_bytes", ep.response_bytes, est.get("response_bytes"))
            if ep.request_bytes:
                _check(out, f"{where}.endpoints.{ep.name}.request_bytes", ep.request_bytes, est.get("request_bytes"))
        limits = profile.limits
    for dim, value in cal.limits.items():
        if dim == "rate":
            continue
        stated = getattr(limits, dim, None)  # a limit the profile does not know at all is contradicted too
        out.append(Contradiction(f"{where}.limits.{dim}", float(stated or 0.0), value, value, value, cal.calls,
                                 stated is None or float(stated) != value))
    for name in ("error_500", "error_503", "error_529", "hang", "reset", "malformed"):
        e = est.get(f"faults.{name}")
        stated = getattr(profile.faults, name)
        if e is not None or stated:
            lo, hi = (e.low, e.high) if e is not None else (0.0, 3.0 / max(cal.calls, 1))
            m = e.value if e is not None else 0.0
            out.append(Contradiction(f"{profile.name}.faults.{name}", stated, m, lo, hi, cal.calls,
                                     not (lo <= stated <= hi)))
    return out


def compare_batch(plan: Path, checkpoint: Path, summary: dict[str, Any]) -> Comparison:
    """A ``--mode batch`` run against the plan's Batch API route: completion time, cost and
    batches, and the profile's batch turnaround and output tokens against the results."""
    from harness.planning.batch_route import plan_batch_route, terms_for
    from harness.planning.planner import CapacityModel

    if plan.suffix == ".json":
        raise ValueError(f"{plan}: a load_spec.json has no batch route; give the scenario or profile for a "
                         "--mode batch run")
    book, scenario, _ = load_figures([checkpoint])
    loaded = _plan_scenario(plan, scenario)
    items = int(summary.get("items_this_run") or 0)
    if items <= 0:
        raise ValueError(f"checkpoint {checkpoint}: the batch run finished no items; nothing was measured")
    model = CapacityModel(loaded)
    route = plan_batch_route(model, items, model.predict(max(1, loaded.scenario.workers), items))
    cmp = Comparison(str(plan), str(checkpoint), items, 0)
    if not route.applicable:
        cmp.notes.append(f"the plan has no batch route: {route.reason}")
    rows = (("duration_seconds", route.expected_seconds, summary.get("duration_real_seconds")),
            ("cost_total", route.cost, summary.get("cost_dollars")),
            ("batches", float(sum(c.batches for c in route.calls)), summary.get("batches_submitted")))
    for key, p, m in rows:
        m = None if m is None else float(m)
        cmp.rows.append(FigureRow(key, p, m, None if m is None or not p else m / p - 1))
    if route.applicable:
        cmp.notes.append(f"the batch route's p99 completion is {route.p99_seconds:,.0f} s; batches of at most the "
                         "profile's batch.max_requests (a run's --batch-size changes the count)")
    for fig in book.slots.values():
        profile = loaded.profiles.get(fig.target)
        if profile is None or fig.mode != "batch":
            continue
        cal = fit_slot(fig)
        where = f"{profile.name}.batch.turnaround"
        terms = terms_for(profile, fig.model)
        _check(cmp.fields, f"{where}.median", terms.turnaround_median, cal.estimates.get("batch.turnaround.median"))
        if fig.model and fig.model in profile.models:
            _check(cmp.fields, f"{profile.name}.models.{fig.model}.output_tokens.median",
                   profile.model_settings(fig.model).output_tokens.median, cal.estimates.get("output_tokens.median"))
    return cmp


def to_markdown(cmp: Comparison) -> str:
    lines = [f"# Plan vs run", "", f"Plan: {cmp.plan_source}", f"Run: {cmp.run} ({cmp.items} items, "
             f"{cmp.workers} workers)", "", "| figure | predicted | measured | error |", "| --- | --- | --- | --- |"]
    for r in cmp.rows:
        lines.append(f"| {r.figure} | {fmt_figure(r.predicted)} | {fmt_figure(r.measured)} | {_err(r)} |")
    lines += ["", "## Profile fields against the run", "",
              "| field | profile | measured | 95% interval | n | verdict |", "| --- | --- | --- | --- | --- | --- |"]
    for f in cmp.fields:
        lines.append(f"| {f.field} | {fmt_figure(f.profile)} | {fmt_figure(f.measured)} | {fmt_figure(f.low)} - {fmt_figure(f.high)} | {f.n} | "
                     f"{'**contradicted**' if f.contradicted else 'consistent'} |")
    if cmp.notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in cmp.notes]
    return "\n".join(lines) + "\n"


def _err(r: FigureRow) -> str:
    if r.error is None:
        return "-"
    return f"{r.error * 100:+.2f} pp" if r.error_scale == "points" else f"{r.error:+.1%}"
