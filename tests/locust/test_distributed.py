"""Done-when 2: a master and two workers, headless, at most 20 s, against the mock: Locust's
aggregated count and the Prometheus export (from the master) equal the mock's own count."""

from __future__ import annotations

import json
import subprocess
import time

from .runlocust import LOCUST, LOCUSTFILES, ROOT, free_port, metric_sum, mock_requests, parse_metrics


def test_master_and_two_workers_count_what_the_mock_counted(mock_server, tmp_path):
    mock = mock_server(["cardgenius"], time_scale=0.01, seed=1)
    master_port, metrics_port = free_port(), free_port()
    locustfile = str(LOCUSTFILES / "cardgenius.py")
    master_cmd = [LOCUST, "-f", locustfile, "--master", "--master-bind-host", "127.0.0.1",
                  "--master-bind-port", str(master_port), "--headless", "--only-summary", "--expect-workers", "2",
                  "--expect-workers-max-wait", "15", "--host", mock.url("cardgenius"), "-u", "20", "-r", "20",
                  "-t", "10s", "--stop-timeout", "3", "--json-file", str(tmp_path / "final"),
                  "--csv", str(tmp_path / "dist"), "--prometheus-port", str(metrics_port),
                  "--prometheus-textfile", str(tmp_path / "final.prom"), "--run-id", "dist-test"]
    worker_cmd = [LOCUST, "-f", locustfile, "--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port)]
    started = time.monotonic()
    master = subprocess.Popen(master_cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers = [subprocess.Popen(worker_cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    try:
        _, err = master.communicate(timeout=45)
        for w in workers:
            w.communicate(timeout=15)
    finally:
        for p in (master, *workers):
            if p.poll() is None:
                p.kill()
                p.wait()
    elapsed = time.monotonic() - started
    assert master.returncode == 0, err[-3000:]
    assert "2 workers connected" in err or "2 ready workers" in err, err[-3000:]

    entries = json.loads((tmp_path / "final.json").read_text())
    locust_total = sum(e["num_requests"] for e in entries)
    mock_total = mock_requests(mock.base_url, "cardgenius")
    exported = parse_metrics((tmp_path / "final.prom").read_text())
    exported_total = metric_sum(exported, "harness_requests_total", source="locust", run_id="dist-test")
    print(f"\ndistributed: locust {locust_total}, exporter {exported_total:.0f}, mock {mock_total:.0f} "
          f"requests in {elapsed:.1f} s")
    assert locust_total > 1000
    assert locust_total == mock_total
    assert exported_total == mock_total
    assert metric_sum(exported, "harness_requests_total", outcome="ok", target="cardgenius") == mock_total
