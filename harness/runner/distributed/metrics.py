"""A worker process's Prometheus metrics: the runner's own (``harness_`` names, ``run_id``
label), one set per run for the life of the process (so counters only grow across the chunks
it runs), served with a ``worker`` label added to every sample."""

from __future__ import annotations

import os
import socket
import threading

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from harness.runner.metrics import RunnerMetrics

_lock = threading.Lock()
_by_run: dict[str, RunnerMetrics] = {}


def worker_name() -> str:
    """This process's ``worker`` label: host and pool index (``HARNESS_WORKER_NAME`` overrides)."""
    name = os.environ.get("HARNESS_WORKER_NAME")
    if name:
        return name
    try:
        from billiard.process import current_process

        index = getattr(current_process(), "index", None)
    except ImportError:  # pragma: no cover
        index = None
    return f"{socket.gethostname()}-{index if index is not None else os.getpid()}"


def worker_metrics(run_id: str) -> RunnerMetrics:
    with _lock:
        m = _by_run.get(run_id)
        if m is None:
            m = _by_run[run_id] = RunnerMetrics(run_id)
        return m


class WorkerCollector(Collector):
    """Every run's metrics in this process, each sample labelled ``worker``."""

    def __init__(self, worker: str) -> None:
        self.worker = worker

    def collect(self):
        with _lock:
            runs = list(_by_run.values())
        for m in runs:
            for family in m.registry.collect():
                out = Metric(family.name, family.documentation, family.type, family.unit)
                for s in family.samples:
                    out.add_sample(s.name, {**s.labels, "worker": self.worker}, s.value, s.timestamp, s.exemplar)
                yield out


def serve_metrics(port: int, addr: str = "127.0.0.1") -> CollectorRegistry:
    """Serve this process's /metrics on ``addr:port`` (a daemon thread)."""
    from prometheus_client import start_http_server

    registry = CollectorRegistry()
    registry.register(WorkerCollector(worker_name()))
    start_http_server(port, addr=addr, registry=registry)
    return registry
