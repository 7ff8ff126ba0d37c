"""The public Python API (harness/__init__) and the one error tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import harness
from harness import errors

SEED = Path(__file__).resolve().parents[2] / "scenarios" / "seeds" / "003-cardgenius.yaml"


def test_every_public_name_resolves():
    for name in harness.__all__:
        assert getattr(harness, name) is not None, name


def test_importing_a_runner_module_stays_cheap():
    code = ("import sys, harness.runner.limiter; "
            "print(sorted(m for m in sys.modules if m.startswith('harness.') and m.split('.')[1] in "
            "('planning', 'reporting', 'api', 'scenario', 'cli')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_error_is_a_harness_error_with_one_exit_code():
    classes = [getattr(errors, n) for n in errors.__all__]
    for cls in classes:
        assert issubclass(cls, harness.HarnessError), cls
        assert cls.exit_code in (1, 2, 3), cls  # 3: the run stopped early, resumable
    assert issubclass(harness.ScenarioError, ValueError) and harness.ScenarioError.exit_code == 2
    assert harness.TargetUnreachable.exit_code == 2 and harness.MockStartError.exit_code == 2
    from harness.runner.checkpoint import CheckpointError
    from harness.runner.output import OutputError
    from harness.runner.templates import TemplateFailure

    assert CheckpointError is harness.CheckpointError and OutputError is harness.OutputError
    assert TemplateFailure is harness.TemplateFailure


def test_plan_returns_a_typed_result():
    result = harness.plan(SEED, workers=[1, 20], items=1000)
    assert isinstance(result, harness.SweepResult)
    assert [p.workers for p in result.points] == [1, 20]
    assert result.points[1].predicted.items_per_s > result.points[0].predicted.items_per_s


def test_bad_input_raises_the_scenario_error():
    with pytest.raises(harness.ScenarioError, match="must be > 0"):
        harness.plan(SEED, latency_factor=0)
    with pytest.raises(harness.ScenarioError, match="--target must be 'mock' or 'real', got 'prod'"):
        harness.RunConfig(input=Path("i"), output=Path("o"), checkpoint=Path("c"), target="prod")  # type: ignore[arg-type]
