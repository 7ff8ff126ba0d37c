"""kill -9 of a Celery worker process at five random moments of a 20,000-item distributed run:
every item exactly once in the output, in input order, and no more calls repeated than were in
flight in the killed processes (counted by the mock's own ``mock_requests_total``).

The killed process is a pool child of ``harness worker`` (the process that runs the chunk):
the pool replaces it and requeues its chunk (``task_reject_on_worker_lost``), the coordinator
requeues it too once its lease lapses (2 s here), and the chunk resumes from its journal.
``KILL_TEST_SEED=n`` replays the moments of an earlier run (the seed is printed).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import redis

from harness.runner.distributed.keys import RunKeys
from tests.runner_support import (FAST_REST_SETS, ROOT, expected_ids, mock_requests, read_ids, settled_200s,
                                  write_scenario, write_users)

ITEMS = 20_000
KILLS = 5
PROCESSES = 2
WORKERS = 50  # in flight across the cluster: 25 per process
SEED = int(os.environ.get("KILL_TEST_SEED", "0")) or random.randrange(1, 1_000_000)


def _done(client: redis.Redis, run_id: str) -> int:
    return sum(int(v.split()[0]) for v in client.hgetall(RunKeys(run_id).progress).values())


@pytest.mark.timeout(300)
def test_kill_9_worker_processes_five_times(tmp_path, mock_server, redis_server, celery_workers):
    rng = random.Random(SEED)
    worker = celery_workers(PROCESSES)
    mock = mock_server(["cardgenius"], sets=FAST_REST_SETS)
    data = write_users(tmp_path / "users.jsonl", ITEMS)
    out = tmp_path / "out.jsonl"
    scenario = write_scenario(tmp_path / "s.yaml", input=data, output=out, mock_url=mock.url("cardgenius"),
                              workers=WORKERS)
    cmd = [sys.executable, "-m", "harness", "run", str(scenario), "--engine", "celery", "--quiet",
           "--broker", redis_server.url, "--processes", str(PROCESSES), "--chunk-size", "2500"]
    client = redis.Redis.from_url(redis_server.url)
    span = ITEMS // KILLS
    targets = [k * span + rng.randrange(span // 10, span * 9 // 10) for k in range(KILLS)]
    coordinator = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed: list[tuple[int, int]] = []
    try:
        deadline = time.monotonic() + 200
        plan = out.with_name(out.name + ".run") / "plan.json"
        while not plan.exists():
            assert coordinator.poll() is None, coordinator.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        run_id = json.loads(plan.read_text())["run_id"]
        for target in targets:
            while _done(client, run_id) < target:
                assert coordinator.poll() is None, coordinator.stderr.read().decode()[-3000:]
                assert time.monotonic() < deadline, f"run did not reach {target} items"
                time.sleep(0.005)
            pid = rng.choice(worker.pool_pids())
            os.kill(pid, signal.SIGKILL)
            killed.append((target, pid))
        code = coordinator.wait(timeout=max(1.0, deadline - time.monotonic()))
        err = coordinator.stderr.read().decode()
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
            coordinator.wait()
        coordinator.stderr.close()
    assert code == 0, err[-3000:]
    calls = int(settled_200s(mock.base_url, timeout=10.0, poll=0.2))
    repeated = calls - ITEMS
    per_process = WORKERS // PROCESSES
    print(f"\nseed {SEED}; kills at {[t for t, _ in killed]} items (pids {[p for _, p in killed]}); "
          f"{calls} calls for {ITEMS} items: {repeated} repeated, bound {KILLS} x {per_process} in flight")
    ids = read_ids(out)
    assert len(ids) == ITEMS and len(set(ids)) == ITEMS, "rows lost or written twice"
    assert ids == list(expected_ids(ITEMS)), "output not in input order"
    assert set(mock_requests(mock.base_url, endpoint="recommend")) == {"200"}
    assert 0 <= repeated <= KILLS * per_process, f"{repeated} calls repeated > {KILLS} kills x {per_process}"
