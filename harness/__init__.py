"""ratelimit-harness: run, plan and sweep batch jobs against rate-limited APIs, on mocks first.

The public Python API (everything else is implementation)::

    import harness

    loaded = harness.load_scenario("scenarios/seeds/003-cardgenius.yaml")
    summary = harness.run(loaded, workers=10, time_scale=0.01)   # a RunSummary
    plan = harness.plan(loaded, workers=[1, 10, 20])             # a SweepResult, model only

Names are imported on first use (PEP 562), so ``import harness.runner.limiter`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "load_scenario": "harness.scenario",
    "LoadedScenario": "harness.scenario",
    "Scenario": "harness.scenario",
    "run": "harness.api",
    "plan": "harness.api",
    "sweep": "harness.api",
    "reproduce": "harness.api",
    "Reproduction": "harness.planning.results",
    "RunConfig": "harness.runner.config",
    "RunSummary": "harness.runner.summary",
    "Checkpoint": "harness.runner.checkpoint",
    "SweepResult": "harness.planning.results",
    "SweepPoint": "harness.planning.results",
    "Prediction": "harness.planning.results",
    "CapacityModel": "harness.planning.planner",
    "LoadSpec": "harness.reporting.loadspec",
    "write_loadspec": "harness.reporting.loadspec",
    **{name: "harness.errors" for name in (
        "HarnessError", "InvalidInput", "ScenarioError", "CheckpointError", "OutputError", "SetupError",
        "TargetUnreachable", "MockStartError", "ItemFailed", "CallFailed", "TemplateFailure", "TransportError")},
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ imports on demand
    from harness.api import plan, reproduce, run, sweep
    from harness.errors import (CallFailed, CheckpointError, HarnessError, InvalidInput, ItemFailed, MockStartError,
                                OutputError, ScenarioError, SetupError, TargetUnreachable, TemplateFailure,
                                TransportError)
    from harness.planning.planner import CapacityModel
    from harness.planning.results import Prediction, Reproduction, SweepPoint, SweepResult
    from harness.reporting.loadspec import LoadSpec, write_loadspec
    from harness.runner.checkpoint import Checkpoint
    from harness.runner.config import RunConfig
    from harness.runner.summary import RunSummary
    from harness.scenario import LoadedScenario, Scenario, load_scenario


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
