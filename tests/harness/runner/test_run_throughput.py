"""Runner acceptance: against a mock with a fixed latency L, ``harness run`` with W workers
keeps >= 97% of W requests in flight in its steady state (so it sustains W / L where the
machine lets the requests take L), for 1, 3, 5, 10, 100 and 1,000 workers.

How it is measured. The mock's research profile is given latency median == p99 == L (profile
seconds; wall L = median * time_scale), no limits and no faults; the input has W * cycles
items, so each worker goes round ``cycles`` times. The run goes through ``harness.runner.run.execute``
in this process, and the moment each item finishes is taken from the runner's own bookkeeping
(``RunStats.item_finished``). With a fixed latency the W workers finish in waves, one per
cycle, so the steady window is cut at wave boundaries: from the last finish of wave ``skip``
to the last finish of wave ``cycles - 1``, which holds exactly ``(cycles - 1 - skip) * W``
finishes. Excluded, honestly: the first ``skip`` waves (the mock's and the runner's start,
W new connections and, for many workers, the first waves bunched together until their phases
spread out) and the last wave (no new requests are sent in it, so it runs faster than steady).
The whole-run rate (items / the summary's duration) is reported next to it, not asserted.

What is asserted is the runner's share of it: the median wave's rate times the latency the runner
itself measured (Little's law: the requests it really kept in flight) is >= 97% of W. A busy
machine stretches every request (the mock's timers fire late, the client reads late), which
lowers W / L for runner and mock alike and says nothing about the runner; a runner that leaves
workers idle between requests lowers this share whatever the machine does. The p50 stands for
the mean (latency median == p99 in the profile), which under a tail of late answers can only
underestimate it. The runs get real-time priority where the OS allows it
(:func:`~tests.harness.runutil.foreground_priority`). How fast the runner is on a core is the
benchmarks' question (tests/benchmarks/test_runner_throughput.py), not this test's.
"""

from __future__ import annotations

import shutil
import statistics

import pytest

from tests.harness.runutil import foreground_priority, research_scenario, run_in_process, write_scenario

BAR = 0.97
TIME_SCALE = 0.01

# workers, wall latency L (s), cycles per worker, waves skipped at the start
CASES = [
    (1, 0.5, 6, 1),
    (3, 0.5, 6, 1),
    (5, 0.5, 6, 1),
    (10, 0.5, 6, 1),
    (100, 0.5, 10, 2),
    (1000, 1.0, 10, 3),  # 1,000 req/s: the runner and the mock share this machine's 2 cores
]


@pytest.fixture(autouse=True)
def _priority():
    with foreground_priority() as applied:
        yield applied


def _scenario(workers: int, latency_wall: float) -> dict:
    median = latency_wall / TIME_SCALE  # profile seconds
    return research_scenario(
        workers=workers, timeout=median * 20,
        retry={"max_attempts": 1},  # a retry would hide a failure; none is expected
        mock={"research.latency.median": median, "research.latency.p99": median})


def _measure(tmp_path, monkeypatch, attempt: int, workers: int, latency: float, cycles: int, skip: int) -> dict:
    root = tmp_path / f"attempt-{attempt}"
    n = workers * cycles
    wd = write_scenario(root, _scenario(workers, latency), n)
    run = run_in_process(wd, time_scale=TIME_SCALE, monkeypatch=monkeypatch)
    s = run.summary
    assert s["items_done"] == n and s["items_failed"] == 0, s
    assert s["requests"] == n and s["requests_by_outcome"] == {"ok": n}, s
    rows = wd.rows()
    assert len(rows) == n and all(r["status"] == "done" and r["research_id"] for r in rows)
    times = sorted(run.finish_times)
    assert len(times) == n
    ideal = workers / latency
    wave_end = [times[k * workers - 1] for k in range(1, cycles + 1)]  # last finish of each wave
    steady = (cycles - 1 - skip) * workers / (wave_end[cycles - 2] - wave_end[skip - 1])
    per_wave = [workers / (wave_end[k] - wave_end[k - 1]) / ideal for k in range(1, cycles)]
    shutil.rmtree(root, ignore_errors=True)
    latency_wall = s["latency_real_seconds"]["p50"] * TIME_SCALE
    return {
        # the median wave: one wave a foreign CPU spike stalled does not decide it
        "occupancy": statistics.median(per_wave) * ideal * latency_wall / workers,
        "steady": steady / ideal,
        "whole": n / s["duration_wall_seconds"] / ideal,
        "per_wave": [round(x * 100, 1) for x in per_wave],
        "latency_p50_wall": latency_wall,
    }


@pytest.mark.parametrize("workers,latency,cycles,skip", CASES, ids=[f"{c[0]}-workers" for c in CASES])
def test_throughput_is_at_least_97_percent_of_workers_over_latency(tmp_path, monkeypatch, _priority, workers,
                                                                   latency, cycles, skip):
    m = _measure(tmp_path, monkeypatch, 0, workers, latency, cycles, skip)
    report = (f"in flight {m['occupancy']:.1%} of {workers} (steady {m['steady']:.1%} of W/L, whole run "
              f"{m['whole']:.1%}, p50 latency {m['latency_p50_wall'] * 1000:.1f} ms for L={latency * 1000:.0f} ms, "
              f"per wave % {m['per_wave']})")
    print(f"\n{workers} workers, L={latency}s{' (real-time priority)' if _priority else ''}: {report}")
    assert m["occupancy"] >= BAR, f"{workers} workers: {report}"
    assert m["latency_p50_wall"] >= latency * 0.999, report  # the mock never answers early
