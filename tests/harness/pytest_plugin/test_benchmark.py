"""harness_benchmark: a batch as a pytest-benchmark benchmark that --benchmark-compare-fail gates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

INNER = '''
import os

ROWS = [{"id": f"r{i}"} for i in range(40)]


async def one(item, call):
    await call("openai", "POST", "/v1/chat/completions", endpoint="chat", json={
        "model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": item["row"]["id"]}]})
    return {}


def test_batch(harness_benchmark, harness_mock_session, harness_run):
    mock = harness_mock_session(["openai"], time_scale=0.05, seed=2, sets={"openai.latency.p99": 4.0})
    workers = int(os.environ["BATCH_WORKERS"])
    figures = harness_benchmark(
        lambda: harness_run.function(one, targets={"openai": "openai"}, rows=ROWS, mock=mock, workers=workers),
        items=len(ROWS), mock=mock, rounds=3)
    assert figures.p95_source == "runner" and figures.rate_limited_share == 0.0
'''


def _pytest(folder: Path, workers: int, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "BATCH_WORKERS": str(workers)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_inner.py",
                           f"--benchmark-storage=file://{folder / 'bench'}", *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=180)


def test_saved_figures_and_fewer_workers_fail_the_comparison(tmp_path):
    (tmp_path / "test_inner.py").write_text(INNER)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    saved = _pytest(tmp_path, 8, "--benchmark-save=base")
    assert saved.returncode == 0, saved.stdout[-3000:] + saved.stderr[-3000:]
    [path] = (tmp_path / "bench").glob("*/0001_base.json")
    info = json.loads(path.read_text())["benchmarks"][0]["extra_info"]
    assert info["items"] == 40 and info["time_scale"] == 0.05
    assert info["items_per_s"] > 0 and info["rate_limited_share"] == 0.0 and info["p95_latency_s"] > 0
    figures = info["figures"]
    assert figures["items_per_s"] == {"value": info["items_per_s"], "unit": "items/s", "better": "higher",
                                      "tolerance": 0.10}
    assert figures["p95_latency_s"]["better"] == figures["rate_limited_share"]["better"] == "lower"

    # the same batch passes the gate; a quarter of the workers (a 4x longer batch) fails it
    same = _pytest(tmp_path, 8, "--benchmark-compare=0001", "--benchmark-compare-fail=median:50%")
    assert same.returncode == 0, same.stdout[-3000:]
    slower = _pytest(tmp_path, 2, "--benchmark-compare=0001", "--benchmark-compare-fail=median:50%",
                     f"--benchmark-json={tmp_path / 'slower.json'}")
    assert slower.returncode != 0, slower.stdout[-3000:] + slower.stderr[-3000:]
    assert "Performance has regressed" in slower.stdout + slower.stderr

    # the team's figures through the project's own gate (harness.benchmarking.compare): it names
    # the figure that regressed, with its tolerance
    gate = subprocess.run([sys.executable, "-m", "harness.benchmarking.compare", str(path), str(tmp_path / "slower.json")],
                          capture_output=True, text=True, timeout=60)
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert "items_per_s" in gate.stdout + gate.stderr, gate.stdout + gate.stderr
