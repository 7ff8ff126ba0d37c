"""The seeds' ``claims:`` section as a typed model: validated on load, errors name the field and value."""

from pathlib import Path

import pytest

from harness.claims_spec import ClaimRow, ClaimStatement, Claims
from harness.errors import ScenarioError
from harness.scenario import load_scenario, scenario_from_data

SEEDS = Path(__file__).resolve().parents[2] / "scenarios" / "seeds"

BASE = {
    "name": "t",
    "targets": {"openai": {"profile": "openai"}},
    "steps": [{"name": "chat", "target": "openai", "path": "/v1/chat/completions", "json": {"model": "gpt-4o-mini"}}],
}


def _error(claims: dict) -> str:
    with pytest.raises(ScenarioError) as exc:
        scenario_from_data({**BASE, "claims": claims})
    return str(exc.value)


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_seed_loads_typed_claims(path):
    claims = load_scenario(path).scenario.claims
    assert isinstance(claims, Claims) and claims.source and claims.table and claims.statements
    assert all(isinstance(r, ClaimRow) for r in claims.table)
    assert all(isinstance(s, ClaimStatement) and s.id and s.kind for s in claims.statements)


def test_figures_keep_the_type_the_document_gave():
    claims = scenario_from_data({**BASE, "claims": {
        "table": [{"workers": 1, "duration_s": 600, "quote": "q"}, {"workers": 5, "duration_s": [60, 120.5]}],
        "statements": [{"id": "a", "kind": "other", "value": True}, {"id": "b", "kind": "latency_s", "value": 2}]}}
    ).scenario.claims
    assert type(claims.table[0].duration_s) is int and claims.table[1].duration_s == [60, 120.5]
    assert claims.statements[0].value is True and type(claims.statements[1].value) is int
    assert claims.rows_by_workers() == {1: {"workers": 1, "duration_s": 600, "quote": "q"},
                                        5: {"workers": 5, "duration_s": [60, 120.5]}}
    assert claims.table_workers() == [1, 5]


def test_a_figure_that_is_not_a_number_names_the_field_and_value():
    msg = _error({"table": [{"workers": 3, "duration_s": "about 3 min"}]})
    assert "claims.table.0.duration_s" in msg and "'about 3 min'" in msg and "[min, max]" in msg


def test_a_range_of_three_is_refused():
    msg = _error({"statements": [{"id": "r", "kind": "duration_s", "value": [1, 2, 3]}]})
    assert "claims.statements.0.value" in msg and "[min, max]" in msg


def test_an_unknown_claim_field_is_refused_with_its_path():
    msg = _error({"table": [{"workers": 3, "durration_s": 60}]})
    assert "claims.table.0.durration_s" in msg


def test_a_row_without_a_worker_count_is_refused():
    msg = _error({"table": [{"duration_s": 60}]})
    assert "claims.table.0.workers" in msg


def test_a_statement_worker_count_must_be_positive():
    msg = _error({"statements": [{"id": "w", "kind": "duration_s", "workers": 0, "value": 5}]})
    assert "claims.statements.0.workers" in msg and "(got 0)" in msg
