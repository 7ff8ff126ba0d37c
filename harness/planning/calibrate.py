"""Calibration: a profile fitted from what finished runs measured (``harness calibrate``).

Per target, endpoint and model of the runs' figures (:mod:`harness.runner.figures`): lognormal
latency (median, p99); for LLM calls the time to first token and tokens/s (from latency
against output tokens, :func:`~harness.planning.fits.fit_llm_latency`) and the output-token
distribution; bytes each way; error and 429 rates by class; the limits the response headers
state (values and reset periods); the capacity from a Locust ramp's knee when one is given.

The profile written starts from the document's profile (the scenario's shipped or own file,
*without* the scenario's ``mock:`` overrides: those describe a mock, not the API) and replaces
what was fitted, so prices and anything the runs cannot see stay as documented.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from mock_servers.profile import load_profile_data, shipped_profiles, validate_profile

from harness.planning.fits import (
    Estimate,
    fit_lognormal,
    fit_llm_latency,
    fit_mean,
    fit_share,
    fit_token_counts,
)
from harness.runner.checkpoint import Checkpoint, CheckpointError
from harness.runner.figures import CallFigures, FigureBook
from harness.runner.learning import parse_go_duration, parse_rfc3339

__all__ = ["Calibration", "SlotCalibration", "calibrate", "load_figures"]

LLM_KINDS = ("openai", "anthropic")

# limit header -> (profile limit field, remaining header, reset header, reset format)
_LIMIT_HEADERS: dict[str, tuple[str, str, str, str]] = {
    "x-ratelimit-limit-requests": ("requests_per_minute", "x-ratelimit-remaining-requests",
                                   "x-ratelimit-reset-requests", "go"),
    "x-ratelimit-limit-tokens": ("tokens_per_minute", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens", "go"),
    "anthropic-ratelimit-requests-limit": ("requests_per_minute", "anthropic-ratelimit-requests-remaining",
                                           "anthropic-ratelimit-requests-reset", "rfc3339"),
    "anthropic-ratelimit-input-tokens-limit": ("input_tokens_per_minute", "anthropic-ratelimit-input-tokens-remaining",
                                               "anthropic-ratelimit-input-tokens-reset", "rfc3339"),
    "anthropic-ratelimit-output-tokens-limit": ("output_tokens_per_minute",
                                                "anthropic-ratelimit-output-tokens-remaining",
                                                "anthropic-ratelimit-output-tokens-reset", "rfc3339"),
    "x-ratelimit-limit": ("requests_per_minute", "x-ratelimit-remaining", "x-ratelimit-reset", "seconds"),
    "x-amzn-ratelimit-limit": ("rate", "", "", ""),
}
# status (as the figures keep it) -> the profile's fault field it measures
_FAULTS = {"500": "error_500", "503": "error_503", "529": "error_529", "timeout": "hang",
           "connection_error": "reset", "malformed": "malformed"}


@dataclass
class SlotCalibration:
    """What one (target, endpoint, model) measured, fitted."""

    target: str
    endpoint: str
    model: str | None
    kind: str
    profile: str
    calls: int
    ok: int
    estimates: dict[str, Estimate] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)
    reset_periods: dict[str, Estimate] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    mode: str = "online"

    @property
    def label(self) -> str:
        return f"{self.target}/{self.endpoint}" + (f" ({self.model})" if self.model else "") \
            + (" [batch]" if self.mode == "batch" else "")

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "endpoint": self.endpoint, "model": self.model, "kind": self.kind,
                "profile": self.profile, "mode": self.mode, "calls": self.calls, "ok": self.ok,
                "statuses": self.statuses,
                "estimates": {k: v.as_dict() for k, v in self.estimates.items()},
                "limits": self.limits, "reset_periods": {k: v.as_dict() for k, v in self.reset_periods.items()},
                "warnings": self.warnings}


@dataclass
class Calibration:
    slots: list[SlotCalibration]
    profiles: dict[str, dict[str, Any]]          # profile name -> fitted profile data
    changed: dict[str, list[str]]                # profile name -> dotted fields replaced
    sources: list[str]
    scenario: str | None = None
    knee: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"sources": self.sources, "scenario": self.scenario, "knee": self.knee, "warnings": self.warnings,
                "changed": self.changed, "slots": [s.as_dict() for s in self.slots]}


# -- reading -----------------------------------------------------------------------------

def load_figures(paths: Iterable[Path]) -> tuple[FigureBook, str | None, list[str]]:
    """Every checkpoint's figures merged; the scenario path the first one names."""
    book: FigureBook | None = None
    scenario = None
    sources = []
    for path in paths:
        try:
            with Checkpoint.open_existing(Path(path)) as ckpt:
                stored = ckpt.get_figures()
                scen = ckpt.get_meta("scenario")
        except CheckpointError as exc:
            raise ValueError(str(exc)) from None
        if not stored or not stored.get("slots"):
            raise ValueError(f"{path}: the checkpoint has no per-request figures (a run of an older harness or "
                             "a run that made no call); rehearse with this version")
        part = FigureBook.from_dict(stored, seed=0)
        if book is None:
            book = part
        else:
            book.merge(part)
        scenario = scenario or scen
        sources.append(str(path))
    if book is None:
        raise ValueError("give at least one RUN_CHECKPOINT")
    return book, scenario, sources


# -- fitting one slot ----------------------------------------------------------------------

def fit_slot(fig: CallFigures) -> SlotCalibration:
    if fig.mode == "batch":
        return _fit_batch_slot(fig)
    cal = SlotCalibration(fig.target, fig.endpoint, fig.model, fig.kind, fig.profile, fig.calls, fig.ok,
                          statuses=dict(fig.status))
    res = fig.reservoir
    if fig.ok < 2:
        cal.warnings.append(f"{fig.ok} successful call(s): nothing to fit but the error rates")
    else:
        latency = [r[0] for r in res]
        out_tokens = [r[2] for r in res]
        llm = fig.kind in LLM_KINDS and sum(1 for n in out_tokens if n > 0) >= 10
        if llm:
            try:
                fit = fit_llm_latency(latency, out_tokens)
                toks = fit_token_counts([n for n in out_tokens if n > 0])
                tps = fit.tokens_per_second.value
                gen = toks.median.value / tps
                cal.estimates["latency.tokens_per_second"] = fit.tokens_per_second
                cal.estimates["latency.ttft"] = fit.ttft.median
                cal.estimates["latency.ttft_p99"] = fit.ttft.p99
                cal.estimates["output_tokens.median"] = toks.median
                cal.estimates["output_tokens.p99"] = toks.p99
                # the profile's latency is a whole call of median output length
                cal.estimates["latency.median"] = _shifted(fit.ttft.median, gen)
                cal.estimates["latency.p99"] = _shifted(fit.ttft.p99, gen)
            except ValueError as exc:
                cal.warnings.append(str(exc))
                llm = False
        if not llm:
            lat = fit_lognormal(latency, "s", "latency")
            cal.estimates["latency.median"] = lat.median
            cal.estimates["latency.p99"] = lat.p99
        cal.estimates["request_bytes"] = fit_mean([r[3] for r in res], "bytes")
        cal.estimates["response_bytes"] = fit_mean([r[4] for r in res], "bytes")
        if any(r[1] for r in res):
            cal.estimates["input_tokens"] = fit_mean([r[1] for r in res], "tokens")
    if fig.calls:
        limited = fig.status.get("429", 0)
        cal.estimates["rate_limited"] = fit_share(limited, fig.calls, "429s")
        for status, name in _FAULTS.items():
            k = fig.status.get(status, 0)
            if k:
                cal.estimates[f"faults.{name}"] = fit_share(k, fig.calls, f"HTTP {status}")
        others = sum(v for s, v in fig.status.items() if not s.startswith("2") and s != "429" and s not in _FAULTS)
        if others:
            cal.estimates["other_errors"] = fit_share(others, fig.calls, "other errors")
    _fit_limits(fig, cal)
    for est in cal.estimates.values():
        if est.warning:
            cal.warnings.append(est.warning)
    return cal


def _fit_batch_slot(fig: CallFigures) -> SlotCalibration:
    """A ``--mode batch`` slot: output tokens, bytes and error shares as online, and the batch
    turnaround (submitted to collected, real seconds) per batch; an answer's own latency is not
    seen through a Batch API, so neither latency nor tokens/s is fitted."""
    cal = SlotCalibration(fig.target, fig.endpoint, fig.model, fig.kind, fig.profile, fig.calls, fig.ok,
                          statuses=dict(fig.status), mode="batch")
    res = fig.reservoir
    out_tokens = [r[2] for r in res if r[2] > 0]
    try:
        toks = fit_token_counts(out_tokens)
        cal.estimates["output_tokens.median"] = toks.median
        cal.estimates["output_tokens.p99"] = toks.p99
    except ValueError as exc:
        cal.warnings.append(str(exc))
    if res:
        cal.estimates["request_bytes"] = fit_mean([r[3] for r in res], "bytes")
        cal.estimates["response_bytes"] = fit_mean([r[4] for r in res], "bytes")
        if any(r[1] for r in res):
            cal.estimates["input_tokens"] = fit_mean([r[1] for r in res], "tokens")
    try:
        turn = fit_lognormal([b[0] for b in fig.batches], "s", "batch turnaround")
        cal.estimates["batch.turnaround.median"] = turn.median
        cal.estimates["batch.turnaround.p99"] = turn.p99
        if len(fig.batches) < 30:
            cal.warnings.append(f"batch turnaround from {len(fig.batches)} batches: its p99 is a guess")
    except ValueError as exc:
        cal.warnings.append(str(exc))
    if fig.calls:
        for status, what in (("expired", "batch.unfinished"), ("error", "batch.errored")):
            cal.estimates[what] = fit_share(fig.status.get(status, 0), fig.calls, f"{status} results")
    for est in cal.estimates.values():
        if est.warning:
            cal.warnings.append(est.warning)
    return cal


def _shifted(est: Estimate, by: float) -> Estimate:
    return Estimate(est.value + by, est.low + by, est.high + by, est.n, est.unit, est.warning)


def _fit_limits(fig: CallFigures, cal: SlotCalibration) -> None:
    """Limits as the headers state them (the most common value) and the period of a full
    refill, ``reset x limit / (limit - remaining)``, in real seconds."""
    values: dict[str, Counter] = {}
    windows: dict[str, list[float]] = {}
    shares: dict[str, list[tuple[float, float]]] = {}
    retry_after: list[float] = []
    for epoch, status, h in fig.headers:
        for name, (dim, rem_name, reset_name, fmt) in _LIMIT_HEADERS.items():
            raw = h.get(name)
            if raw is None:
                continue
            if name == "x-ratelimit-limit" and any(k in h for k in ("x-ratelimit-limit-requests",
                                                                     "x-ratelimit-limit-tokens")):
                continue
            try:
                limit = float(raw.split(",")[0].split(";")[0])
            except ValueError:
                continue
            values.setdefault(dim, Counter())[limit] += 1
            window = _window(h.get(rem_name), h.get(reset_name), fmt, limit, epoch)
            if window is not None:
                windows.setdefault(dim, []).append(window[0] / fig.time_scale)
                shares.setdefault(dim, []).append(window[1])
        if status == 429:
            ra = h.get("retry-after-ms")
            try:
                if ra is not None:
                    retry_after.append(float(ra) / 1000 / fig.time_scale)
                elif h.get("retry-after") is not None:
                    retry_after.append(float(h["retry-after"]) / fig.time_scale)
            except ValueError:
                pass
    for dim, counts in values.items():
        value, seen = counts.most_common(1)[0]
        cal.limits[dim] = value
        if len(counts) > 1:
            cal.warnings.append(f"{dim}: the headers stated {len(counts)} different limits "
                                f"({', '.join(f'{v:g}' for v in sorted(counts))}); kept the most common, {value:g}")
        w = windows.get(dim)
        if w:
            # the ratio of sums (resets over shares of the bucket used): responses with more of the
            # bucket used, whose resets rounded to the header's resolution matter less, weigh more
            pairs = shares.get(dim, [])
            med = sum(p[0] for p in pairs) / sum(p[1] for p in pairs) / fig.time_scale if pairs else statistics.median(w)
            lo, hi = (_quantile(w, 0.1), _quantile(w, 0.9)) if len(w) >= 5 else (min(w), max(w))
            cal.reset_periods[dim] = Estimate(med, lo, hi, len(w), "s (full refill)",
                                              None if hi <= 1.5 * lo else
                                              f"{dim}: refill period varies {lo:.3g}-{hi:.3g} s between "
                                              "responses (coarse reset headers?)")
    if retry_after:
        cal.estimates["retry_after"] = Estimate(statistics.median(retry_after), min(retry_after), max(retry_after),
                                                len(retry_after), "s")


def _window(remaining: str | None, reset: str | None, fmt: str, limit: float,
            epoch: float) -> tuple[float, tuple[float, float]] | None:
    """(full-refill period, (reset seconds, share of the bucket used)) of one response."""
    if remaining is None or reset is None or not fmt:
        return None
    try:
        left = float(remaining)
        if fmt == "go":
            seconds = parse_go_duration(reset)
        elif fmt == "rfc3339":
            seconds = parse_rfc3339(reset) - epoch
        else:
            seconds = float(reset)
    except ValueError:
        return None
    used = limit - left
    if left == int(left):
        used -= 0.5  # remaining is sent rounded down to a whole unit: on average half a unit more is left
    if used < max(5.0, 0.002 * limit) or seconds <= 0:
        return None  # a nearly full bucket says little about its period
    return seconds * limit / used, (seconds, used / limit)


def _quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


# -- the profile ---------------------------------------------------------------------------

def base_profile_data(name: str, source: str | None, scenario_dir: Path | None) -> dict[str, Any]:
    """The documented profile a target used, without any scenario's mock overrides."""
    if source and ("/" in source or "\\" in source or source.endswith((".yaml", ".yml"))):
        path = Path(source)
        if not path.is_absolute() and scenario_dir is not None:
            path = scenario_dir / path
        return load_profile_data(path)
    shipped = shipped_profiles()
    key = source or name
    if key not in shipped:
        raise ValueError(f"profile {key!r} is not shipped and the run does not say where its file is; "
                         "calibrate needs the document's profile to start from")
    return load_profile_data(shipped[key])


def apply_slot(data: dict[str, Any], cal: SlotCalibration, endpoint_name: str | None) -> list[str]:
    """Write a slot's fitted figures into profile ``data``; returns the dotted fields changed."""
    changed: list[str] = []
    est = cal.estimates

    def put(section: dict[str, Any], key: str, value: Any, dotted: str) -> None:
        section[key] = value
        changed.append(dotted)

    if cal.mode == "batch":
        return _apply_batch_slot(data, cal)

    if cal.kind in LLM_KINDS and cal.model:
        models = data.setdefault("models", {})
        spec = models.get(cal.model) or {}
        models[cal.model] = spec
        where = f"models.{cal.model}"
        if "latency.tokens_per_second" in est:
            lat = dict(spec.get("latency") or {})
            lat.pop("ttft", None)
            put(lat, "median", _r(est["latency.median"].value), f"{where}.latency.median")
            put(lat, "p99", _r(est["latency.p99"].value), f"{where}.latency.p99")
            put(lat, "tokens_per_second", _r(est["latency.tokens_per_second"].value), f"{where}.latency.tokens_per_second")
            spec["latency"] = lat
            out = dict(spec.get("output_tokens") or {})
            put(out, "median", max(1, round(est["output_tokens.median"].value)), f"{where}.output_tokens.median")
            put(out, "p99", max(out["median"], round(est["output_tokens.p99"].value)), f"{where}.output_tokens.p99")
            spec["output_tokens"] = out
        if cal.limits:
            lim = dict(spec.get("limits") or {})
            for dim, value in cal.limits.items():
                if dim != "rate":
                    put(lim, dim, value, f"{where}.limits.{dim}")
            spec["limits"] = lim
        return changed
    endpoints = data.get("endpoints") or []
    ep = next((e for e in endpoints if e.get("name") == endpoint_name), None)
    if ep is None and len(endpoints) == 1:
        ep = endpoints[0]
    if "latency.median" in est:
        lat = {"median": _r(est["latency.median"].value), "p99": _r(est["latency.p99"].value)}
        if ep is not None and (len(endpoints) > 1 or ep.get("latency")):
            ep["latency"] = lat
            changed += [f"endpoints.{ep['name']}.latency.median", f"endpoints.{ep['name']}.latency.p99"]
        else:
            data["latency"] = {**(data.get("latency") or {}), **lat}
            changed += ["latency.median", "latency.p99"]
    if ep is not None and "response_bytes" in est:
        ep["request_bytes"] = round(est["request_bytes"].value)
        ep["response_bytes"] = round(est["response_bytes"].value)
        changed += [f"endpoints.{ep['name']}.request_bytes", f"endpoints.{ep['name']}.response_bytes"]
    for dim, value in cal.limits.items():
        if dim == "rate":
            if ep is not None:
                ep["rate"] = value
                changed.append(f"endpoints.{ep['name']}.rate")
        else:
            data.setdefault("limits", {})[dim] = value
            changed.append(f"limits.{dim}")
    return changed


def _apply_batch_slot(data: dict[str, Any], cal: SlotCalibration) -> list[str]:
    """A batch slot's turnaround into ``batch.turnaround``; its output tokens into the model's,
    unless the model's online latency could not then generate them (the online fit decides)."""
    est = cal.estimates
    changed: list[str] = []

    def put_(section: dict[str, Any], key: str, value: Any, dotted: str) -> None:
        section[key] = value
        changed.append(dotted)

    if "batch.turnaround.median" in est:
        batch = dict(data.get("batch") or {})
        turn = dict(batch.get("turnaround") or {})
        put_(turn, "median", _r(est["batch.turnaround.median"].value), "batch.turnaround.median")
        put_(turn, "p99", _r(max(est["batch.turnaround.p99"].value, turn["median"])), "batch.turnaround.p99")
        batch["turnaround"] = turn
        data["batch"] = batch
    if "output_tokens.median" in est and cal.model:
        models = data.setdefault("models", {})
        spec = dict(models.get(cal.model) or {})
        out = dict(spec.get("output_tokens") or {})
        median = max(1, round(est["output_tokens.median"].value))
        out.update(median=median, p99=max(median, round(est["output_tokens.p99"].value)))
        trial = copy.deepcopy(data)
        trial["models"][cal.model] = {**spec, "output_tokens": out}
        try:
            validate_profile(trial, "calibrated profile")
        except Exception as exc:  # noqa: BLE001 - the schema says why; the fit report carries it
            cal.warnings.append(f"output tokens of the batch run not written: {str(exc).splitlines()[-1][:200]}")
        else:
            models[cal.model] = {**spec, "output_tokens": out}
            changed += [f"models.{cal.model}.output_tokens.median", f"models.{cal.model}.output_tokens.p99"]
    return changed


def _r(x: float) -> float:
    """Four significant digits: what a sample can say, and a readable YAML."""
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.4g}")


def _apply_faults(data: dict[str, Any], slots: list[SlotCalibration]) -> list[str]:
    """A profile's fault rates: every slot's calls of that profile together."""
    calls = sum(s.calls for s in slots)
    if not calls:
        return []
    faults = dict(data.get("faults") or {})
    changed = []
    for status, name in _FAULTS.items():
        k = sum(s.statuses.get(status, 0) for s in slots)
        old = faults.get(name, 0.0)
        if k or old:
            faults[name] = _r(k / calls)
            changed.append(f"faults.{name}")
    data["faults"] = faults
    return changed


def calibrate(checkpoints: list[Path], *, knee_csv: Path | None = None, knee_time_scale: float = 1.0,
              scenario_path: Path | None = None) -> Calibration:
    """Fit every slot of the runs and build one profile per profile the runs used."""
    book, scen, sources = load_figures(checkpoints)
    scenario_file = scenario_path or (Path(scen) if scen else None)
    loaded = None
    if scenario_file is not None and scenario_file.exists():
        from harness.scenario import load_scenario

        loaded = load_scenario(scenario_file)
    slots = [fit_slot(f) for f in book.slots.values()]
    profiles: dict[str, dict[str, Any]] = {}
    changed: dict[str, list[str]] = {}
    by_profile: dict[str, list[SlotCalibration]] = {}
    for cal in slots:
        source = loaded.profile_sources.get(cal.target) if loaded else None
        if cal.profile not in profiles:
            profiles[cal.profile] = copy.deepcopy(base_profile_data(
                cal.profile, source, loaded.base_dir if loaded else None))
            changed[cal.profile] = []
        changed[cal.profile] += apply_slot(profiles[cal.profile], cal, _endpoint_of(loaded, cal))
        by_profile.setdefault(cal.profile, []).append(cal)
    for name, group in by_profile.items():
        online = [c for c in group if c.mode == "online"]  # a batch result's errors are not the API's faults
        if online:
            changed[name] += _apply_faults(profiles[name], online)
    result = Calibration(slots, profiles, changed, sources, str(scenario_file) if scenario_file else None)
    if knee_csv is not None:
        _apply_knee(result, knee_csv, knee_time_scale)
    for name, data in profiles.items():
        validate_profile(data, f"calibrated profile {name}")  # raises with the field if a fit is impossible
    return result


def _endpoint_of(loaded, cal: SlotCalibration) -> str | None:
    """The profile endpoint a slot's calls went to: a step's endpoint as the planner finds it."""
    if loaded is None:
        return cal.endpoint
    from harness.planning.planner import _endpoint_for

    profile = loaded.profiles.get(cal.target)
    for step in loaded.scenario.steps:
        if step.name == cal.endpoint and profile is not None:
            return _endpoint_for(profile, step.method, step.path, step.name)
    return cal.endpoint


def _apply_knee(result: Calibration, csv: Path, time_scale: float) -> None:
    """A Locust ramp's knee: the users at the last step that held the SLO become the server's
    ``capacity.max_in_flight`` (unpaced users beyond it only queue)."""
    from harness.planning.knee import KneeConfig, knee_from_csv

    report = knee_from_csv(csv, KneeConfig(time_scale=time_scale))
    if report.knee is None:
        result.warnings.append(f"{csv}: no step of the ramp held the SLO; capacity left as documented")
        return
    users = report.users
    info = report.to_dict()
    result.knee = {"csv": str(csv), "users": users, "rps": report.sustainable_rps,
                   "broke_at_users": info["broke_at_users"], "broke_because": info["broke_because"]}
    rest = [n for n, d in result.profiles.items() if d.get("kind") not in LLM_KINDS]
    if len(rest) != 1:
        result.warnings.append("the knee applies to one partner API; the runs used "
                               f"{len(rest)} non-LLM profiles, so capacity is left as documented")
        return
    data = result.profiles[rest[0]]
    data["capacity"] = {**(data.get("capacity") or {}), "max_in_flight": int(users)}
    result.changed[rest[0]].append("capacity.max_in_flight")


def write_calibrated_scenario(scenario_file: Path, profile_paths: dict[str, Path], dest: Path) -> Path:
    """The rehearsed scenario with its targets on the calibrated profiles, for ``harness plan``,
    ``sweep`` and ``loadspec``: a target's ``mock_url`` dropped (a sweep then starts a mock
    serving the fitted profile), paths made absolute (the input stays where it is; the output goes
    beside ``dest``), the scenario's ``mock:`` overrides of a calibrated profile dropped (they
    would override the fit), and a step function's module copied beside it."""
    import shutil

    import yaml

    scenario_file = Path(scenario_file)
    data = yaml.safe_load(scenario_file.read_text())
    base = scenario_file.parent.resolve()
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    for tname, spec in (data.get("targets") or {}).items():
        src = str(spec.get("profile", tname))
        stem = Path(src).stem if ("/" in src or src.endswith((".yaml", ".yml"))) else src
        if stem in profile_paths:
            spec["profile"] = str(Path(profile_paths[stem]).resolve())
            spec.pop("mock_url", None)  # plans and sweeps run on a mock of the fitted profile
            names[stem] = tname
    if data.get("mock"):
        data["mock"] = {k: v for k, v in data["mock"].items() if k.split(".", 1)[0] not in names}
    inp = data.get("input") or {}
    if inp.get("path"):
        inp["path"] = str((base / inp["path"]).resolve())
    out = data.get("output") or {}
    if out.get("path"):
        out["path"] = str((dest.parent / "out" / Path(out["path"]).name).resolve())
    fn = data.get("function")
    if fn:
        module = fn.partition(":")[0]
        src_mod = base / (module.replace(".", "/") + ".py")
        if src_mod.exists():
            shutil.copy(src_mod, dest.parent / src_mod.name)
    for key in ("name",):
        if data.get(key):
            data[key] = f"{data[key]}-calibrated"
    dest.write_text(f"# {scenario_file} on the profiles `harness calibrate` fitted\n"
                    + yaml.safe_dump(data, sort_keys=False, width=120))
    return dest
