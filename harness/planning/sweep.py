"""Sweeps: the scenario run on the mocks at several worker counts, time-compressed and sampled,
next to the capacity model's prediction (and, for a seed, the document's claim).

Each point runs a sample of the input against one mock server (its buckets refilled between
points, as a fresh start), measures the steady throughput from the items' completion times,
and extrapolates to the full item count: ``T_full = T_sample + (N - n) / X_steady`` (the
sample holds one ramp-up and one ramp-down; the rest goes at the steady rate).
"""

from __future__ import annotations

import math
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import Callable

from mock_servers.timescale import TimeScale

from harness.errors import ScenarioError
from harness.runner.config import RunConfig
from harness.runner.inputs import read_items
from harness.runner.mockproc import start_mock_for
from harness.planning.planner import CapacityModel
from harness.planning.results import Measured, Prediction, SweepPoint, SweepResult
from harness.planning.diagnosis import explain
from harness.scenario import LoadedScenario

# seconds: the shortest mean call in wall time, so the runner's and the mock's own per-call wall
# time stays a small share of it on a shared machine (measurements in docs/seeds.md, "Sweeps").
WALL_FLOOR = 0.2
MAX_WALL_RPS = 600.0  # requests/s the sweep asks of runner + mock together on this 2-core machine
# A point bound by the workers measures the mean item time, so its error is the sampling error,
# ~CV / sqrt(n) (CV of an item's time 0.2-0.43 for the seeds' lognormal latencies): it gets up to
# MAX_BUDGET_FACTOR x its budget to run (CV / SAMPLE_SE)^2 items (seed 003: 209, seed 001: 102),
# MIN_SAMPLE when the CV is not known. A point bound by a limit is paced by the limiter, so a few
# items measure it: its sample is what fits the budget, and a sweep of only limit-bound points
# picks a time scale that fits MIN_LIMITED_SAMPLE items.
SAMPLE_SE = 0.03
MIN_SAMPLE = 150
MAX_BUDGET_FACTOR = 5.0
MIN_LIMITED_SAMPLE = 30
LIMITED_WALL_FLOOR = 0.01  # seconds: the shortest mean call in wall time when no point is worker-bound


def choose_time_scale(model: CapacityModel, workers: list[int], items: int, budget_s: float = 12.0) -> float:
    """Fast enough to finish, slow enough to be accurate: every call >= WALL_FLOOR of wall
    time (when some point is bound by its workers, where per-call overhead shows) and at most
    MAX_WALL_RPS requests/s of wall time at the busiest point; when every point is bound by a
    limit, fast enough that MIN_LIMITED_SAMPLE items fit the budget at the slowest point."""
    shortest = min(c.latency_mean for c in model.calls)
    preds = [model.predict(w, items) for w in workers]
    busiest = max(p.requests_per_s for p in preds)
    rps_floor = busiest / MAX_WALL_RPS
    if any(_worker_bound(p) for p in preds) or shortest <= 0:
        scale = max(WALL_FLOOR / shortest if shortest > 0 else 1.0, rps_floor)
    else:
        slowest = min(p.items_per_s for p in preds)
        fit = budget_s * slowest / MIN_LIMITED_SAMPLE
        scale = min(WALL_FLOOR / shortest, max(fit, LIMITED_WALL_FLOOR / shortest, rps_floor))
    return float(f"{min(1.0, max(scale, 0.001)):.2g}")


def _worker_bound(prediction: Prediction) -> bool:
    return prediction.binding.limit == "concurrency"


def item_time_cv(model: CapacityModel) -> float:
    """Coefficient of variation of one item's time: its calls' durations (as the mock draws
    them) added up, independent of each other."""
    var = sum(c.latency.variance() for c in model.calls)
    mean = sum(c.latency_mean for c in model.calls)
    return math.sqrt(var) / mean if mean > 0 else 0.0


def choose_sample(prediction: Prediction, workers: int, items: int, time_scale: TimeScale, budget_s: float,
                  cv: float | None = None) -> int:
    """The largest sample that fits ``budget_s`` of wall time, at least 3 rounds of workers; a
    worker-bound point may take up to MAX_BUDGET_FACTOR x the budget to reach a sampling error
    of SAMPLE_SE (given the item time's ``cv``)."""
    ramp = ramp_width(prediction, workers)
    if prediction.items_per_s <= 0:
        return min(items, 3 * ramp)
    fits = int(budget_s * time_scale.per_second(prediction.items_per_s))
    want = MIN_SAMPLE if cv is None else math.ceil((cv / SAMPLE_SE) ** 2)
    if _worker_bound(prediction) and fits < want:
        fits = min(want, int(MAX_BUDGET_FACTOR * budget_s * time_scale.per_second(prediction.items_per_s)))
    return max(1, min(items, max(3 * ramp, 10, fits)))


def ramp_width(prediction: Prediction, workers: int) -> int:
    """Items in flight at the steady rate: the workers, or fewer when a limit paces them (a
    limit-bound point at 50 workers has ~1 item in flight, so its ramp is one item, not 50)."""
    return max(1, min(workers, math.ceil(prediction.concurrency - 1e-9)))


def steady_throughput(completions: list[float], workers: int) -> float | None:
    """Items per wall second between the W-th completion and the W-th from last (ramp-up and
    ramp-down excluded); None when the sample is too short for a steady window."""
    n = len(completions)
    if n < 3 * workers or n < 10:
        return None
    c = sorted(completions)
    a, b = c[workers - 1], c[n - workers - 1]
    return (n - 2 * workers) / (b - a) if b > a else None


def run_sweep(loaded: LoadedScenario, workers: list[int], items: int | None = None, sample: int | None = None,
              time_scale: TimeScale | float | None = None, budget_s: float = 12.0, workdir: Path | None = None,
              progress: Callable[[str], None] | None = None, seed: int | None = None) -> SweepResult:
    """Predict and measure every worker count; one mock server serves the whole sweep. A
    ``seed`` makes the mock draw the same latencies in the same order: two sweeps of the same
    requests on two profiles then differ by the profiles alone, not by their samples."""
    sc = loaded.scenario
    n_full = items or sc.items or count_input(loaded)
    model = CapacityModel(loaded)
    scale = TimeScale.of(time_scale or choose_time_scale(model, workers, n_full, budget_s))
    cv = item_time_cv(model)
    result = SweepResult(sc.name, n_full, scale.factor, sequential=model.predict(1, n_full))
    claims = {int(r["workers"]): r for r in (sc.claims.get("table") or []) if "workers" in r}
    say = progress or (lambda _msg: None)
    own_dir = workdir is None  # a folder made here is removed here; a caller's is left alone
    work = Path(workdir or tempfile.mkdtemp(prefix=f"sweep-{sc.name}-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _measure(loaded, workers, model, result, n_full, sample, scale, budget_s, cv, claims, say, work, seed)
    finally:
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)


def _measure(loaded: LoadedScenario, workers: list[int], model: CapacityModel, result: SweepResult, n_full: int,
             sample: int | None, scale: TimeScale, budget_s: float, cv: float, claims: dict, say: Callable[[str], None],
             work: Path, seed: int | None = None) -> SweepResult:
    from harness.runner.run import build_targets, run_engine

    sc = loaded.scenario
    with start_mock_for(loaded, scale, seed=seed) as mock:
        for w in workers:
            pred = model.predict(w, n_full)
            n = sample or choose_sample(pred, w, n_full, scale, budget_s, cv)
            sample_path = _write_sample(loaded, work / f"input-{w}.jsonl", n)
            _reset(mock.base_url)
            say(f"{sc.name}: {w} worker{'s' if w != 1 else ''}, {n} of {n_full} items at time scale {scale:g}")
            opts = RunConfig(input=sample_path, output=work / f"output-{w}.jsonl",
                              checkpoint=work / f"checkpoint-{w}.sqlite", workers=w, time_scale=scale,
                              input_format="jsonl", output_format="jsonl")
            targets = build_targets(loaded, "mock", mock.base_url, scale)
            stats = run_engine(loaded, opts, targets, record_completions=True)
            summary = stats.summary()
            wall = stats.elapsed()
            steady = steady_throughput(stats.completions or [], ramp_width(pred, w))
            x_wall = steady if steady is not None else (n / wall if wall > 0 else 0.0)
            full_wall = wall + (n_full - n) / x_wall if x_wall > 0 else math.inf
            measured = Measured(n, wall, scale.profile_seconds(full_wall), scale.profile_rate(x_wall), summary)
            point = SweepPoint(w, pred, measured, claims.get(w))
            result.points.append(point)
            hint = explain(point)
            if hint:  # more than the bar off: say what the run suggests, not only the number
                result.notes.append(hint)
    return result


def predict_only(loaded: LoadedScenario, workers: list[int], items: int | None = None) -> SweepResult:
    """The model alone (``harness plan``)."""
    sc = loaded.scenario
    n_full = items or sc.items or count_input(loaded)
    model = CapacityModel(loaded)
    claims = {int(r["workers"]): r for r in (sc.claims.get("table") or []) if "workers" in r}
    result = SweepResult(sc.name, n_full, 1.0, sequential=model.predict(1, n_full))
    for w in workers:
        result.points.append(SweepPoint(w, model.predict(w, n_full), None, claims.get(w)))
    return result


def _write_sample(loaded: LoadedScenario, path: Path, n: int) -> Path:
    """The first ``n`` parsable rows of the input (cycled if the input is shorter) as JSONL."""
    import orjson

    src = loaded.resolve(loaded.scenario.input.path)
    if src is None:
        raise ScenarioError("the scenario has no input.path to sample from")
    rows = []
    for item in read_items(src, loaded.scenario.input.format, loaded.scenario.input.id):
        if item.row is not None:
            rows.append(item.row)
        if len(rows) >= n:
            break
    if not rows:
        raise ScenarioError(f"no parsable rows in {src}")
    id_field = loaded.scenario.input.id
    with path.open("wb") as f:
        for i in range(n):
            row = dict(rows[i % len(rows)])
            if id_field and i >= len(rows):
                row[id_field] = f"{row.get(id_field)}-{i // len(rows)}"
            f.write(orjson.dumps(row) + b"\n")
    return path


def _reset(base_url: str) -> None:
    req = urllib.request.Request(base_url + "/admin/reset", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def count_input(loaded: LoadedScenario) -> int:
    from harness.runner.inputs import count_items

    src = loaded.resolve(loaded.scenario.input.path)
    return count_items(src, loaded.scenario.input.format) if src and src.exists() else 0
