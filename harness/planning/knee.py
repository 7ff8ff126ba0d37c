"""Knee detection on a Locust stats history (``--csv PREFIX --csv-full-history``).

A step ramp holds each user count for a while; per step this module measures the throughput
(HTTP requests/s), the p95 latency and the 429 and error ratios, and finds the knee: the last
step at which the SLO still holds (p95 under ``slo_p95``, 429s and other errors under their
ratios) **and** the throughput still grows with the users. Its throughput is the highest
sustainable rate; the step after it says what broke (latency, 429s, errors, or a plateau).

Reading the history:
- rows come in ticks (about one a second), one row per entry and the ``Aggregated`` row last;
  a tick's time is fitted from the tick sequence, because Locust writes whole seconds;
- 429s are the entries named ``"<endpoint> [429]"`` and errors the other entries' failures
  (see :mod:`harness.locust_support.outcomes`); TTFT and tokens/s entries are not requests;
- p95 is the highest sliding-window p95 of the request entries at the step's last tick (the
  window is set to the step by ``harness.locust_support``); without ``--csv-full-history`` only
  the Aggregated row exists, with no 429 split and cumulative percentiles, so the report says so.

Pure functions; :func:`knee_from_csv` reads the file.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from harness.locust_support.outcomes import NON_HTTP_TYPES, is_rate_limited_name

AGGREGATED = "Aggregated"


@dataclass(frozen=True)
class KneeConfig:
    """The SLO and the rules. Latencies in seconds of the same clock as the report."""

    slo_p95: float | None = None        # seconds; None: latency is not judged
    max_error_ratio: float = 0.01       # non-429 failures / requests
    max_rate_limited_ratio: float | None = None  # 429s / requests; None: the same as max_error_ratio
    min_growth: float = 0.25            # a step "grows" if req/s rose by >= this share of the users' rise
    time_scale: float = 1.0             # the mock's --time-scale: report rates and p95 in real time

    @property
    def rate_limited_limit(self) -> float:
        return self.max_error_ratio if self.max_rate_limited_ratio is None else self.max_rate_limited_ratio


@dataclass
class Tick:
    t: float                     # fitted seconds since the first tick
    users: int
    requests: int                # cumulative HTTP requests (429s included)
    rate_limited: int            # cumulative 429s
    errors: int                  # cumulative non-429 failures
    p95_ms: float | None         # sliding-window p95 of the request entries


@dataclass
class Step:
    users: int
    start: float
    end: float
    requests: int
    rps: float                   # requests/s (wall clock of the run)
    ok_rps: float
    p95: float | None            # seconds (wall clock of the run)
    rate_limited_ratio: float
    error_ratio: float
    verdict: str = ""            # ok, or what broke: p95, 429s, errors, plateau, too short

    def real(self, time_scale: float) -> dict[str, Any]:
        d = asdict(self)
        d["rps"] = self.rps * time_scale
        d["ok_rps"] = self.ok_rps * time_scale
        d["p95"] = None if self.p95 is None else self.p95 / time_scale
        return d


@dataclass
class KneeReport:
    steps: list[Step]
    knee: Step | None
    broke: Step | None
    config: KneeConfig
    notes: list[str] = field(default_factory=list)

    @property
    def sustainable_rps(self) -> float | None:
        """The highest sustainable requests/s, in real time (wall clock x time scale)."""
        return None if self.knee is None else self.knee.rps * self.config.time_scale

    @property
    def users(self) -> int | None:
        return None if self.knee is None else self.knee.users

    def to_dict(self) -> dict[str, Any]:
        ts = self.config.time_scale
        return {
            "sustainable_rps": self.sustainable_rps,
            "sustainable_per_minute": None if self.sustainable_rps is None else self.sustainable_rps * 60,
            "users": self.users,
            "broke_at_users": None if self.broke is None else self.broke.users,
            "broke_because": None if self.broke is None else self.broke.verdict,
            "config": asdict(self.config),
            "steps": [s.real(ts) for s in self.steps],
            "notes": self.notes,
        }


# -- reading ------------------------------------------------------------------------------
def read_history(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "", "N/A") else None
    except ValueError:
        return None


def ticks_from_rows(rows: Iterable[dict[str, str]]) -> tuple[list[Tick], bool]:
    """Group the rows into ticks (each ends with its Aggregated row); (ticks, had per-entry rows)."""
    raw: list[tuple[float, Tick]] = []
    pending: list[dict[str, str]] = []
    full = False
    for row in rows:
        if row.get("Name") != AGGREGATED:
            pending.append(row)
            continue
        entries = [r for r in pending if (r.get("Type") or "") not in NON_HTTP_TYPES]
        full = full or bool(pending)
        pending = []
        if entries:
            requests = sum(int(_num(r.get("Total Request Count")) or 0) for r in entries)
            limited = [r for r in entries if is_rate_limited_name(r.get("Name") or "")]
            rate_limited = sum(int(_num(r.get("Total Request Count")) or 0) for r in limited)
            errors = sum(int(_num(r.get("Total Failure Count")) or 0) for r in entries) - \
                sum(int(_num(r.get("Total Failure Count")) or 0) for r in limited)
            p95s = [_num(r.get("95%")) for r in entries if not is_rate_limited_name(r.get("Name") or "")]
            p95s = [p for p in p95s if p is not None and p > 0]
            p95 = max(p95s) if p95s else None
        else:  # no --csv-full-history: the Aggregated row alone
            requests = int(_num(row.get("Total Request Count")) or 0)
            rate_limited = 0
            errors = int(_num(row.get("Total Failure Count")) or 0)
            p95 = _num(row.get("95%"))
        stamp = _num(row.get("Timestamp")) or 0.0
        raw.append((stamp, Tick(0.0, int(_num(row.get("User Count")) or 0), requests, rate_limited, errors, p95)))
    times = _fit_times([s for s, _ in raw])
    ticks = []
    for t, (_, tick) in zip(times, raw):
        tick.t = t
        ticks.append(tick)
    return ticks, full


def _fit_times(stamps: Sequence[float]) -> list[float]:
    """Tick times from whole-second stamps: a least-squares line over the tick index (Locust
    writes a tick about every second), kept only if it agrees with the stamps within 1.5 s."""
    n = len(stamps)
    if n < 3:
        return [s - (stamps[0] if stamps else 0.0) for s in stamps]
    xs = range(n)
    mx, my = (n - 1) / 2, sum(stamps) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, stamps)) / sxx
    fitted = [my + slope * (x - mx) + 0.5 for x in xs]
    if slope <= 0 or max(abs(f - (s + 0.5)) for f, s in zip(fitted, stamps)) > 1.5:
        fitted = [s + 0.5 for s in stamps]  # irregular ticks (a stalled writer): trust the stamps
    return [f - fitted[0] for f in fitted]


def steps_from_ticks(ticks: Sequence[Tick]) -> list[Step]:
    """One step per run of ticks with the same user count (0 users skipped): throughput, ratios
    and p95 between the step's first and last tick."""
    groups: list[list[Tick]] = []
    for tick in ticks:
        if tick.users <= 0:
            continue
        if groups and groups[-1][-1].users == tick.users:
            groups[-1].append(tick)
        else:
            groups.append([tick])
    steps = []
    for g in groups:
        a, b = g[0], g[-1]
        span = b.t - a.t
        n = b.requests - a.requests
        limited = b.rate_limited - a.rate_limited
        errors = b.errors - a.errors
        rps = n / span if span > 0 else 0.0
        ok = max(0, n - limited - errors)
        steps.append(Step(
            users=a.users, start=a.t, end=b.t, requests=n, rps=rps, ok_rps=ok / span if span > 0 else 0.0,
            p95=None if b.p95_ms is None else b.p95_ms / 1000.0,
            rate_limited_ratio=limited / n if n else 0.0, error_ratio=errors / n if n else 0.0,
        ))
    return steps


# -- judging ------------------------------------------------------------------------------
def judge(steps: list[Step], config: KneeConfig) -> tuple[Step | None, Step | None]:
    """Mark each step's verdict; return (knee, the step that broke)."""
    knee: Step | None = None
    broke: Step | None = None
    prev: Step | None = None
    for step in steps:
        if step.requests < 2 or step.end - step.start <= 0:
            step.verdict = "too short"
            continue
        reasons = []
        if config.slo_p95 is not None and step.p95 is not None and step.p95 / config.time_scale > config.slo_p95:
            reasons.append("p95")
        if step.rate_limited_ratio > config.rate_limited_limit:
            reasons.append("429s")
        if step.error_ratio > config.max_error_ratio:
            reasons.append("errors")
        if not reasons and prev is not None and step.users > prev.users:
            wanted = config.min_growth * (step.users / prev.users - 1.0)
            if step.rps < prev.rps * (1.0 + wanted):
                reasons.append("plateau")
        if not reasons and prev is not None and step.users < prev.users:
            reasons.append("users fell")  # a spike's way down: the ramp is over
        if reasons:
            step.verdict = ", ".join(reasons)
            if broke is None:
                broke = step
            break
        step.verdict = "ok"
        knee = step
        prev = step
    return knee, broke


def find_knee(rows: Iterable[dict[str, str]], config: KneeConfig | None = None) -> KneeReport:
    config = config or KneeConfig()
    ticks, full = ticks_from_rows(rows)
    steps = steps_from_ticks(ticks)
    knee, broke = judge(steps, config)
    notes = []
    if not full:
        notes.append("no per-entry rows (run Locust with --csv-full-history): 429s are counted as errors and p95 is "
                     "cumulative, not per step")
    if len(steps) < 2:
        notes.append("fewer than two steps: use --shape step to ramp the users")
    if knee is not None and broke is None:
        notes.append("the SLO held at every step: the knee is at least this high; ramp further (-u)")
    if knee is None and steps:
        notes.append("the SLO broke at the first step: start lower (--users-start)")
    return KneeReport(steps, knee, broke, config, notes)


def knee_from_csv(path: str | Path, config: KneeConfig | None = None) -> KneeReport:
    return find_knee(read_history(path), config)


def format_report(report: KneeReport) -> str:
    ts = report.config.time_scale
    unit = " (real time)" if ts != 1.0 else ""
    lines = [f"{'users':>6} {'req/s':>9} {'ok req/s':>9} {'p95 s':>8} {'429s':>7} {'errors':>7}  verdict{unit}"]
    for s in report.steps:
        p95 = "-" if s.p95 is None else f"{s.p95 / ts:.3f}"
        mark = "  <- knee" if s is report.knee else ""
        lines.append(f"{s.users:>6} {s.rps * ts:>9.3f} {s.ok_rps * ts:>9.3f} {p95:>8} {s.rate_limited_ratio:>7.1%} "
                     f"{s.error_ratio:>7.1%}  {s.verdict or '-'}{mark}")
    if report.knee is not None:
        k = report.knee
        lines.append(f"knee: {k.rps * ts:.3f} req/s ({k.rps * ts * 60:.1f}/min) sustainable at {k.users} users"
                     + (f" (measured {k.rps:.1f} req/s at time scale {ts:g})" if ts != 1.0 else ""))
    else:
        lines.append("knee: none found")
    if report.broke is not None:
        b = report.broke
        lines.append(f"broke at {b.users} users: {b.verdict} (p95 {'-' if b.p95 is None else f'{b.p95 / ts:.3f} s'}, "
                     f"429s {b.rate_limited_ratio:.1%}, errors {b.error_ratio:.1%})")
    lines.extend(f"note: {n}" for n in report.notes)
    return "\n".join(lines)
