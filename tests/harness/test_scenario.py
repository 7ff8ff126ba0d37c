"""Scenario validation: errors name the field, the value and what to do."""

from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.scenario import load_scenario, scenario_from_data

EXAMPLES = Path(__file__).resolve().parents[2] / "scenarios" / "examples"

BASE = {
    "name": "t",
    "targets": {"openai": {"profile": "openai"}},
    "steps": [{"name": "chat", "target": "openai", "path": "/v1/chat/completions", "json": {"model": "gpt-4o-mini"}}],
}


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_example_validates(path):
    loaded = load_scenario(path)
    assert loaded.scenario.targets
    for name in loaded.scenario.targets:
        assert loaded.profiles[name].name


def test_unknown_target_in_a_step_names_the_step():
    data = {**BASE, "steps": [{**BASE["steps"][0], "target": "opneai"}]}
    with pytest.raises(ScenarioError) as exc:
        scenario_from_data(data)
    assert "steps.0.target" in str(exc.value) and "'opneai'" in str(exc.value)


def test_unknown_field_is_refused_with_its_path():
    data = {**BASE, "workres": 5}
    with pytest.raises(ScenarioError) as exc:
        scenario_from_data(data)
    assert "workres" in str(exc.value)


def test_bad_value_shows_the_value():
    data = {**BASE, "workers": 0}
    with pytest.raises(ScenarioError) as exc:
        scenario_from_data(data)
    assert "workers" in str(exc.value) and "(got 0)" in str(exc.value)


def test_steps_or_function_exactly_one():
    with pytest.raises(ScenarioError) as exc:
        scenario_from_data({**BASE, "function": "mod:fn"})
    assert "exactly one" in str(exc.value)


def test_unknown_profile_lists_shipped_ones():
    data = {**BASE, "targets": {"openai": {"profile": "nosuch"}}}
    with pytest.raises(ScenarioError) as exc:
        scenario_from_data(data)
    assert "targets.openai.profile" in str(exc.value) and "cardgenius" in str(exc.value)


def test_api_key_env_must_be_a_variable_name():
    data = {**BASE, "targets": {"openai": {"profile": "openai", "api_key_env": "sk-live-123"}}}
    with pytest.raises(ScenarioError) as exc:
        scenario_from_data(data)
    assert "api_key_env" in str(exc.value)
