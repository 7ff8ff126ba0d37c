"""Issue 14.17-18: what a newcomer stumbled on."""

from __future__ import annotations

import json
from pathlib import Path

from harness.planning.claims import check_claims
from harness.runner.stats import RunStats
from harness.scenario import load_scenario
from tests.harness.runutil import REPO, run_cli, write_scenario

DOC = {"targets": {"cg": {"profile": "cardgenius"}},
       "steps": [{"name": "rec", "target": "cg", "method": "POST", "path": "/v1/recommendations",
                  "json": {"u": "{{ row.id }}"}}],
       "workers": 1, "mock": {"cardgenius.latency.median": 0.01, "cardgenius.latency.p99": 0.02}}


def test_sweep_and_reproduce_help_name_the_default_folder() -> None:
    for cmd in ("sweep", "reproduce"):
        out = run_cli([cmd, "--help"], env={"COLUMNS": "200"}).stdout
        assert "reports/SCENARIO-TIMESTAMP/" in out and "reports/-/" not in out, out


def test_failure_reasons_group_by_kind_not_by_line() -> None:
    s = RunStats()
    s.start(3)
    for line in (3, 9, 27):
        s.item_finished("failed", f"line {line}: malformed CSV: unexpected end of data")
    s.item_finished("failed", "line 4: item is 200,000 bytes, over the 100,000-byte limit (--max-item-bytes)")
    s.item_finished("failed", "line 8: item is 300,123 bytes, over the 100,000-byte limit (--max-item-bytes)")
    assert s.summary()["failure_reasons"] == {
        "malformed CSV: unexpected end of data": 3,
        "item is N bytes, over the N-byte limit (--max-item-bytes)": 2}


def test_summary_says_where_the_output_went_and_no_bar_before_a_refusal(tmp_path: Path) -> None:
    wd = write_scenario(tmp_path, DOC, 3)
    first = run_cli(["run", str(wd.scenario)], env={"COLUMNS": "200"})
    assert first.returncode == 0, first.stderr
    assert f"-> {wd.output}" in first.stderr and "output" in first.stderr  # before: only with --quiet
    again = run_cli(["run", str(wd.scenario)], env={"COLUMNS": "200"})
    assert again.returncode == 2 and "use --resume" in again.stderr
    assert again.stderr.startswith("error: checkpoint"), again.stderr  # before: an empty "0/? ETA" bar above it
    assert "1 workers" not in first.stderr


def test_seed_004_speedups_say_their_baseline() -> None:
    loaded = load_scenario(REPO / "scenarios/seeds/004-research-email.yaml")
    why = {v.id: v.arithmetic for v in check_claims(loaded)}
    assert "speed-up vs 15 workers" in why["speedup-headline"], why["speedup-headline"]


def test_loadspec_run_says_to_run_the_batch_first(tmp_path: Path) -> None:
    proc = run_cli(["loadspec", "--run", str(tmp_path / "missing.sqlite")], env={"COLUMNS": "200"})
    assert proc.returncode == 2 and "run the batch first" in proc.stderr, proc.stderr


def test_loadspec_run_does_not_replace_the_plan_folder(tmp_path: Path) -> None:
    wd = write_scenario(tmp_path, DOC, 5)
    assert run_cli(["run", str(wd.scenario), "--quiet"]).returncode == 0
    plan = run_cli(["loadspec", "--plan", str(wd.scenario), "--items", "100"], cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    run = run_cli(["loadspec", "--run", str(wd.checkpoint)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "reports/loadspec-run/load_spec.json").read_text())["source"] == "plan"
    assert json.loads((tmp_path / "reports/loadspec-run-run/load_spec.json").read_text())["source"] == "run"
