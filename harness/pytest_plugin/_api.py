"""The one place the plugin touches the rest of the harness: its public API
(:func:`harness.run`, :class:`harness.RunSummary`, :func:`harness.load_scenario`) and the
mock-start helper, so a change there is an edit here and nowhere else in the plugin."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from harness.runner.summary import RunSummary


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
        transport: str = "fast") -> "RunSummary":
    """Run ``loaded`` to the end against the targets it names, quietly; the typed summary."""
    import harness

    return harness.run(loaded, input=input, output=output, checkpoint=checkpoint, workers=workers,
                       time_scale=time_scale, transport=transport, quiet=True, metrics=False)
