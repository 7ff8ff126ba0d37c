"""``harness run --pushgateway URL``: push the run's final metrics to a Prometheus Pushgateway.

A run shorter than a scrape interval may never be scraped; its final figures still reach
Prometheus this way. What is pushed (job ``harness``, grouping key ``run_id``) is a snapshot of
every ``harness_`` series as the run ended, plus ``harness_run_duration_seconds``, in a registry
of its own, so the pushed group is complete and self-consistent. Prometheus scrapes the
Pushgateway with ``honor_labels: true`` (grafana/prometheus/prometheus.yml), so the dashboards
read pushed runs like scraped ones.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway
from prometheus_client.registry import Collector

JOB = "harness"


class _Snapshot(Collector):
    """The metric families of another registry, collected once, served as they were."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.families = list(source.collect())

    def collect(self):
        return iter(self.families)


def summary_registry(metrics, summary: dict) -> CollectorRegistry:
    """A registry of its own: the runner's final series and the run's wall-clock duration."""
    registry = CollectorRegistry()
    registry.register(_Snapshot(metrics.registry))
    duration = Gauge("harness_run_duration_seconds", "Wall-clock duration of the run (pushed at its end).",
                     ["run_id"], registry=registry)
    duration.labels(metrics.run_id).set(float(summary.get("duration_wall_seconds") or 0.0))
    return registry


def push_summary(url: str, metrics, summary: dict, timeout: float = 10.0) -> None:
    """PUT the summary group ``job="harness", run_id=RUN`` to the Pushgateway at ``url``
    (``http://host:9091``; a bare ``host:port`` works too). Raises ``OSError`` when it cannot."""
    push_to_gateway(url, job=JOB, registry=summary_registry(metrics, summary),
                    grouping_key={"run_id": metrics.run_id}, timeout=timeout)
