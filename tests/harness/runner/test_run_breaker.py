"""Issue 14.3: the target dies mid-run.

Before: with the mock killed, ~27 items/s failed (1,761 in 60 s) and ``--resume`` did not retry
them. Now: after K connection failures in a row the target's calls pause while it is probed
(the progress line says so); if it comes back the run goes on, else the run stops after the
bound with exit 3; ``--resume`` runs the connection-failed items again.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

from harness.runner.mockproc import start_mock
from tests.harness.runutil import REPO, harness_cmd, run_cli, write_scenario

ITEMS = 3000
SETS = ["cardgenius.latency.median=0.02", "cardgenius.latency.p99=0.04", "cardgenius.capacity.max_in_flight=500"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _doc(url: str) -> dict:
    return {"targets": {"cg": {"profile": "cardgenius", "mock_url": url}},
            "steps": [{"name": "rec", "target": "cg", "method": "POST", "path": "/v1/recommendations",
                       "json": {"u": "{{ row.id }}"}, "keep": {"rid": "{{ response.id }}"}}],
            "workers": 8, "timeout": 5.0, "retry": {"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.02}}


def _popen(wd, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "COLUMNS": "250"}
    return subprocess.Popen(harness_cmd("run", str(wd.scenario), *extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


def _rows_done(wd) -> int:
    if not wd.output.exists():
        return 0
    return wd.output.read_bytes().count(b"\n")


def test_breaker_pauses_then_gives_up_and_resume_retries(tmp_path: Path) -> None:
    port = _port()
    mock = start_mock(["cardgenius"], port=port, sets=SETS)
    wd = write_scenario(tmp_path, _doc(mock.url("cardgenius")), ITEMS)
    proc = _popen(wd, "--breaker-after", "5", "--breaker-give-up", "4", "--quiet")
    try:
        deadline = time.monotonic() + 30
        while _rows_done(wd) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        mock.stop()  # the target dies mid-run
        killed = time.monotonic()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    took = time.monotonic() - killed
    assert proc.returncode == 3, err[-3000:]
    assert "unreachable for 4s" in err and "--resume continues once it is back" in err, err[-2000:]
    assert took < 20, took
    ckpt_failed = Counter()
    rows = [json.loads(line) for line in wd.output.read_text().splitlines()]
    for r in rows:
        if r["status"] == "failed":
            ckpt_failed[r["error"].split(":")[0]] += 1
    n_failed = sum(ckpt_failed.values())
    # before: the input burnt at ~27 items/s; now at most the items in flight when it died
    assert n_failed <= 8 + 5, ckpt_failed
    assert len(rows) < ITEMS
    print(f"breaker: stopped {took:.1f}s after the kill, {n_failed} items failed, {len(rows)} rows")
    # the target is back: --resume finishes everything, the connection failures included
    mock = start_mock(["cardgenius"], port=port, sets=SETS)
    try:
        again = run_cli(["run", str(wd.scenario), "--resume", "--quiet"], timeout=180)
    finally:
        mock.stop()
    assert again.returncode == 0, again.stderr[-2000:]
    rows = [json.loads(line) for line in wd.output.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"item-{i}" for i in range(ITEMS)]
    assert Counter(r["status"] for r in rows) == {"done": ITEMS}


def test_breaker_holds_calls_until_the_target_is_back(tmp_path: Path) -> None:
    port = _port()
    mock = start_mock(["cardgenius"], port=port, sets=SETS)
    wd = write_scenario(tmp_path, _doc(mock.url("cardgenius")), ITEMS)
    proc = _popen(wd, "--breaker-after", "5", "--breaker-give-up", "60")
    try:
        deadline = time.monotonic() + 30
        while _rows_done(wd) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        mock.stop()
        time.sleep(3.0)
        mock = start_mock(["cardgenius"], port=port, sets=SETS)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        mock.stop()
    assert proc.returncode == 0, err[-3000:]
    assert "unreachable" in err and "paused, probing" in err  # said on the progress line
    rows = [json.loads(line) for line in wd.output.read_text().splitlines()]
    failed = [r for r in rows if r["status"] != "done"]
    assert len(rows) == ITEMS and len(failed) <= 8 + 5, Counter(r["error"][:50] for r in failed)
