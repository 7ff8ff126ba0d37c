"""Bar: a 1,000,000-item input runs with peak RSS <= 300 MB (DESIGN.md "Performance bars").

The whole run, for real: ``harness run`` of a million-row JSONL input against the zero-latency
REST mock (core 0), the runner on core 1 under ``/usr/bin/time -v`` (its "Maximum resident set
size" is the runner process's own peak), checkpoint and ordered output on, 256 workers. One round
(a few minutes: the runner does ~5,000-6,000 items/s on one core); the round time is the time
to process the million items.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.runner_support import FAST_REST_SETS, run_harness, write_scenario, write_users

from .conftest import CLIENT_CPU
from .rounds import fig, record

BAR_RSS_MB = 300
ITEMS = 1_000_000
WORKERS = 256


@pytest.mark.bench
@pytest.mark.timeout(1200)
def test_runner_million_items_peak_rss(benchmark, pinned_mock, tmp_path):
    """1M items through the runner: peak RSS <= 300 MB, every row written once, in order."""
    if shutil.which("/usr/bin/time") is None:
        pytest.fail("/usr/bin/time is not installed (GNU time, for the peak RSS; make sysdeps installs it)")
    mock = pinned_mock(["cardgenius"], sets=FAST_REST_SETS)
    data = write_users(tmp_path / "users.jsonl", ITEMS)
    out, ckpt, summary = tmp_path / "out.jsonl", tmp_path / "out.ckpt.sqlite", tmp_path / "summary.json"
    scenario = write_scenario(tmp_path / "scenario.yaml", input=data, output=out, mock_url=mock.url("cardgenius"),
                              workers=WORKERS)
    result: dict = {}

    def one_round() -> None:
        proc = run_harness(scenario, "--checkpoint", str(ckpt), "--summary-json", str(summary), cpu=CLIENT_CPU,
                           timeout=1100, time_v=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        assert m, proc.stderr[-2000:]
        result["rss_kb"] = int(m.group(1))

    benchmark.pedantic(one_round, rounds=1, warmup_rounds=0, iterations=1)
    s = json.loads(summary.read_text())
    rows = 0
    first = last = b""
    with open(out, "rb") as f:
        for line in f:
            if not rows:
                first = line
            last = line
            rows += 1
    info = {
        "items": ITEMS,
        "workers": WORKERS,
        "peak_rss_mb": round(result["rss_kb"] / 1024, 1),
        "engine_seconds": s["duration_wall_seconds"],
        "rps": round(s["requests"] / s["duration_wall_seconds"]),
        "bar_rss_mb": BAR_RSS_MB,
    }
    benchmark.extra_info.update(info)
    # peak RSS does not depend on how busy the machine is: one round is a measurement
    record(benchmark, peak_rss_mb=fig(info["peak_rss_mb"], "MB", "lower", 0.20, digits=1))
    print(f"\n1M items: peak RSS {info['peak_rss_mb']} MB, {info['engine_seconds']:.0f} s ({info['rps']} req/s)")
    assert s["items_done"] == ITEMS and s["requests_by_outcome"] == {"ok": ITEMS}, s
    assert rows == ITEMS and json.loads(first)["id"] == "u0000000" and json.loads(last)["id"] == f"u{ITEMS - 1:07d}"
    assert info["peak_rss_mb"] <= BAR_RSS_MB, info
