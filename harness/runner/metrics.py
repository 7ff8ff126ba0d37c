"""The runner's Prometheus metrics (``harness_`` prefix; the README lists them).

Base units, ``_total`` counters, bounded labels (target and endpoint names come from the
scenario, never from URLs or item ids) and a ``run_id`` label on everything. The families are
the lock-free ones of :mod:`mock_servers.plain_metrics` (an update is an attribute add, read at
scrape time), and children are cached, since the hot path counts every request.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from mock_servers.plain_metrics import PlainCounter as Counter
from mock_servers.plain_metrics import PlainGauge as Gauge
from mock_servers.plain_metrics import PlainHistogram as Histogram

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class RunnerMetrics:
    def __init__(self, run_id: str, registry: CollectorRegistry | None = None) -> None:
        self.run_id = run_id
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter("harness_requests_total", "Requests by outcome (ok, rate_limited, server_error, "
                                "client_error, timeout, connection_error).",
                                ["run_id", "target", "endpoint", "outcome"], r)
        self.duration = Histogram("harness_request_duration_seconds", "Request latency as the runner saw it.",
                                  ["run_id", "target", "endpoint"], r, buckets=DURATION_BUCKETS)
        self.in_flight = Gauge("harness_in_flight_requests", "HTTP requests in flight now.", ["run_id"], r)
        self.concurrency_limit = Gauge("harness_concurrency_limit", "The adaptive (AIMD) concurrency limit now.",
                                       ["run_id"], r)
        self.workers = Gauge("harness_workers", "The --workers cap on requests in flight.", ["run_id"], r)
        self.request_bytes = Counter("harness_request_bytes_total", "Request body bytes sent.",
                                     ["run_id", "target"], r)
        self.response_bytes = Counter("harness_response_bytes_total", "Response body bytes received.",
                                      ["run_id", "target"], r)
        self.retries = Counter("harness_retries_total", "Retries by the outcome that caused them.",
                               ["run_id", "reason"], r)
        self.limiter_wait = Counter("harness_limiter_wait_seconds_total", "Time spent waiting for the client-side "
                                    "rate limiter.", ["run_id", "target"], r)
        self.items = Counter("harness_items_total", "Items finished, by status (done, failed).",
                             ["run_id", "status"], r)
        self.items_planned = Gauge("harness_items_planned", "Items in this run's input.", ["run_id"], r)
        self.eta = Gauge("harness_eta_seconds", "Estimated seconds to finish.", ["run_id"], r)
        self.planned_duration = Gauge("harness_planned_duration_seconds", "The capacity model's predicted duration "
                                      "of this run (wall-clock seconds).", ["run_id"], r)
        self.tokens = Counter("harness_tokens_total", "LLM tokens by kind (input, output).",
                              ["run_id", "kind"], r)
        self.cost = Counter("harness_cost_dollars_total", "Spend so far, from response usage and profile prices.",
                            ["run_id"], r)
        self._cache: dict[tuple, object] = {}
        self.workers_g = self.workers.labels(run_id)
        self.in_flight_g = self.in_flight.labels(run_id)
        self.limit_g = self.concurrency_limit.labels(run_id)
        self.planned_g = self.items_planned.labels(run_id)
        self.eta_g = self.eta.labels(run_id)
        self.planned_duration_g = self.planned_duration.labels(run_id)
        self.cost_c = self.cost.labels(run_id)

    def child(self, metric, *labels: str):
        key = (id(metric), labels)
        c = self._cache.get(key)
        if c is None:
            c = self._cache[key] = metric.labels(self.run_id, *labels)
        return c


class _Noop:
    """Stands for every metric and child of :class:`NullMetrics`: each update does nothing."""

    __slots__ = ()

    def inc(self, amount: float = 1) -> None:
        pass

    def dec(self, amount: float = 1) -> None:
        pass

    def set(self, value: float) -> None:
        pass

    def observe(self, value: float) -> None:
        pass

    def labels(self, *labels: str) -> "_Noop":
        return self

    def __repr__(self) -> str:
        return "<no-op metric>"


_NOOP = _Noop()


class NullMetrics:
    """``harness run --no-metrics``: the same surface as :class:`RunnerMetrics`, recording nothing
    (an empty registry), so the metrics' cost can be measured against a run without them."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.registry = CollectorRegistry()
        for name in ("requests", "duration", "in_flight", "concurrency_limit", "workers", "request_bytes",
                     "response_bytes", "retries", "limiter_wait", "items", "items_planned", "eta",
                     "planned_duration", "tokens", "cost", "workers_g", "in_flight_g", "limit_g", "planned_g",
                     "eta_g", "planned_duration_g", "cost_c"):
            setattr(self, name, _NOOP)

    def child(self, metric, *labels: str) -> _Noop:
        return _NOOP

    def __repr__(self) -> str:
        return f"NullMetrics(run_id={self.run_id!r})"
