"""The lock-free metric families expose exactly what prometheus_client's own would for the same
updates (its ``_created`` series aside), so dashboards and PromQL read them unchanged."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from harness.runner.metrics import DURATION_BUCKETS, RunnerMetrics
from mock_servers.metrics import LATENCY_BUCKETS, MockMetrics
from mock_servers.plain_metrics import PlainCounter, PlainGauge, PlainHistogram


def _samples(registry: CollectorRegistry) -> list[str]:
    return sorted(line for line in generate_latest(registry).decode().splitlines()
                  if line and not line.startswith("#") and "_created" not in line)


def _headers(registry: CollectorRegistry) -> list[str]:
    return sorted(line for line in generate_latest(registry).decode().splitlines() if line.startswith("#"))


def test_same_exposition_as_prometheus_client():
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    pc = PlainCounter("t_requests_total", "Requests.", ["target", "outcome"], ours)
    tc = Counter("t_requests_total", "Requests.", ["target", "outcome"], registry=theirs)
    ph = PlainHistogram("t_duration_seconds", "Latency.", ["target"], ours, buckets=DURATION_BUCKETS)
    th = Histogram("t_duration_seconds", "Latency.", ["target"], registry=theirs, buckets=DURATION_BUCKETS)
    pg = PlainGauge("t_in_flight", "In flight.", ["run_id"], ours)
    tg = Gauge("t_in_flight", "In flight.", ["run_id"], registry=theirs)
    rng = random.Random(7)
    for _ in range(2000):
        target, outcome = rng.choice("ab"), rng.choice(["ok", "rate_limited"])
        n = rng.choice([1, 1, 1, 2.5])
        pc.labels(target, outcome).inc(n)
        tc.labels(target, outcome).inc(n)
        # bucket edges exactly, below the first, beyond the last
        v = rng.choice([0.0, 0.005, 0.01, 0.0100001, 0.3, 1, 120, 121.0, rng.random() * 3])
        ph.labels(target).observe(v)
        th.labels(target).observe(v)
    pg.labels("r").set(41)
    tg.labels("r").set(41)
    pg.labels("r").inc()
    tg.labels("r").inc()
    assert _samples(ours) == _samples(theirs)
    assert [h for h in _headers(ours) if "_created" not in h] == [h for h in _headers(theirs) if "_created" not in h]


def test_gauge_function_read_at_scrape():
    reg = CollectorRegistry()
    g = PlainGauge("t_live", "Live.", [], reg)
    box = {"n": 3}
    g.labels().set_function(lambda: box["n"])
    assert "t_live 3.0" in _samples(reg)
    box["n"] = 9
    assert "t_live 9.0" in _samples(reg)


def test_counter_refuses_to_go_down_and_wrong_labels():
    reg = CollectorRegistry()
    c = PlainCounter("t_total", "T.", ["a"], reg)
    with pytest.raises(ValueError, match="only go up"):
        c.labels("x").inc(-1)
    with pytest.raises(ValueError, match="takes labels"):
        c.labels("x", "y")


def test_duplicate_name_refused_by_the_registry():
    reg = CollectorRegistry()
    PlainCounter("t_total", "T.", [], reg)
    with pytest.raises(ValueError):
        PlainCounter("t_total", "T.", [], reg)


def test_runner_metrics_cached_children_count():
    m = RunnerMetrics("run-1")
    ok = m.child(m.requests, "svc", "recommend", "ok")
    assert m.child(m.requests, "svc", "recommend", "ok") is ok
    for _ in range(5):
        ok.inc()
    text = generate_latest(m.registry).decode()
    assert 'harness_requests_total{endpoint="recommend",outcome="ok",run_id="run-1",target="svc"} 5.0' in text


def test_mock_metrics_expose_like_before():
    m = MockMetrics()
    m.child(m.requests, "openai", "chat", "200").inc()
    m.child(m.injected_latency, "openai").observe(0.001)
    text = generate_latest(m.registry).decode()
    assert 'mock_requests_total{endpoint="chat",provider="openai",status="200"} 1.0' in text
    assert 'mock_injected_latency_seconds_bucket{le="0.001",provider="openai"} 1.0' in text
    assert len([x for x in text.splitlines() if x.startswith("mock_injected_latency_seconds_bucket")]) \
        == len(LATENCY_BUCKETS) + 1
