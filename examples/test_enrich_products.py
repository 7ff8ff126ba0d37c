"""The team's tests of enrich_products.py, on the harness's mock (fixtures from its pytest plugin).

    pytest examples/                                   # no product lost under 429s and 5xx
    pytest examples/ --benchmark-save=baseline         # record the throughput
    pytest examples/ --benchmark-compare --benchmark-compare-fail=median:10%   # fail if slower
"""

from __future__ import annotations

import enrich_products

# A ~3 s call (the shipped OpenAI profile) at 0.07 takes ~0.2 s of wall time: the run is paced by
# its workers and the mock's latency, not by this machine's CPU.
TIME_SCALE = 0.07
PRODUCTS = [{"id": f"tv-{i:03d}", "title": f"Television {i}", "description": f"A {40 + i % 40} in 4K TV."}
            for i in range(80)]


def test_no_product_lost_under_429s_and_5xx(harness_mock):
    # 10 requests per (scaled) minute, a 0.6 s wall minute, for 10 threads: the mock answers 429s
    mock = harness_mock(["openai"], time_scale=0.01, seed=7, sets={"openai.limits.requests_per_minute": 10})
    first = enrich_products.enrich(PRODUCTS[:20], base_url=mock.base_url("openai"), api_key="sk-test")
    assert mock.total("openai").rate_limited > 0, "the limit was meant to push back"

    # then 500s and 503s instead, switched while the mock runs (the SDK backs off 0.5-8 s of wall
    # time on a 5xx, unscaled, so the limit goes back up to keep the test short)
    mock.limits("openai", requests_per_minute=500)
    mock.faults("openai", error_500=0.08, error_503=0.05)
    second = enrich_products.enrich(PRODUCTS[20:40], base_url=mock.base_url("openai"), api_key="sk-test")
    got = mock.total("openai")
    assert got.server_errors > 0, "the faults were meant to fire"

    results = first + second
    assert [r.id for r in results] == [p["id"] for p in PRODUCTS[:40]]  # every product, once, in order
    assert all(r.metafields for r in results)
    # every product is one answered call; the rest of what the mock saw were retries
    assert got.ok == 40


def test_throughput_does_not_regress(harness_benchmark, harness_mock_session):
    # limits far above what 10 workers ask for, and a narrow latency tail: the workers set the pace
    mock = harness_mock_session(["openai"], time_scale=TIME_SCALE, seed=1, sets={
        "openai.limits.requests_per_minute": 100000, "openai.limits.tokens_per_minute": 100000000,
        "openai.latency.p99": 4.0})
    figures = harness_benchmark(
        lambda: enrich_products.enrich(PRODUCTS, base_url=mock.base_url("openai"), api_key="sk-test"),
        items=len(PRODUCTS), mock=mock, rounds=3, latencies=lambda results: [r.seconds for r in results])
    assert figures.rate_limited_share == 0.0
    assert figures.items_per_s > 0
