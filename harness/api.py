"""The Python API behind ``harness/__init__``: load, run, plan, sweep and reproduce a scenario.

Each function takes a scenario path or a :class:`~harness.scenario.LoadedScenario` and returns
the typed result the command line prints.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from harness.errors import ScenarioError
from harness.planning.results import Reproduction, claimed_workers
from harness.scenario import LoadedScenario, load_scenario

if TYPE_CHECKING:
    from harness.planning.sweep import SweepResult
    from harness.runner.config import RunConfig
    from harness.runner.summary import RunSummary

ScenarioLike = LoadedScenario | Path | str


def _loaded(scenario: ScenarioLike) -> LoadedScenario:
    return scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)


def run(scenario: ScenarioLike, config: "RunConfig | None" = None, **settings: Any) -> "RunSummary":
    """Run a scenario (on a mock started for it, unless ``target="real"``) and return its summary.

    Give a :class:`RunConfig`, or its fields as keywords (``workers=8, time_scale=0.01``); paths
    default to the scenario's. Quiet unless ``quiet=False``."""
    from harness.planning.planner import planned_duration
    from harness.runner.config import RunConfig
    from harness.runner.inputs import count_items
    from harness.runner.run import execute
    from harness.runner.summary import RunSummary

    loaded = _loaded(scenario)
    if config is None:
        settings.setdefault("quiet", True)
        config = RunConfig.for_scenario(loaded, **settings)
    elif settings:
        config = config.replace(**settings)
    planned = None
    if config.metrics and config.input.exists():
        items = config.total_hint if config.total_hint is not None else count_items(config.input, config.input_format)
        planned = planned_duration(loaded, config.workers or loaded.scenario.workers, items)
    return RunSummary.from_dict(execute(loaded, config, planned_duration_s=planned))


def plan(scenario: ScenarioLike, workers: Sequence[int] = (1, 3, 5, 10), items: int | None = None, *,
         latency_factor: float = 1.0, limit_factor: float = 1.0) -> "SweepResult":
    """The capacity model alone, at each worker count: a result without measurements."""
    from harness.planning.planner import CapacityModel, WhatIf
    from harness.planning.results import SweepPoint, SweepResult
    from harness.planning.sweep import count_input

    if latency_factor <= 0 or limit_factor <= 0:
        raise ScenarioError(f"--latency-factor and --limit-factor must be > 0, got {latency_factor}, {limit_factor}")
    loaded = _loaded(scenario)
    n = items or loaded.scenario.items or count_input(loaded)
    if not n:
        raise ScenarioError("no item count: give --items N (the scenario has no items: and no input to count)")
    model = CapacityModel(loaded, WhatIf(latency_factor, limit_factor))
    result = SweepResult(loaded.scenario.name, n, 1.0, sequential=model.predict(1, n))
    for w in sorted(set(workers)):
        result.points.append(SweepPoint(w, model.predict(w, n)))
    return result


def sweep(scenario: ScenarioLike, workers: Sequence[int] = (1, 3, 5, 10), items: int | None = None, *,
          sample: int | None = None, time_scale: float | None = None, budget_s: float = 12.0,
          progress: Callable[[str], None] | None = None, seed: int | None = None) -> "SweepResult":
    """Run the scenario on the mocks at each worker count, next to the model's prediction
    (``seed``: the mock's latencies and faults repeat from one sweep to the next)."""
    from harness.planning.sweep import run_sweep

    if time_scale is not None and not time_scale > 0:
        raise ScenarioError(f"--time-scale must be > 0, got {time_scale}")
    loaded = _loaded(scenario)
    work = Path(tempfile.mkdtemp(prefix="harness-sweep-"))
    try:
        return run_sweep(loaded, sorted(set(workers)), items=items, sample=sample, time_scale=time_scale,
                         budget_s=budget_s, workdir=work, progress=progress, seed=seed)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def reproduce(scenario: ScenarioLike, *, time_scale: float | None = None, budget_s: float = 12.0,
              progress: Callable[[str], None] | None = None) -> Reproduction:
    """A sweep at every worker count of the document's table, with a verdict on every claim."""
    from harness.planning.claims import check_claims

    loaded = _loaded(scenario)
    ws = claimed_workers(loaded)
    if not ws:
        raise ScenarioError(f"{loaded.path or loaded.scenario.name}: no claims.table with worker counts to reproduce")
    result = sweep(loaded, ws, (loaded.scenario.claims or {}).get("items"), time_scale=time_scale,
                   budget_s=budget_s, progress=progress)
    return Reproduction(result, check_claims(loaded, result))
