"""``harness run --engine celery`` end to end on real Celery workers and a real redis-server:
the embedded default, workers' /metrics, the coordinator's --resume."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request

from harness.runner.distributed.redisproc import free_port_block
from tests.harness.runutil import metric_sum
from tests.runner_support import (FAST_REST_SETS, ROOT, expected_ids, mock_requests, read_ids, write_scenario,
                                  write_users)


def _cmd(scenario, *extra: str) -> list[str]:
    return [sys.executable, "-m", "harness", "run", str(scenario), "--engine", "celery", "--quiet", *extra]


def test_embedded_cluster_runs_every_item_once_in_order(tmp_path, mock_server):
    mock = mock_server(["cardgenius"], sets=FAST_REST_SETS)
    n = 3000
    data = write_users(tmp_path / "users.jsonl", n)
    out = tmp_path / "out.jsonl"
    scenario = write_scenario(tmp_path / "s.yaml", input=data, output=out, mock_url=mock.url("cardgenius"), workers=20)
    proc = subprocess.run(_cmd(scenario, "--processes", "2", "--chunk-size", "500", "--summary-json",
                               str(tmp_path / "summary.json")), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_ids(out) == list(expected_ids(n))
    assert mock_requests(mock.base_url, endpoint="recommend") == {"200": n}
    import json

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["engine"], summary["chunks"], summary["processes"], summary["items_done"]) == ("celery", 6, 2, n)
    assert summary["workers_per_process"] == 10  # --workers 20 across 2 processes
    # the load spec from what the distributed run measured
    spec = subprocess.run([sys.executable, "-m", "harness", "loadspec", "--run", str(out) + ".run/run.sqlite",
                           "--out", str(tmp_path / "spec")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert spec.returncode == 0, spec.stderr[-2000:]
    assert "req/s" in (tmp_path / "spec" / "LOAD_SPEC.md").read_text()


def test_workers_serve_metrics_with_run_and_worker_labels(tmp_path, mock_server, redis_server, celery_workers):
    port = free_port_block(2)  # pool process i serves port+i
    celery_workers(2, metrics_port=port)
    mock = mock_server(["cardgenius"], sets=FAST_REST_SETS)
    n = 1000
    data = write_users(tmp_path / "users.jsonl", n)
    scenario = write_scenario(tmp_path / "s.yaml", input=data, output=tmp_path / "out.jsonl",
                              mock_url=mock.url("cardgenius"), workers=8)
    # no --processes: the coordinator counts the cluster's pool processes (celery inspect)
    proc = subprocess.run(_cmd(scenario, "--broker", redis_server.url, "--chunk-size", "100", "--summary-json",
                               str(tmp_path / "summary.json")), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["processes"], summary["workers_per_process"], summary["chunks"]) == (2, 4, 10)
    texts = [urllib.request.urlopen(f"http://127.0.0.1:{port + i}/metrics", timeout=5).read().decode() for i in (0, 1)]
    per_worker = [metric_sum(t, "harness_items_total", status="done") for t in texts]
    assert sum(per_worker) == n, per_worker
    lines = [x for t in texts for x in t.splitlines() if x.startswith("harness_items_total{")]
    assert lines and all('run_id="' in x and 'worker="' in x for x in lines), lines
    # the worker labels are the processes that ran the chunks (which ran how many is the pool's choice)
    workers = {x.split('worker="')[1].split('"')[0] for x in lines}
    assert workers == {c["worker"] for c in summary["chunk_timings"].values()}, workers


def test_coordinator_killed_then_resumed(tmp_path, mock_server, redis_server, celery_workers):
    celery_workers(2)
    mock = mock_server(["cardgenius"], sets=FAST_REST_SETS + ["cardgenius.latency.median=0.002", "cardgenius.latency.p99=0.004"])
    n = 4000
    data = write_users(tmp_path / "users.jsonl", n)
    out = tmp_path / "out.jsonl"
    scenario = write_scenario(tmp_path / "s.yaml", input=data, output=out, mock_url=mock.url("cardgenius"), workers=8)
    args = ["--broker", redis_server.url, "--processes", "2", "--chunk-size", "250"]
    first = subprocess.Popen(_cmd(scenario, *args), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while mock_requests(mock.base_url, endpoint="recommend").get("200", 0) < n // 4:
        assert first.poll() is None, first.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    first.stderr.close()
    again = subprocess.run(_cmd(scenario, *args, "--resume"), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-3000:]
    assert read_ids(out) == list(expected_ids(n))
    # the workers never stopped: nothing was sent twice
    assert mock_requests(mock.base_url, endpoint="recommend") == {"200": n}
    refused = subprocess.run(_cmd(scenario, *args), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--resume" in refused.stderr
