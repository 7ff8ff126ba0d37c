"""kill -9 in the middle of a run, then ``--resume``: nothing lost, nothing written twice, and
no more calls repeated than were in flight (DESIGN.md "Checkpoint/resume").

One mock server serves every run, so its own ``mock_requests_total`` counts each API call the
runs made; the runner is a subprocess killed with SIGKILL at five random moments of a
20,000-item run (at a random item count in each fifth of it), each followed by ``--resume``.
``KILL_TEST_SEED=n`` replays the moments of an earlier run (the seed is printed).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.runner_support import (FAST_REST_SETS, ROOT, checkpoint_counts, expected_ids, harness_cmd,
                                  mock_requests, read_ids, settled_200s, write_scenario, write_users)

ITEMS = 20_000
KILLS = 5
WORKERS = 50
SEED = int(os.environ.get("KILL_TEST_SEED", "0")) or random.randrange(1, 1_000_000)


def _kill_at(cmd: list[str], ckpt: Path, target: int) -> int:
    """Start the runner and SIGKILL it as soon as its checkpoint holds ``target`` done items
    (polled every 5 ms, so the moment falls anywhere in the stream of commits); returns its
    exit code."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while checkpoint_counts(ckpt)["done"] < target:
            assert proc.poll() is None, f"runner ended before the kill: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, f"runner did not reach {target} items within 30 s"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        return proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.mark.timeout(180)
def test_kill_9_five_times_then_resume(tmp_path, mock_server, record_property):
    # first, so a failing run shows it too (pytest prints a failed test's captured output)
    print(f"\nkill test seed {SEED} (replay with KILL_TEST_SEED={SEED})")
    record_property("kill_test_seed", SEED)
    rng = random.Random(SEED)
    mock = mock_server(["cardgenius"], sets=FAST_REST_SETS)
    data = write_users(tmp_path / "users.jsonl", ITEMS)
    out = tmp_path / "out.jsonl"
    ckpt = tmp_path / "out.ckpt.sqlite"
    scenario = write_scenario(tmp_path / "scenario.yaml", input=data, output=out,
                              mock_url=mock.url("cardgenius"), workers=WORKERS)
    cmd = harness_cmd(scenario, "--checkpoint", str(ckpt))

    # five random moments: one random item count in each fifth of the run
    span = ITEMS // KILLS
    targets = [k * span + rng.randrange(span // 10, span * 9 // 10) for k in range(KILLS)]
    per_kill: list[dict[str, int]] = []
    calls_before, done_before = 0.0, 0
    for k, target in enumerate(targets):
        code = _kill_at(cmd + (["--resume"] if k else []), ckpt, max(target, done_before + 1))
        assert code == -signal.SIGKILL, f"kill {k + 1}: runner exited {code} before it was killed"
        calls = settled_200s(mock.base_url)
        done = checkpoint_counts(ckpt)["done"]
        assert done_before < done < ITEMS, f"kill {k + 1} did not land mid-run ({done_before} -> {done})"
        per_kill.append({"calls": int(calls - calls_before), "committed": done - done_before,
                         "repeated": int(calls - calls_before) - (done - done_before)})
        calls_before, done_before = calls, done

    final = subprocess.run(cmd + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr[-3000:]
    calls = settled_200s(mock.base_url)
    final_calls = int(calls - calls_before)
    assert checkpoint_counts(ckpt) == {"done": ITEMS, "failed": 0}

    print(f"seed {SEED}; kills at {targets} items; per kill (calls sent, items committed, repeated): {per_kill}; "
          f"final run {final_calls} calls for {ITEMS - done_before} items; total calls {int(calls)} for {ITEMS} items")

    # every row exactly once, in input order
    ids = read_ids(out)
    assert len(ids) == ITEMS, f"{len(ids)} output rows, expected {ITEMS}"
    assert len(set(ids)) == ITEMS, "some rows written twice"
    assert ids == list(expected_ids(ITEMS)), "output not in input order"

    # no answer other than 200, and each kill repeats at most the calls in flight when it struck
    statuses = mock_requests(mock.base_url, endpoint="recommend")
    assert set(statuses) == {"200"}, statuses
    assert final_calls == ITEMS - done_before, "the final run re-sent items already committed"
    for k, rec in enumerate(per_kill, 1):
        assert 0 <= rec["repeated"] <= WORKERS, f"kill {k}: {rec['repeated']} calls repeated > {WORKERS} workers"
    assert int(calls) - ITEMS == sum(r["repeated"] for r in per_kill) <= KILLS * WORKERS
