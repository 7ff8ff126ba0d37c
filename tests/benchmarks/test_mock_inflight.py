"""Bar: one mock process holds 10,000 requests in flight (DESIGN.md "Performance bars").

A REST profile (CardGenius) with unlimited capacity and a constant 5 s latency. The load
generator (its own process on the other core, open-files limit raised) first opens 10,000
keep-alive connections (a client's pool; not timed), then writes one request on each at once:
the timed round runs from the first request written to the last answer read. All 10,000 must
come back 200, the round must stay close to 5 s (the rest is one core parsing 10,000 requests
and writing 10,000 answers), and the server's ``mock_in_flight_requests`` gauge, scraped while
they wait, must reach 10,000.

Three rounds, every one all 200s; the elapsed-time bar is checked on the median over the quiet
rounds (tests/benchmarks/rounds.py), and with too few quiet rounds the benchmark fails as "not
measured".
"""

from __future__ import annotations

import json

import pytest

from .conftest import split_url
from .rounds import Rounds, fig, record, require_measured

IN_FLIGHT = 10_000
LATENCY = 5.0
MAX_ELAPSED = 7.0
ROUNDS = 3
QUIET_ROUNDS = 2
EXTRA_ROUNDS = 2

SETS = [
    "cardgenius.capacity.max_in_flight=null",
    f"cardgenius.latency.median={LATENCY}",
    f"cardgenius.latency.p99={LATENCY}",
    "cardgenius.endpoints.recommend.response_bytes=256",
]


@pytest.mark.bench
def test_holds_10000_in_flight(benchmark, pinned_mock, loadgen):
    mock = pinned_mock(["cardgenius"], sets=SETS)
    host, port = split_url(mock.base_url)
    opened: list[dict] = []
    results: list[dict] = []

    def open_connections():
        opened.append(loadgen("open", host=host, port=port, n=IN_FLIGHT, connect_concurrency=500))

    def burst() -> dict:
        r = loadgen(
            "burst", host=host, port=port, method="POST", path="/cardgenius/v1/recommendations",
            headers={"x-api-key": "bench", "Content-Type": "application/json"},
            body=json.dumps({"user_id": "u-1", "spend": {"groceries": 12000}}), timeout=30, provider="cardgenius",
            scrape_at=[1.0, 2.0, 3.0, 4.0, 4.5],  # the gauge while all of them wait (answers start at 5 s)
        )
        results.append(r)
        return r

    rounds = Rounds(lambda: [mock.proc.pid, loadgen.proc.pid])
    benchmark.pedantic(lambda: rounds.measure(burst), setup=open_connections, rounds=ROUNDS, iterations=1)
    for _ in range(EXTRA_ROUNDS):
        if len(rounds.quiet) >= QUIET_ROUNDS:
            break
        open_connections()
        rounds.measure(burst)
    elapsed = rounds.median("elapsed", QUIET_ROUNDS)
    max_gauge = max(r["max_gauge"] or 0 for r in results)
    benchmark.extra_info.update({
        "requests": IN_FLIGHT, "latency_s": LATENCY, "bar_elapsed_s": MAX_ELAPSED,
        "elapsed_s": [round(r["elapsed"], 3) for r in results],
        "median_elapsed_s": elapsed,
        "first_answer_after_s": [round(r["first_done_after"] or 0, 3) for r in results],
        "connect_s": [round(o["connect_s"], 3) for o in opened],
        "statuses": [r["statuses"] for r in results], "errors": [r["errors"] for r in results],
        "max_in_flight_gauge": max_gauge,
        **rounds.info(),
    })
    # the time beyond the 5 s latency is what the server adds: that is the judged figure (0.5 s of
    # slack: it is CPU time on this VM, and has measured 1.07 s quiet and 1.31 s in CI, same code)
    record(benchmark, overhead_s=fig(None if elapsed is None else elapsed - LATENCY, "s", "lower", 0.25, slack=0.5,
                                     digits=3),
           in_flight=fig(max_gauge, "requests", "higher", 0.0))
    print(f"\n10,000 in flight for {LATENCY:g} s: rounds took {[round(r['elapsed'], 2) for r in results]} s "
          f"(connecting took {[round(o['connect_s'], 2) for o in opened]} s, untimed; others "
          f"{rounds.info()['others_cores_rounds']} cores); gauge max {max_gauge:g}")
    for o in opened:
        assert o["connected"] == IN_FLIGHT and o["errors"] == {}, o
    for r in results:
        assert r["errors"] == {}, r
        assert r["statuses"] == {"200": IN_FLIGHT}, r
        assert r["first_done_after"] >= LATENCY - 0.05, r
    assert max_gauge >= IN_FLIGHT, results
    require_measured(benchmark, rounds)
    assert elapsed <= MAX_ELAPSED, results
