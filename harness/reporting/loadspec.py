"""The DevOps load spec and the partner notice: one :class:`LoadSpec`, three views of it.

A spec comes from a plan (:meth:`LoadSpec.from_plan`: the capacity model's prediction for a
scenario at W workers and N items) or from a finished run (:meth:`LoadSpec.from_run`: what its
checkpoint's summary measured, in real time). Only a few figures are stored; everything else
is derived from them by properties, so the files cannot disagree with each other::

    sustained req/s    = items/s x requests per item
    total requests     = items x requests per item
    duration           = items / items/s
    bandwidth (bit/s)  = req/s x bytes per request x 8          (each way)
    daily bytes        = bandwidth / 8 x 86,400                  (each way; daily_bytes = both)

``load_spec.json`` holds the exact values, ``LOAD_SPEC.md`` and ``partner_notice.txt`` are
Jinja2 templates (``harness/reporting/templates/``) over the same object and its :meth:`view`
(the figures formatted for people: ``7.4 req/s``, ``29.6 kbit/s``, ``22.7 GB/day``).
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from harness.errors import InvalidInput
from harness.planning.claims import within
from harness.scenario import LoadedScenario

SECONDS_PER_DAY = 86_400
NOTICE_LEAD = timedelta(hours=48)  # the partner hears from us this long before the start

__all__ = ["ClientPolicy", "LoadSpec", "TargetLoad", "write_loadspec", "parse_start"]


# -- pieces ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TargetLoad:
    """One API's share of an item: requests per item and bytes per request each way."""

    name: str
    requests_per_item: float
    request_bytes: float
    response_bytes: float


@dataclass(frozen=True)
class ClientPolicy:
    """What our side does to limit and retry (from the scenario)."""

    workers: int
    adaptive: bool
    timeout_s: float
    max_attempts: int
    base_delay_s: float
    max_delay_s: float
    jitter: str
    limits: dict[str, dict[str, float]]  # target -> the client-side limits set (name -> value)
    learn: dict[str, bool]  # target -> learns the limits it is not given from response headers

    @classmethod
    def from_scenario(cls, loaded: LoadedScenario, workers: int) -> "ClientPolicy":
        sc = loaded.scenario
        limits = {}
        for name, t in sc.targets.items():
            limits[name] = {k: v for k, v in t.limits.model_dump(exclude={"learn"}).items() if v is not None}
        return cls(workers=workers, adaptive=sc.adaptive, timeout_s=sc.timeout,
                   max_attempts=sc.retry.max_attempts, base_delay_s=sc.retry.base_delay,
                   max_delay_s=sc.retry.max_delay, jitter=sc.retry.jitter, limits=limits,
                   learn={n: t.limits.learn for n, t in sc.targets.items()})


@dataclass(frozen=True)
class ClaimCheck:
    """One of the scenario document's figures next to ours."""

    id: str
    kind: str
    quote: str
    claimed: float | list[float]
    ours: float
    note: str = ""

    @property
    def holds(self) -> bool:
        """Within the one claim tolerance (:data:`harness.planning.claims.TOLERANCE`)."""
        return within(self.claimed, self.ours)


# -- the spec ----------------------------------------------------------------------------------

@dataclass
class LoadSpec:
    """The load a batch puts on an API: the one source of truth for the three files."""

    source: Literal["plan", "run"]
    scenario: str
    partner: str
    workers: int
    items: int
    items_per_second: float
    requests_per_item: float
    request_bytes: float  # per request, mean, body only
    response_bytes: float
    concurrency: int  # connections / requests in flight at most
    burst: int  # requests sent at once (the start, when the client limiter allows it)
    peak_rps: float  # the most requests started in any one second
    peak_basis: str  # model | measured | derived
    error_rate: float  # share of requests answered with an error other than 429
    rate_limited_rate: float  # share of requests answered 429
    item_failure_rate: float  # share of items that fail after every retry
    latency_s: dict[str, float]  # per request: p50, p95, p99 (and mean when known)
    policy: ClientPolicy | None
    start: datetime | None = None
    binding: str = ""
    risk: str = "none"
    cost_total: float = 0.0
    scenario_path: str | None = None
    targets: list[TargetLoad] = field(default_factory=list)
    claims: list[ClaimCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)  # run only: what the summary said

    # -- derived (never stored) --------------------------------------------------------
    @property
    def sustained_rps(self) -> float:
        return self.items_per_second * self.requests_per_item

    @property
    def total_requests(self) -> int:
        return round(self.items * self.requests_per_item)

    @property
    def duration_seconds(self) -> float:
        return self.items / self.items_per_second if self.items_per_second > 0 else math.inf

    @property
    def bandwidth_out_bps(self) -> float:
        return self.sustained_rps * self.request_bytes * 8

    @property
    def bandwidth_in_bps(self) -> float:
        return self.sustained_rps * self.response_bytes * 8

    @property
    def daily_bytes_out(self) -> float:
        return self.bandwidth_out_bps / 8 * SECONDS_PER_DAY

    @property
    def daily_bytes_in(self) -> float:
        return self.bandwidth_in_bps / 8 * SECONDS_PER_DAY

    @property
    def daily_bytes(self) -> float:
        return self.daily_bytes_out + self.daily_bytes_in

    @property
    def daily_requests(self) -> float:
        return self.sustained_rps * SECONDS_PER_DAY

    @property
    def total_bytes_out(self) -> float:
        return self.items * self.requests_per_item * self.request_bytes

    @property
    def total_bytes_in(self) -> float:
        return self.items * self.requests_per_item * self.response_bytes

    @property
    def end(self) -> datetime | None:
        if self.start is None or not math.isfinite(self.duration_seconds):
            return None
        return self.start + timedelta(seconds=self.duration_seconds)

    @property
    def notify_by(self) -> datetime | None:
        return None if self.start is None else self.start - NOTICE_LEAD

    def target_rows(self) -> list[dict[str, float | str]]:
        """Per API: requests/s and bandwidth at the spec's throughput."""
        rows = []
        for t in self.targets:
            rps = self.items_per_second * t.requests_per_item
            rows.append({"name": t.name, "requests_per_item": t.requests_per_item, "sustained_rps": rps,
                         "request_bytes": t.request_bytes, "response_bytes": t.response_bytes,
                         "bandwidth_out_bps": rps * t.request_bytes * 8, "bandwidth_in_bps": rps * t.response_bytes * 8,
                         "total_requests": round(self.items * t.requests_per_item)})
        return rows

    # -- views -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The exact figures (``load_spec.json``)."""
        return {
            "source": self.source,
            "scenario": self.scenario,
            "scenario_path": self.scenario_path,
            "partner": self.partner,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "notify_by": _iso(self.notify_by),
            "workers": self.workers,
            "items": self.items,
            "items_per_second": self.items_per_second,
            "requests_per_item": self.requests_per_item,
            "total_requests": self.total_requests,
            "duration_seconds": self.duration_seconds,
            "sustained_rps": self.sustained_rps,
            "peak_rps": self.peak_rps,
            "peak_basis": self.peak_basis,
            "burst": self.burst,
            "concurrency": self.concurrency,
            "request_bytes": self.request_bytes,
            "response_bytes": self.response_bytes,
            "bandwidth_out_bps": self.bandwidth_out_bps,
            "bandwidth_in_bps": self.bandwidth_in_bps,
            "daily_bytes": self.daily_bytes,
            "daily_bytes_out": self.daily_bytes_out,
            "daily_bytes_in": self.daily_bytes_in,
            "daily_requests": self.daily_requests,
            "total_bytes_out": self.total_bytes_out,
            "total_bytes_in": self.total_bytes_in,
            "error_rate": self.error_rate,
            "rate_limited_rate": self.rate_limited_rate,
            "item_failure_rate": self.item_failure_rate,
            "latency_seconds": dict(self.latency_s),
            "binding": self.binding,
            "risk": self.risk,
            "cost_total": self.cost_total,
            "policy": asdict(self.policy) if self.policy else None,
            "targets": self.target_rows(),
            "claims": [{**asdict(c), "holds": c.holds} for c in self.claims],
            "notes": list(self.notes),
            "measured": dict(self.measured),
        }

    def view(self) -> dict[str, Any]:
        """The same figures formatted for people (what the templates print)."""
        v: dict[str, Any] = {
            "sustained_rps": fmt_rps(self.sustained_rps),
            "peak_rps": fmt_rps(self.peak_rps),
            "items_per_second": fmt_rate(self.items_per_second),
            "items_per_second_3": f"{self.items_per_second:.3g}",
            "items_per_minute": fmt_rate(self.items_per_second * 60),
            "concurrency": fmt_count(self.concurrency),
            "burst": fmt_count(self.burst),
            "workers": fmt_count(self.workers),
            "item_count": fmt_count(self.items),
            "requests_per_item": _fmt_per_item(self.requests_per_item),
            "total_requests": fmt_count(self.total_requests),
            "duration": fmt_duration(self.duration_seconds),
            "request_bytes": fmt_bytes(self.request_bytes),
            "response_bytes": fmt_bytes(self.response_bytes),
            "bandwidth_out": fmt_bps(self.bandwidth_out_bps),
            "bandwidth_in": fmt_bps(self.bandwidth_in_bps),
            "daily_bytes": fmt_bytes(self.daily_bytes) + "/day",
            "daily_bytes_out": fmt_bytes(self.daily_bytes_out) + "/day",
            "daily_bytes_in": fmt_bytes(self.daily_bytes_in) + "/day",
            "daily_requests": fmt_count(self.daily_requests),
            "total_bytes_out": fmt_bytes(self.total_bytes_out),
            "total_bytes_in": fmt_bytes(self.total_bytes_in),
            "total_bytes": fmt_bytes(self.total_bytes_out + self.total_bytes_in),
            "error_rate": fmt_pct(self.error_rate),
            "rate_limited_rate": fmt_pct(self.rate_limited_rate),
            "item_failure_rate": fmt_pct(self.item_failure_rate),
            "latency": {k: fmt_seconds(s) for k, s in self.latency_s.items()},
            "start": fmt_when(self.start) if self.start else "[DATE to be agreed]",
            "end": fmt_when(self.end) if self.end else None,
            "notify_by": fmt_when(self.notify_by) if self.notify_by else "48 hours before the start",
            "cost_total": f"${self.cost_total:,.2f}",
        }
        v["targets"] = [{**r, "sustained_rps": fmt_rps(r["sustained_rps"]),  # type: ignore[arg-type]
                         "bandwidth_out": fmt_bps(r["bandwidth_out_bps"]),  # type: ignore[arg-type]
                         "bandwidth_in": fmt_bps(r["bandwidth_in_bps"]),  # type: ignore[arg-type]
                         "request_bytes": fmt_bytes(r["request_bytes"]),  # type: ignore[arg-type]
                         "response_bytes": fmt_bytes(r["response_bytes"]),  # type: ignore[arg-type]
                         "total_requests": fmt_count(r["total_requests"]),  # type: ignore[arg-type]
                         "requests_per_item": _fmt_per_item(r["requests_per_item"])}  # type: ignore[arg-type]
                        for r in self.target_rows()]
        v["claims"] = [{"id": c.id, "quote": c.quote, "claimed": _fmt_kind(c.kind, c.claimed),
                        "ours": _fmt_kind(c.kind, c.ours), "holds": c.holds, "note": c.note} for c in self.claims]
        if self.policy:
            p = self.policy
            v["policy"] = {
                "limits": {t: ", ".join(f"{_LIMIT_NAMES.get(k, k)} {fmt_rate(x)}" for k, x in lim.items())
                           or "none set" for t, lim in p.limits.items()},
                "timeout": fmt_seconds(p.timeout_s),
                "base_delay": fmt_seconds(p.base_delay_s),
                "max_delay": fmt_seconds(p.max_delay_s),
            }
        return v

    # -- constructors ------------------------------------------------------------------
    @classmethod
    def from_plan(cls, loaded: LoadedScenario, items: int, workers: int, *, partner: str | None = None,
                  start: datetime | None = None) -> "LoadSpec":
        """What the scenario's profiles predict at ``workers`` for ``items`` (the capacity model)."""
        from harness.planning.planner import CapacityModel, _client_burst

        if items <= 0:
            raise InvalidInput(f"--items must be > 0, got {items}")
        model = CapacityModel(loaded)
        pred = model.predict(workers, items)
        n_req = sum(model.attempts)
        req_b = sum(a * c.request_bytes for a, c in zip(model.attempts, model.calls)) / n_req
        resp_b = sum(a * c.response_bytes for a, c in zip(model.attempts, model.calls)) / n_req
        client_burst = _client_burst(loaded)
        burst = int(min(workers, client_burst)) if client_burst else workers
        targets: dict[str, list[float]] = {}
        for a, c in zip(model.attempts, model.calls):
            t = targets.setdefault(c.target, [0.0, 0.0, 0.0])
            t[0] += a
            t[1] += a * c.request_bytes
            t[2] += a * c.response_bytes
        # errors: the profiles' fault rates, per request; an item fails when every attempt does
        max_attempts = loaded.scenario.retry.max_attempts
        err = 0.0
        fail_ok = 1.0
        for a, c in zip(model.attempts, model.calls):
            faults = loaded.profiles[c.target].faults
            p = c.transient_p + faults.insufficient_quota
            err += a * p
            fail_ok *= (1.0 - c.transient_p ** max_attempts) * (1.0 - faults.insufficient_quota)
        spec = cls(
            source="plan", scenario=loaded.scenario.name, partner=partner or _default_partner(loaded),
            workers=workers, items=items, items_per_second=pred.items_per_s, requests_per_item=n_req,
            request_bytes=req_b, response_bytes=resp_b, concurrency=workers, burst=burst,
            peak_rps=pred.peak_requests_per_s, peak_basis="model", error_rate=err / n_req,
            rate_limited_rate=_planned_429_share(model, workers), item_failure_rate=1.0 - fail_ok,
            latency_s=model.request_latency(), policy=ClientPolicy.from_scenario(loaded, workers), start=start,
            binding=str(pred.binding), risk=pred.risk, cost_total=pred.cost_total,
            scenario_path=str(loaded.path) if loaded.path else None,
            targets=[TargetLoad(n, v[0], v[1] / v[0], v[2] / v[0]) for n, v in targets.items()],
        )
        spec.claims = _claims(loaded, spec)
        spec.notes.append("Figures from the capacity model (harness/planner.py) over the scenario's profiles: "
                          "mean latencies, the profiles' payload sizes and fault rates; measure a run on the mock "
                          "(`harness loadspec --run CHECKPOINT`) to confirm them.")
        return spec

    @classmethod
    def from_run(cls, checkpoint: Path, *, items: int | None = None, partner: str | None = None,
                 start: datetime | None = None) -> "LoadSpec":
        """What a finished run measured (its checkpoint's summary), in real time. ``items``
        projects the measured rates to a larger batch (default: the items of that run)."""
        from harness.planning.planner import _client_burst
        from harness.scenario import load_scenario

        meta = read_run_meta(checkpoint)
        if "summary" not in meta:
            raise InvalidInput(f"checkpoint {checkpoint} has no run summary (the run never finished or "
                             "predates `harness loadspec`)")
        s = json.loads(meta["summary"])
        finished = int(s.get("items_this_run") or 0)
        requests = int(s.get("requests") or 0)
        real = float(s.get("duration_real_seconds") or 0.0)
        if finished <= 0 or requests <= 0 or real <= 0:
            raise InvalidInput(f"checkpoint {checkpoint}: the run finished no items; nothing was measured")
        loaded = None
        notes: list[str] = []
        scenario_path = meta.get("scenario")
        if scenario_path:
            try:
                loaded = load_scenario(scenario_path)
            except Exception as exc:  # moved or edited since: the measured figures still stand
                notes.append(f"The scenario ({scenario_path}) could not be read ({exc}); client policy unknown.")
        workers = int(s.get("workers") or 0)
        outcomes: dict[str, int] = s.get("requests_by_outcome") or {}
        ok = outcomes.get("ok", 0)
        limited = outcomes.get("rate_limited", 0)
        # connections: the --workers cap (the runner's peak in flight is sampled a few times a
        # second, so short requests at a compressed time scale slip between samples)
        peak_in_flight = int(s.get("peak_in_flight") or 0)
        concurrency = max(workers, peak_in_flight)
        client_burst = _client_burst(loaded) if loaded else None
        burst = int(min(concurrency, client_burst)) if client_burst else concurrency
        rps = requests / real
        measured_peak = s.get("peak_requests_per_second_real")
        if measured_peak:
            peak, basis = float(measured_peak), "measured"
        else:
            peak, basis = max(rps, float(burst)), "derived"
        bytes_ = s.get("bytes") or {}
        lat = s.get("latency_real_seconds") or {}
        n_items = items if items is not None else finished
        if n_items <= 0:
            raise InvalidInput(f"--items must be > 0, got {n_items}")
        bytes_out, bytes_in = float(bytes_.get("out", 0)), float(bytes_.get("in", 0))
        spec = cls(
            source="run", scenario=s.get("scenario") or (loaded.scenario.name if loaded else Path(checkpoint).stem),
            partner=partner or (_default_partner(loaded) if loaded else "the partner"),
            workers=workers, items=n_items, items_per_second=float(s.get("items_per_second_real") or finished / real),
            requests_per_item=requests / finished,
            request_bytes=bytes_out / requests, response_bytes=bytes_in / requests,
            concurrency=concurrency, burst=burst, peak_rps=peak, peak_basis=basis,
            error_rate=(requests - ok - limited) / requests, rate_limited_rate=limited / requests,
            item_failure_rate=int(s.get("items_failed") or 0)
            / max(1, int(s.get("items_failed") or 0) + int(s.get("items_done") or 0)),
            latency_s={k: float(lat[k]) for k in ("p50", "p95", "p99") if k in lat},
            policy=ClientPolicy.from_scenario(loaded, workers) if loaded else None, start=start,
            binding=f"measured at {workers} worker{'s' if workers != 1 else ''}", risk="none" if not limited else
            f"{limited:,} of {requests:,} requests answered 429 in the run",
            cost_total=float(s.get("cost_dollars") or 0.0) * n_items / finished,
            scenario_path=scenario_path, notes=notes,
            measured={"checkpoint": str(checkpoint), "time_scale": s.get("time_scale"),
                      "items": finished, "requests": requests, "duration_real_seconds": real,
                      "duration_wall_seconds": s.get("duration_wall_seconds"),
                      "requests_by_outcome": outcomes, "retries_by_reason": s.get("retries_by_reason") or {},
                      "bytes": {"out": bytes_out, "in": bytes_in}, "peak_in_flight": peak_in_flight,
                      "stop_reason": s.get("stop_reason")},
        )
        if loaded is not None:
            if len(loaded.scenario.targets) == 1:
                spec.targets = [TargetLoad(next(iter(loaded.scenario.targets)), spec.requests_per_item,
                                           spec.request_bytes, spec.response_bytes)]
            spec.claims = _claims(loaded, spec)
        scale = s.get("time_scale")
        spec.notes.append(f"Measured by a run of {finished:,} items ({requests:,} requests) at {workers} worker{'s' if workers != 1 else ''}"
                          + (f", time scale {scale:g}, converted to real time" if scale and scale != 1 else "")
                          + (f"; projected to {n_items:,} items at the measured rate" if n_items != finished else "")
                          + ". Bytes are request and response bodies (headers not counted).")
        if basis == "derived":
            spec.notes.append("Peak req/s derived: the run records no per-second peak, so the peak is the larger "
                              "of the sustained rate and the burst (the workers' first requests, sent together at "
                              f"the start; the most in flight seen by the runner's sampling: {peak_in_flight}).")
        return spec


# -- reading a run -------------------------------------------------------------------------------

def read_run_meta(checkpoint: Path) -> dict[str, str]:
    """A checkpoint's meta table, opened read-only (a running batch is not disturbed)."""
    path = Path(checkpoint)
    if not path.exists():
        raise InvalidInput(f"checkpoint {path} does not exist: run the batch first (`harness run SCENARIO`, "
                           "whose checkpoint is OUTPUT.checkpoint.sqlite), or use --plan SCENARIO to predict")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT key, value FROM meta").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"checkpoint {path} is not a harness checkpoint ({exc})") from None
    return {k: v for k, v in rows}


# -- plan helpers --------------------------------------------------------------------------------

def _default_partner(loaded: LoadedScenario) -> str:
    return ", ".join(loaded.scenario.targets)


def _planned_429_share(model, workers: int) -> float:
    """The share of first attempts a server limit refuses when the workers' pace outruns it and
    no client-side limit covers it (before the adaptive limit backs off: a worst case)."""
    cons = model.constraints(workers)
    t_item = model.item_time()
    offered = workers / t_item if t_item > 0 else math.inf
    client = min((c.rate for c in cons if not c.server_side), default=math.inf)
    pace = min(offered, client)
    share = 0.0
    for c in cons:
        if c.server_side and "capacity" not in c.name and pace > c.rate * 1.0001 and math.isfinite(pace):
            share = max(share, 1.0 - c.rate / pace)
    return share


_CLAIM_FIELDS = {
    "requests_per_second": "sustained_rps",
    "concurrency": "concurrency",
    "bandwidth_out_bps": "bandwidth_out_bps",
    "bandwidth_in_bps": "bandwidth_in_bps",
    "daily_bytes": "daily_bytes",
    "duration_s": "duration_seconds",
    "total_requests": "total_requests",
}
_NEEDS_ITEMS = {"duration_s", "total_requests"}


def _claims(loaded: LoadedScenario, spec: LoadSpec) -> list[ClaimCheck]:
    """The document's figures for this worker count (and batch size, where it matters)."""
    claims = loaded.scenario.claims or {}
    default_items = claims.get("items")
    out: list[ClaimCheck] = []
    seen: set[tuple[str, str]] = set()
    for st in claims.get("statements") or []:
        what = st.get("kind")
        attr = _CLAIM_FIELDS.get(what)
        if attr is None or st.get("value") is None:
            continue
        if "workers" in st and st["workers"] != spec.workers:
            continue
        if what in _NEEDS_ITEMS and st.get("items", default_items) != spec.items:
            continue
        if what == "concurrency" and "burst" in str(st.get("id", "")):
            attr = "burst"
        key = (what, json.dumps(st["value"]))
        if key in seen:
            continue
        seen.add(key)
        note = ""
        total = spec.total_bytes_out + spec.total_bytes_in
        if what == "daily_bytes" and not isinstance(st["value"], list) and abs(st["value"] - total) <= 0.05 * total:
            note = f"{fmt_bytes(st['value'])} is the whole {spec.items:,}-item batch, not a day"
        out.append(ClaimCheck(str(st.get("id", what)), what, str(st.get("quote", "")), st["value"],
                              float(getattr(spec, attr)), note))
    return out


# -- formatting for people ---------------------------------------------------------------------

_LIMIT_NAMES = {"requests_per_second": "req/s", "requests_per_minute": "req/min", "tokens_per_minute": "tokens/min",
                "input_tokens_per_minute": "input tokens/min", "output_tokens_per_minute": "output tokens/min",
                "burst": "burst"}


def fmt_rate(x: float) -> str:
    """7.4, 13.3, 444, 0.37, 1,250."""
    if not math.isfinite(x):
        return "unbounded"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:.1f}".removesuffix(".0")
    if x == 0:
        return "0"
    return f"{x:.2g}"


def _fmt_per_item(x: float) -> str:
    return f"{round(x)}" if abs(x - round(x)) < 1e-9 else f"{x:.3g}"


def fmt_rps(x: float) -> str:
    return f"{fmt_rate(x)} req/s"


def _three(x: float, units: list[str], base: float) -> str:
    i = 0
    while abs(x) >= 999.5 and i < len(units) - 1:
        x /= base
        i += 1
    return f"{x:.3g} {units[i]}"


def fmt_bps(bps: float) -> str:
    """Bits per second, decimal units, three significant figures: 29.6 kbit/s, 2.07 Mbit/s."""
    return _three(bps, ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"], 1000.0)


def fmt_bytes(n: float) -> str:
    """Bytes, decimal units, three significant figures: 500 B, 35 kB, 22.7 GB."""
    return _three(n, ["B", "kB", "MB", "GB", "TB", "PB"], 1000.0)


def fmt_count(n: float) -> str:
    return f"{round(n):,}"


def fmt_duration(s: float) -> str:
    """45 s, 22 min, 7.5 h, 3.1 days (75 h)."""
    if not math.isfinite(s):
        return "never (nothing gets through)"
    if s < 120:
        return f"{s:.0f} s"
    if s < 2 * 3600:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / SECONDS_PER_DAY:.1f} days ({s / 3600:.0f} h)"


def fmt_pct(r: float) -> str:
    p = r * 100
    if p == 0:
        return "0%"
    if p < 0.1:
        return f"{p:.2g}%"
    return f"{p:.1f}%"


def fmt_seconds(s: float) -> str:
    if s < 1:
        return f"{s * 1000:.0f} ms"
    return f"{s:.2f} s" if s < 10 else f"{s:.0f} s"


def fmt_when(d: datetime) -> str:
    return d.strftime("%Y-%m-%d %H:%M") if (d.hour or d.minute) else d.strftime("%Y-%m-%d")


def _fmt_kind(kind: str, value: float | list[float]) -> str:
    if isinstance(value, list):
        return " to ".join(_fmt_kind(kind, v) for v in value)
    return {"requests_per_second": fmt_rps, "bandwidth_out_bps": fmt_bps, "bandwidth_in_bps": fmt_bps,
            "daily_bytes": lambda v: fmt_bytes(v) + "/day", "duration_s": fmt_duration,
            "total_requests": fmt_count, "concurrency": fmt_count}.get(kind, lambda v: f"{v:g}")(value)


def _iso(d: datetime | None) -> str | None:
    return None if d is None else d.isoformat(timespec="minutes")


def parse_start(text: str | None) -> datetime | None:
    """``--start``: an ISO date (2025-07-01) or date and time (2025-07-01T09:00 or '2025-07-01 09:00')."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        try:
            return datetime.combine(date.fromisoformat(text.strip()), datetime.min.time())
        except ValueError:
            raise InvalidInput(f"--start must be an ISO date like 2025-07-01 or 2025-07-01T09:00, got {text!r}") \
                from None


# -- the files -----------------------------------------------------------------------------------

FILES = ("LOAD_SPEC.md", "load_spec.json", "partner_notice.txt")


def _env():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(loader=PackageLoader("harness.reporting", "templates"), undefined=StrictUndefined,
                       keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)


def render(spec: LoadSpec) -> dict[str, str]:
    """The three files' text, all from ``spec``."""
    env = _env()
    ctx = {"spec": spec, "v": spec.view(), "d": spec.to_dict()}
    return {
        "LOAD_SPEC.md": env.get_template("LOAD_SPEC.md.j2").render(ctx),
        "load_spec.json": json.dumps(_finite(spec.to_dict()), indent=2, allow_nan=False) + "\n",
        "partner_notice.txt": env.get_template("partner_notice.txt.j2").render(ctx),
    }


def _finite(x: Any) -> Any:
    """JSON has no infinity: an unbounded figure is written as null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


def write_loadspec(spec: LoadSpec, out_dir: Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, text in render(spec).items():
        path = out_dir / name
        path.write_text(text)
        written[name] = path
    from harness.reporting.html import write_html
    from harness.reporting.plots import plot_claims_ratio, plot_loadspec

    d = _finite(spec.to_dict())
    written.update(plot_loadspec(d, out_dir))
    written.update(plot_claims_ratio(d, out_dir))
    written["report.html"] = write_html(out_dir)
    return written
