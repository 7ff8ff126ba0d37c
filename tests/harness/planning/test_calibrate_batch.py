"""A ``--mode batch`` run keeps per-result figures, so ``harness calibrate`` and ``harness compare``
read it: output tokens, bytes and error shares per result, and each batch's turnaround.

2,000 items in 20 batches through the mocked OpenAI Batch API, whose gpt-4o-mini answers and
turnaround were changed with ``--set`` (120 output tokens median instead of the shipped 150, a
10-minute median turnaround instead of 30): calibrate finds both; compare names them as
contradicted against the shipped profile and consistent against the calibrated one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from harness.runner.mockproc import start_mock

REPO = Path(__file__).resolve().parents[3]
SCALE = 0.002  # a 10-minute turnaround takes 1.2 s; a poll every 30 s of real time is every 60 ms
SETS = ["openai.models.gpt-4o-mini.output_tokens.median=120", "openai.models.gpt-4o-mini.output_tokens.p99=400",
        "openai.batch.turnaround.median=600", "openai.batch.turnaround.p99=1800"]


def _harness(*args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=180,
                          cwd=REPO)
    assert proc.returncode in ok, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def test_a_batch_run_calibrates_and_compares(tmp_path):
    n = 2000
    rows = tmp_path / "in.jsonl"
    rows.write_text("".join(json.dumps({"id": f"r{i:05d}", "prompt": f"describe product {i}"}) + "\n"
                            for i in range(n)))
    with start_mock(["openai"], sets=SETS, time_scale=SCALE, seed=9) as mock:
        doc = {"name": "batch-rehearsal", "input": {"path": str(rows), "id": "id"},
               "output": {"path": str(tmp_path / "out.jsonl")},
               "targets": {"openai": {"profile": "openai", "mock_url": mock.url("openai")}},
               "steps": [{"name": "ask", "target": "openai", "method": "POST", "path": "/v1/chat/completions",
                          "json": {"model": "gpt-4o-mini", "max_tokens": 2000,
                                   "messages": [{"role": "user", "content": "{{ row.prompt }}"}]}}]}
        scenario = tmp_path / "batch-rehearsal.yaml"
        scenario.write_text(yaml.safe_dump(doc, sort_keys=False))
        _harness("run", str(scenario), "--mode", "batch", "--batch-size", "100", "--time-scale", str(SCALE), "--quiet")
    ckpt = tmp_path / "out.jsonl.checkpoint.sqlite"
    _harness("calibrate", str(ckpt), "--out", str(tmp_path / "cal" / "openai.yaml"))
    profile = yaml.safe_load((tmp_path / "cal" / "openai.yaml").read_text())
    report = json.loads((tmp_path / "cal" / "openai.fit.json").read_text())
    slot = report["slots"][0]
    assert (slot["mode"], slot["calls"], slot["ok"]) == ("batch", n, n)
    est = slot["estimates"]
    out = profile["models"]["gpt-4o-mini"]["output_tokens"]
    turn = profile["batch"]["turnaround"]
    print(f"  output tokens median {out['median']} (true 120), p99 {out['p99']} (true 400); turnaround median "
          f"{turn['median']:.0f} s (true 600, 95% {est['batch.turnaround.median']['low']:.0f}-"
          f"{est['batch.turnaround.median']['high']:.0f}), p99 {turn['p99']:.0f} s (true 1800), 20 batches")
    assert abs(out["median"] / 120 - 1) <= 0.05 and abs(out["p99"] / 400 - 1) <= 0.10
    assert est["batch.turnaround.median"]["low"] <= 600 * 1.05  # a poll's delay is added: up to 30 s late
    assert est["batch.turnaround.median"]["high"] >= 600
    assert est["request_bytes"]["value"] > 100 and est["response_bytes"]["value"] > 300
    # compare: the shipped profile is contradicted on both, the calibrated one is not
    shipped = json.loads(_harness("compare", str(scenario), str(ckpt), "--json", ok=(0, 1)).stdout)
    verdicts = {f["field"]: f["contradicted"] for f in shipped["profile_fields"]}
    assert verdicts == {"openai.batch.turnaround.median": True, "openai.models.gpt-4o-mini.output_tokens.median": True}
    rows_by = {r["figure"]: r for r in shipped["figures"]}
    assert rows_by["cost_total"]["measured"] > 0 and rows_by["duration_seconds"]["measured"] > 0
    fitted = json.loads(_harness("compare", str(tmp_path / "cal" / "openai.yaml"), str(ckpt), "--json").stdout)
    assert fitted["profile_fields"] and not fitted["contradicted"], fitted["profile_fields"]
    # the cost at the batch price: the fitted profile's plan of 2,000 answers within 5% of what they cost
    cost = {r["figure"]: r for r in fitted["figures"]}["cost_total"]
    print(f"  compare: shipped profile {[(f['field'], f['profile'], round(f['measured'], 1)) for f in shipped['profile_fields']]}"
          f" contradicted; fitted consistent; cost planned ${cost['predicted']:.4f}, measured ${cost['measured']:.4f} "
          f"({cost['error']:+.1%})")
    assert abs(cost["error"]) <= 0.05, cost
