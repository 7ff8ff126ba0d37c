"""Redis restarted in the middle of a distributed run: the run pauses (no request admitted while
the shared limiter cannot be asked: fail closed), continues once Redis is back, loses and
repeats nothing, and after the restart the limit is never exceeded by more than one burst.

The mock answers in a constant 5 ms with no limit of its own, so its ``mock_requests_total``
(scraped every 0.1 s) is the admission schedule shifted by 5 ms: the test checks every window
of >= 0.5 s after the restart against rate x T + burst (+ 1% for the scrapes' timing).
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.harness.runutil import Scraper
from tests.runner_support import (FAST_REST_SETS, ROOT, expected_ids, mock_requests, read_ids, write_scenario,
                                  write_users)

RATE = 150.0  # requests/s, the scenario's shared limit
BURST = 5
ITEMS = 1200  # 8 s at the limit
DOWN = 2.0    # seconds Redis is away
IN_FLIGHT = 2 * 64


def _limited_scenario(path, **kw):
    write_scenario(path, **kw)
    text = path.read_text().replace("    mock_url:", f"    limits: {{requests_per_second: {RATE}, burst: {BURST}}}\n"
                                                    "    mock_url:")
    path.write_text(text)
    return path


@pytest.mark.timeout(180)
def test_run_pauses_while_redis_restarts_and_keeps_the_limit(tmp_path, mock_server, redis_server, celery_workers):
    celery_workers(2)
    mock = mock_server(["cardgenius"], sets=FAST_REST_SETS[2:] + ["cardgenius.latency.median=0.005",
                                                                 "cardgenius.latency.p99=0.005"])
    data = write_users(tmp_path / "users.jsonl", ITEMS)
    out = tmp_path / "out.jsonl"
    scenario = _limited_scenario(tmp_path / "s.yaml", input=data, output=out, mock_url=mock.url("cardgenius"),
                                 workers=64)
    cmd = [sys.executable, "-m", "harness", "run", str(scenario), "--engine", "celery", "--quiet",
           "--broker", redis_server.url, "--processes", "2"]
    scraper = Scraper(mock.base_url + "/metrics", interval=0.1, limit_seconds=120)
    with scraper.running():
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while mock_requests(mock.base_url, endpoint="recommend").get("200", 0) < ITEMS * 0.3:
                assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
                assert time.monotonic() < deadline
                time.sleep(0.02)
            t_stop = time.perf_counter()
            redis_server.stop()
            time.sleep(DOWN)
            t_start = time.perf_counter()
            redis_server.start()
            code = proc.wait(120)
            err = proc.stderr.read().decode()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
    assert code == 0, err[-3000:]
    assert read_ids(out) == list(expected_ids(ITEMS))
    assert mock_requests(mock.base_url, endpoint="recommend") == {"200": ITEMS}  # nothing lost, nothing twice

    samples = [(t, mock_requests_from(text)) for t, text in scraper.samples]
    # paused: what was reserved before Redis went (at most one per worker, <= IN_FLIGHT / RATE
    # seconds ahead) goes out on its schedule, then nothing until Redis is back
    at_stop = max(n for t, n in samples if t <= t_stop)
    during = [n for t, n in samples if t_stop + IN_FLIGHT / RATE + 0.1 <= t <= t_start]
    assert during and max(during) == min(during), f"requests admitted while Redis was down: {during}"
    assert min(during) - at_stop <= IN_FLIGHT
    # from the outage on: no window of >= 0.5 s got more than rate x T + burst
    after = [(t, n) for t, n in samples if t >= t_stop]
    worst = -float("inf")
    for i, (ti, ni) in enumerate(after):
        for tj, nj in after[i + 1:]:
            if tj - ti >= 0.5:
                worst = max(worst, (nj - ni) - (RATE * (tj - ti) * 1.01 + BURST))
    print(f"\nRedis down {DOWN:g} s; {min(during) - at_stop:.0f} reserved before it went, then paused at "
          f"{min(during):.0f} requests; worst window from the outage on: "
          f"{worst:+.1f} requests beyond rate x T + burst")
    assert worst <= 0, f"{worst:.1f} requests beyond rate x T + burst after the restart"


def mock_requests_from(text: str) -> float:
    from tests.harness.runutil import metric_sum

    return metric_sum(text, "mock_requests_total", provider="cardgenius", endpoint="recommend", status="200")
