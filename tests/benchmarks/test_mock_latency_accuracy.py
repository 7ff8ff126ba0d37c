"""Bar: at 1,000 requests per second, the latency clients measure has the profile's p50 and p99
within 5% (DESIGN.md "Performance bars").

A REST profile (CardGenius) with median 0.25 s and p99 1.0 s, unlimited capacity (~300 in
flight) and the server's seeded generator (seed 1: its first 10,000 draws have p50 and p99
within 0.2% of the profile, so what is measured is the mock's added error, not sampling
error); the load generator (other core) sends at a constant arrival rate (open loop: it never
waits for answers before sending) for 10 s and takes the quantiles of what it observed, from
request written to answer read. (At 0.1/0.4 s a few ms of event-loop lag from the rest of
this shared machine is already 3-5% of the median.)

A round is quiet when the rest of the machine left it alone (tests/benchmarks/rounds.py) and the
client kept to its sending schedule (send lag p99 <= 20 ms); the errors are the medians over the
quiet rounds, and without one (after two extra rounds) the benchmark fails as "not measured".
"""

from __future__ import annotations

import json

import pytest

from .conftest import split_url
from .rounds import Rounds, fig, record, require_measured

MEDIAN, P99 = 0.25, 1.0
RATE, DURATION = 1_000, 10.0
TOLERANCE = 0.05
DISTURBED_LAG = 0.020  # the client fell this far behind its sending schedule (p99): machine busy
EXTRA_ROUNDS = 2

SETS = [
    "cardgenius.capacity.max_in_flight=null",
    f"cardgenius.latency.median={MEDIAN}",
    f"cardgenius.latency.p99={P99}",
    "cardgenius.endpoints.recommend.response_bytes=512",
]


@pytest.mark.bench
def test_latency_quantiles_at_1000_rps(benchmark, pinned_mock, loadgen):
    mock = pinned_mock(["cardgenius"], sets=SETS, seed=1)
    host, port = split_url(mock.base_url)
    command = dict(
        host=host, port=port, rate=RATE, duration=DURATION, method="POST", path="/cardgenius/v1/recommendations",
        headers={"x-api-key": "bench", "Content-Type": "application/json"},
        body=json.dumps({"user_id": "u-1", "spend": {"groceries": 12000}}), prewarm=200,
    )
    rounds = Rounds(lambda: [mock.proc.pid, loadgen.proc.pid])

    def one() -> dict:
        r = loadgen("open_loop", **command)
        r["p50_error"], r["p99_error"] = r["p50"] / MEDIAN - 1, r["p99"] / P99 - 1
        r["p50_abs_error"], r["p99_abs_error"] = abs(r["p50_error"]), abs(r["p99_error"])
        return r

    def measure() -> None:
        r = rounds.measure(one)
        r["quiet"] = r["quiet"] and r["send_lag_p99"] <= DISTURBED_LAG

    benchmark.pedantic(measure, rounds=1, iterations=1)
    while not rounds.quiet and len(rounds.all) <= EXTRA_ROUNDS:
        measure()
    p50_err, p99_err = rounds.median("p50_abs_error", 1), rounds.median("p99_abs_error", 1)
    benchmark.extra_info.update({
        "rate": RATE, "achieved_rate_rounds": [round(r["achieved_rate"], 1) for r in rounds.all],
        "requests_rounds": [r["requests"] for r in rounds.all],
        "p50_configured": MEDIAN, "p50_measured_rounds": [round(r["p50"], 4) for r in rounds.all],
        "p99_configured": P99, "p99_measured_rounds": [round(r["p99"], 4) for r in rounds.all],
        "p50_abs_error": p50_err, "p99_abs_error": p99_err,
        "send_lag_p99_ms_rounds": [round(r["send_lag_p99"] * 1000, 2) for r in rounds.all],
        **rounds.info(),
    })
    pct = (lambda e: None if e is None else 100 * e)
    # errors sit near zero: the slack (2 points, under half the 5% bar) keeps noise from failing the gate
    record(benchmark, p50_abs_error_pct=fig(pct(p50_err), "%", "lower", 0.10, slack=2.0, digits=2),
           p99_abs_error_pct=fig(pct(p99_err), "%", "lower", 0.10, slack=2.0, digits=2))
    for r in rounds.all:
        print(f"\nat {r['achieved_rate']:.0f} req/s: p50 {r['p50'] * 1000:.1f} ms ({r['p50_error']:+.1%}), "
              f"p99 {r['p99'] * 1000:.1f} ms ({r['p99_error']:+.1%}); send lag p99 {r['send_lag_p99'] * 1000:.2f} ms, "
              f"others {r['others_cores']} cores")
        assert r["errors"] == {} and r["statuses"] == {"200": r["requests"]}, r
    require_measured(benchmark, rounds)
    for r in rounds.quiet:
        assert abs(r["achieved_rate"] / RATE - 1) <= 0.02, r
    assert p50_err <= TOLERANCE, benchmark.extra_info
    assert p99_err <= TOLERANCE, benchmark.extra_info
