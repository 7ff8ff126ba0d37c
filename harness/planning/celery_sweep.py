"""``harness reproduce --engine celery``: each worker count of the document run as static chunk
tasks on that many real Celery worker processes (a local redis-server, the shared limiter),
next to the topology model's prediction for exactly that layout, and what a shared queue would
have taken.

The document's layout is kept: as many chunks as the scenario's ``workers`` (seed 001: 8 chunks
of 125), each run with one item in flight. When the whole batch would not fit the budget, a
sample runs in the same number of chunks (of fewer items each); model and measurement are both
of the sample, then scaled to the full item count by the same factor.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Callable

from harness.planning.planner import CapacityModel
from harness.planning.results import Measured, SweepPoint, SweepResult
from harness.planning.sweep import _reset, _write_sample, count_input
from harness.planning.topology import Topology
from harness.runner.mockproc import start_mock_for
from harness.scenario import LoadedScenario

DEFAULT_TIME_SCALE = 0.2  # calls >= ~0.1 s of wall time: runner + mock overhead a few %


def run_celery_sweep(loaded: LoadedScenario, workers: list[int], items: int | None = None, sample: int | None = None,
                     time_scale: float | None = None, budget_s: float = 12.0, workdir: Path | None = None,
                     progress: Callable[[str], None] | None = None, chunks: int | None = None,
                     workers_per_process: int = 1) -> SweepResult:
    """Run and predict every worker count as ``chunks`` static chunk tasks on that many processes."""
    from harness.runner.distributed.coordinator import CeleryOptions, execute_distributed
    from harness.runner.distributed.local import LocalCluster
    from harness.runner.config import RunConfig

    sc = loaded.scenario
    say = progress or (lambda _m: None)
    n_full = items or sc.items or count_input(loaded)
    n_chunks = chunks or sc.workers
    scale = time_scale or DEFAULT_TIME_SCALE
    model = CapacityModel(loaded)
    work = Path(workdir or Path.cwd() / "celery-sweep")
    slowest = model.predict_topology(Topology(min(workers), workers_per_process, math.ceil(n_full / n_chunks)), n_full)
    per_item_wall = slowest.duration_s / n_full * scale
    n = sample or min(n_full, max(n_chunks, int(3 * budget_s / per_item_wall) if per_item_wall > 0 else n_full))
    size = math.ceil(n / n_chunks)
    n = min(n, size * n_chunks)
    factor = n_full / n
    result = SweepResult(sc.name, n_full, scale, sequential=model.predict(1, n_full))
    result.notes.append(f"engine celery: {n_chunks} static chunk tasks of {size} items, {workers_per_process} in flight "
                        f"each, on as many local worker processes as workers; a shared Redis limiter"
                        + (f"; a sample of {n} of {n_full} items, scaled x{factor:.3g}" if n < n_full else ""))
    claims = sc.claims.rows_by_workers()
    with start_mock_for(loaded, scale) as mock:
        data = _write_sample(loaded, work / "input.jsonl", n)
        for w in workers:
            topo = Topology(w, workers_per_process, size)
            tp = model.predict_topology(topo, n)
            pred = model.predict(w * workers_per_process, n_full)
            pred = replace(pred, duration_s=tp.duration_s * factor, items_per_s=n / tp.duration_s,
                           binding=f"{tp.binding} ({topo.kind})")
            _reset(mock.base_url)
            say(f"{sc.name}: {w} worker processes, {n_chunks} chunks of {size} at time scale {scale:g}")
            config = RunConfig(input=data, output=work / f"output-{w}.jsonl", checkpoint=work / f"unused-{w}.sqlite",
                               workers=w * workers_per_process, time_scale=scale, input_format="jsonl",
                               output_format="jsonl", target="mock", quiet=True)
            with LocalCluster(work / f"cluster-{w}", w) as cluster:
                summary = execute_distributed(loaded, config, CeleryOptions(broker=cluster.broker, chunk_size=size, processes=w,
                                                                 mock_base=mock.base_url, run_dir=work / f"run-{w}"))
            wall = summary["makespan_wall_seconds"] or summary["duration_wall_seconds"]
            startup = summary["duration_wall_seconds"] - wall
            measured = Measured(n, wall, wall / scale * factor, n / (wall / scale) if wall > 0 else 0.0, summary)
            result.points.append(SweepPoint(w, pred, measured, claims.get(w)))
            result.notes.append(f"{w} workers: {tp.describe()}; measured {wall / scale * factor:,.0f} s (the busiest "
                                f"process's engine time; chunk start-up, {startup:.1f} s of real time not compressed "
                                "by the time scale, left out)")
    return result


def reproduce_on_celery(loaded: LoadedScenario, *, time_scale: float | None = None, budget_s: float = 12.0,
                        progress: Callable[[str], None] | None = None):
    """:func:`harness.reproduce` on Celery: the document's table as static chunk tasks."""
    import shutil
    import tempfile

    from harness.planning.results import Reproduction, claimed_workers
    from harness.errors import ScenarioError
    from harness.planning.claims import check_claims

    ws = claimed_workers(loaded)
    if not ws:
        raise ScenarioError(f"{loaded.path or loaded.scenario.name}: no claims.table with worker counts to reproduce")
    work = Path(tempfile.mkdtemp(prefix="harness-celery-sweep-"))
    try:
        result = run_celery_sweep(loaded, ws, loaded.scenario.claims.items, time_scale=time_scale,
                                  budget_s=budget_s, workdir=work, progress=progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Reproduction(result, check_claims(loaded, result))
