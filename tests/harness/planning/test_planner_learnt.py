"""Plan and run agree at limits the runner learns from the headers (the scenario gives none).

The runner sends one request per worker before any answer states a limit, then paces at
``learning.SAFETY`` of it with no burst; the planner models exactly that instead of the server's
full bucket. The seed case (issue 12): 500 items against gpt-4o-mini at 900,000 tokens/min with
``max_tokens`` 4,000 (4,011 tokens admitted per call), 50 workers: planned 78.7 s with the full
bucket, measured 139.5 s. Measured here on the mock at time scale 0.1, in profile seconds (the
limiter's pacing, not the machine's speed, sets the duration), with a REST partner's learnt
requests/min beside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.planning.planner import CapacityModel
from harness.runner.mockproc import start_mock_for
from harness.scenario import load_scenario

REPO = Path(__file__).resolve().parents[3]
SCALE = 0.1
BAR = 0.10

OPENAI = {
    "targets": {"openai": {"profile": "openai"}},
    "mock": {f"openai.models.gpt-4o-mini.{k}": v for k, v in {
        "latency.median": 4.0, "latency.p99": 10.0, "latency.tokens_per_second": 70,
        "output_tokens.median": 180, "output_tokens.p99": 700,
        "limits.requests_per_minute": 3000, "limits.tokens_per_minute": 900000}.items()},
    "steps": [{"name": "chat", "target": "openai", "method": "POST", "path": "/v1/chat/completions",
               "json": {"model": "gpt-4o-mini", "max_tokens": 4000,
                        "messages": [{"role": "user", "content": "{{ row.prompt }}"}]}}],
    "workers": 50,
}
REST = {
    "targets": {"cardgenius": {"profile": "cardgenius"}},
    "mock": {"cardgenius.limits.requests_per_minute": 120},
    "steps": [{"name": "recommend", "target": "cardgenius", "method": "POST", "path": "/v1/recommendations",
               "json": {"user": "{{ row.id }}"}}],
    "workers": 20,
}


def _scenario(tmp_path: Path, case: dict, items: int, learn: bool = True) -> Path:
    rows = tmp_path / "in.jsonl"
    rows.write_text("".join(json.dumps({"id": f"i{i}", "prompt": f"describe product {i}"}) + "\n"
                            for i in range(items)))
    doc = {"name": "learnt", "input": {"path": str(rows), "id": "id"},
           "output": {"path": str(tmp_path / "out.jsonl")}, **case, "timeout": 120}
    doc["targets"] = {name: {**t, **({} if learn else {"limits": {"learn": False}})}
                      for name, t in case["targets"].items()}
    path = tmp_path / ("learnt.yaml" if learn else "full-bucket.yaml")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.parametrize("case,items", [(OPENAI, 500), (REST, 300)], ids=["openai-tpm", "rest-rpm"])
def test_plan_and_run_agree_at_learnt_limits(tmp_path, case, items):
    path = _scenario(tmp_path, case, items)
    loaded = load_scenario(path)
    workers = loaded.scenario.workers
    plan = CapacityModel(loaded).predict(workers, items)
    full_bucket = CapacityModel(load_scenario(_scenario(tmp_path, case, items, learn=False))).predict(workers, items)
    with start_mock_for(loaded, SCALE, seed=5) as mock:
        doc = yaml.safe_load(path.read_text())
        for name in doc["targets"]:
            doc["targets"][name]["mock_url"] = mock.url(loaded.profiles[name].name)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        proc = subprocess.run([sys.executable, "-m", "harness", "run", str(path), "--time-scale", str(SCALE),
                               "--quiet", "--summary-json", str(tmp_path / "summary.json")],
                              capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    measured = summary["duration_real_seconds"]
    error = plan.duration_s / measured - 1
    print(f"  {items} items, {workers} workers: planned {plan.duration_s:.1f} s ({plan.binding}), measured "
          f"{measured:.1f} s ({error:+.1%}); the full-bucket plan {full_bucket.duration_s:.1f} s "
          f"({full_bucket.duration_s / measured - 1:+.1%})")
    assert "learnt from headers" in str(plan.binding) and plan.risk == "none"
    assert summary["requests_by_outcome"] == {"ok": items}  # paced below the server's rate: no 429s
    assert abs(error) <= BAR
    assert abs(full_bucket.duration_s / measured - 1) > BAR, "the case cannot tell the two pacings apart"
