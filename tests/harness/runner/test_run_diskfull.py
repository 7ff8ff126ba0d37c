"""Issue 14.1: output and checkpoint on a full disk (a 2 MB tmpfs, 20,000 items).

Before: workers died one by one ("Task exception was never retrieved ... database or disk is
full"), progress froze, SIGTERM was ignored and a partial JSON line was left. Now: exit 3 within
seconds with one message, the output ends on a whole row, and after the space is freed
``--resume`` finishes with every item exactly once.
"""

from __future__ import annotations

import json
from collections import Counter
import subprocess
import time
from pathlib import Path

import pytest

from tests.harness.runutil import run_cli, tmpfs, write_scenario

ITEMS = 20_000


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 2 MB tmpfs (root only), unmounted after."""
    with tmpfs(tmp_path / "disk", "size=2m") as disk:
        yield disk


def _scenario() -> dict:
    return {
        "targets": {"cg": {"profile": "cardgenius"}},
        "steps": [{"name": "rec", "target": "cg", "method": "POST", "path": "/v1/recommendations",
                   "json": {"user": "{{ row.id }}"}, "keep": {"rid": "{{ response.id }}"}}],
        "workers": 40, "timeout": 2000.0,  # x time scale: 4 s
        "mock": {"cardgenius.latency.median": 0.5, "cardgenius.latency.p99": 1.0,
                 "cardgenius.capacity.max_in_flight": 1000, "cardgenius.endpoints": [
                     {"name": "recommend", "method": "POST", "path": "/v1/recommendations", "response_bytes": 300}]},
    }


def test_disk_full_stops_with_exit_3_and_resume_is_exact(tmp_path: Path, small_disk: Path) -> None:
    wd = write_scenario(tmp_path / "work", _scenario(), ITEMS)
    out, ckpt = small_disk / "out.jsonl", small_disk / "out.ckpt.sqlite"
    args = ["run", str(wd.scenario), "--output", str(out), "--checkpoint", str(ckpt), "--time-scale", "0.002",
            "--quiet"]
    t0 = time.monotonic()
    proc = run_cli(args, timeout=180)
    took = time.monotonic() - t0
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr and "never retrieved" not in proc.stderr, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if "disk full writing" in ln]
    assert lines and "done are safe; free space and --resume" in lines[0], proc.stderr
    assert ("OUTPUT" in lines[0]) or ("CHECKPOINT" in lines[0])
    data = out.read_bytes()
    assert data.endswith(b"\n")  # no partial row
    rows = [json.loads(line) for line in data.splitlines()]
    assert 0 < len(rows) < ITEMS
    # free space, resume: every item once, in input order
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    again = run_cli([*args, "--resume"], timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"item-{i}" for i in range(ITEMS)]
    failed = Counter(r["error"][:60] for r in rows if r["status"] != "done")
    assert not failed, failed
    print(f"disk full: exit 3 after {took:.1f}s, {len(data.splitlines())} whole rows kept; resume exact\n{lines[0]}")
