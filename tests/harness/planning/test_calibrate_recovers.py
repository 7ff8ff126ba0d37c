"""Calibration recovers a known API: 500 items against a mock whose profile was changed with
``--set`` (the command is never told), then ``harness calibrate`` on the checkpoint alone.

Bars (issue 12): median latency within 5%, p99 within 10%, tokens/s within 5%, bytes within
2%, limits exact, and the capacity model on the fitted profile within 5% of the model on the
true profile at every worker count. The mock is seeded, so a run draws the same latencies.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.planning.planner import CapacityModel
from harness.runner.mockproc import start_mock
from harness.scenario import load_scenario

REPO = Path(__file__).resolve().parents[3]
WORKERS = (1, 5, 10, 20, 50)


def _run(root: Path, doc: dict, time_scale: float) -> Path:
    scenario = root / "rehearsal.yaml"
    scenario.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = subprocess.run([sys.executable, "-m", "harness", "run", str(scenario), "--time-scale", str(time_scale),
                           "--quiet"], capture_output=True, text=True, timeout=240, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "out.jsonl.checkpoint.sqlite"


def _calibrate(ckpt: Path, out: Path) -> tuple[dict, dict, Path]:
    proc = subprocess.run([sys.executable, "-m", "harness", "calibrate", str(ckpt), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    profile = yaml.safe_load(out.read_text())
    report = json.loads(out.with_suffix(".fit.json").read_text())
    return profile, report, out.parent / "rehearsal.calibrated.yaml"


def _within(got: float, want: float, tol: float, what: str) -> None:
    print(f"  {what}: fitted {got:.4g}, true {want:.4g} ({got / want - 1:+.2%}, bar {tol:.0%})")
    assert abs(got / want - 1) <= tol, f"{what}: fitted {got:.4g}, true {want:.4g} ({got / want - 1:+.1%}, bar {tol:.0%})"


def _inputs(root: Path, n: int) -> Path:
    path = root / "in.jsonl"
    path.write_text("".join(json.dumps({"id": f"i{i}", "prompt": f"describe product {i}"}) + "\n" for i in range(n)))
    return path


def _plans_agree(true_scenario: dict, fitted_scenario: Path, items: int) -> dict[int, float]:
    true_loaded = load_scenario_from(true_scenario)
    fitted_loaded = load_scenario(fitted_scenario)
    errors = {}
    for w in WORKERS:
        want = CapacityModel(true_loaded).predict(w, items).duration_s
        got = CapacityModel(fitted_loaded).predict(w, items).duration_s
        errors[w] = got / want - 1
    print("  plan on the fitted vs the true profile, by workers: "
          + ", ".join(f"{w}: {e:+.2%}" for w, e in errors.items()))
    bad = {w: e for w, e in errors.items() if abs(e) > 0.05}
    assert not bad, f"model on the fitted profile vs on the true profile, by workers: {errors}"
    return errors


def load_scenario_from(doc: dict):
    from harness.scenario import scenario_from_data

    return scenario_from_data(doc["data"], doc["path"], doc["sets"])


TRUE_LLM = {"latency.median": 4.0, "latency.p99": 10.0, "latency.tokens_per_second": 70,
            "output_tokens.median": 180, "output_tokens.p99": 700,
            "limits.requests_per_minute": 3000, "limits.tokens_per_minute": 900000}


def test_calibration_recovers_an_llm_api(tmp_path):
    sets = [f"openai.models.gpt-4o-mini.{k}={v}" for k, v in TRUE_LLM.items()]
    with start_mock(["openai"], sets=sets, time_scale=0.2, seed=7) as mock:
        doc = {"name": "rehearsal", "input": {"path": str(_inputs(tmp_path, 500)), "id": "id"},
               "output": {"path": str(tmp_path / "out.jsonl")},
               "targets": {"openai": {"profile": "openai", "mock_url": mock.url("openai")}},
               "steps": [{"name": "chat", "target": "openai", "method": "POST", "path": "/v1/chat/completions",
                          "json": {"model": "gpt-4o-mini", "max_tokens": 4000,
                                   "messages": [{"role": "user", "content": "{{ row.prompt }}"}]}}],
               "workers": 50}
        ckpt = _run(tmp_path, doc, 0.2)
    profile, report, scenario = _calibrate(ckpt, tmp_path / "cal" / "openai.yaml")
    got = profile["models"]["gpt-4o-mini"]
    _within(got["latency"]["median"], TRUE_LLM["latency.median"], 0.05, "median latency")
    _within(got["latency"]["p99"], TRUE_LLM["latency.p99"], 0.10, "p99 latency")
    _within(got["latency"]["tokens_per_second"], TRUE_LLM["latency.tokens_per_second"], 0.05, "tokens/s")
    assert (got["limits"]["requests_per_minute"], got["limits"]["tokens_per_minute"]) == (3000, 900000)
    slot = report["slots"][0]
    assert slot["calls"] == 500 and slot["ok"] == 500
    periods = {dim: p["value"] for dim, p in slot["reset_periods"].items()}
    assert periods and all(abs(v - 60) < 1.5 for v in periods.values()), periods  # per-minute buckets
    # the request bytes are the runner's own: exact; response bytes as the mock sent them
    assert slot["estimates"]["request_bytes"]["value"] == pytest.approx(len(json.dumps(
        {"model": "gpt-4o-mini", "max_tokens": 4000,
         "messages": [{"role": "user", "content": "describe product 250"}]}, separators=(",", ":"))), rel=0.02)
    # the plan on the fitted profile (no mock: overrides) vs the plan on the true one
    true_doc = {"data": {**doc, "items": 15000, "targets": {"openai": {"profile": "openai"}}},
                "path": tmp_path / "true.yaml", "sets": {f"openai.models.gpt-4o-mini.{k}": v
                                                         for k, v in TRUE_LLM.items()}}
    _plans_agree(true_doc, scenario, 15000)


def test_calibration_recovers_a_rest_api(tmp_path):
    true = {"cardgenius.latency.median": 1.8, "cardgenius.latency.p99": 5.0,
            "cardgenius.limits.requests_per_minute": 1200, "cardgenius.endpoints.recommend.response_bytes": 20000}
    sets = [f"{k}={v}" for k, v in true.items()]
    # 0.5: a call of 1.8 s takes 0.9 s of wall time, so a few ms of scheduling on a busy machine stay < 1%
    with start_mock(["cardgenius"], sets=sets, time_scale=0.5, seed=11) as mock:
        doc = {"name": "rehearsal", "input": {"path": str(_inputs(tmp_path, 500)), "id": "id"},
               "output": {"path": str(tmp_path / "out.jsonl")},
               "targets": {"cardgenius": {"profile": "cardgenius", "mock_url": mock.url("cardgenius")}},
               "steps": [{"name": "recommend", "target": "cardgenius", "method": "POST",
                          "path": "/v1/recommendations", "json": {"user": "{{ row.id }}", "pad": "x" * 440}}],
               "workers": 30}
        ckpt = _run(tmp_path, doc, 0.5)
    profile, report, scenario = _calibrate(ckpt, tmp_path / "cal" / "cardgenius.yaml")
    _within(profile["latency"]["median"], 1.8, 0.05, "median latency")
    _within(profile["latency"]["p99"], 5.0, 0.10, "p99 latency")
    ep = profile["endpoints"][0]
    _within(ep["response_bytes"], 20000, 0.02, "response bytes")
    req_sent = len(json.dumps({"user": "i250", "pad": "x" * 440}, separators=(",", ":")))
    _within(ep["request_bytes"], req_sent, 0.02, "request bytes")
    assert profile["limits"]["requests_per_minute"] == 1200
    true_doc = {"data": {**doc, "items": 200000, "targets": {"cardgenius": {"profile": "cardgenius"}}},
                "path": tmp_path / "true.yaml",
                "sets": {**true, "cardgenius.endpoints.recommend.request_bytes": req_sent}}
    _plans_agree(true_doc, scenario, 200000)
