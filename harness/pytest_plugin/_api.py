"""The one place the plugin touches the harness's internals.

The public Python API (``harness.run``, a typed run summary, one mock-start helper) is being
built in parallel; until it lands, these three functions wrap what exists today
(:func:`harness.runner.mockproc.start_mock`, :func:`harness.runner.run.execute`), so switching
to it is an edit here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from harness.pytest_plugin.summary import RunSummary


def start_mock(providers: Sequence[str], *, time_scale: float, sets: Sequence[str], profiles: Sequence[str],
               seed: int | None):
    """A running mock server process (``.base_url``, ``.stop()``, ``.log()``)."""
    from harness.runner.mockproc import start_mock as _start

    return _start(providers, time_scale=time_scale, sets=sets, profiles=profiles, seed=seed)


def load_scenario(source: Path | dict[str, Any], base_dir: Path):
    """A validated scenario from a YAML path or a mapping (relative paths against ``base_dir``)."""
    from harness.scenario import load_scenario as _load, scenario_from_data

    if isinstance(source, dict):
        return scenario_from_data(source, base_dir / "scenario.yaml")
    return _load(source)


def run(loaded, *, input: Path, output: Path, checkpoint: Path, workers: int | None, time_scale: float,
        transport: str = "fast") -> RunSummary:
    """Run ``loaded`` to the end against the targets it names, quietly; the typed summary."""
    from harness.runner.engine import RunOptions
    from harness.runner.run import RunRequest, execute

    opts = RunOptions(input=input, output=output, checkpoint=checkpoint, workers=workers, time_scale=time_scale,
                      transport=transport, input_format=loaded.scenario.input.format,
                      output_format=loaded.scenario.output.format)
    summary = execute(RunRequest(loaded, opts, "mock", quiet=True, metrics=False))
    return RunSummary.from_dict(summary)
