"""``--no-metrics``: NullMetrics stands in for RunnerMetrics everywhere the runner touches it."""

from __future__ import annotations

from harness.runner.metrics import NullMetrics, RunnerMetrics


def test_null_metrics_has_every_attribute_of_the_real_ones():
    real, null = RunnerMetrics("r1"), NullMetrics("r1")
    public = {k for k in vars(real) if not k.startswith("_")}
    missing = {k for k in public if not hasattr(null, k)}
    assert not missing


def test_null_metrics_records_nothing():
    m = NullMetrics("r1")
    m.child(m.requests, "t", "e", "ok").inc()
    m.child(m.duration, "t", "e").observe(0.5)
    m.in_flight_g.inc()
    m.in_flight_g.dec()
    m.eta_g.set(3)
    m.cost_c.inc(0.1)
    assert list(m.registry.collect()) == []
    assert "r1" in repr(m)
