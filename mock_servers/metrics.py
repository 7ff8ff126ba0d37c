"""The mocks' Prometheus metrics (``mock_`` prefix, see the README's metric list).

Label values are bounded: provider and endpoint names come from profiles, never from URLs.
The families are the lock-free ones of :mod:`mock_servers.plain_metrics` (an update is an
attribute add, read when /metrics is served), and children are cached.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from .plain_metrics import PlainCounter as Counter
from .plain_metrics import PlainGauge as Gauge
from .plain_metrics import PlainHistogram as Histogram

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class MockMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "mock_requests_total", "Requests answered, by provider, endpoint and HTTP status.",
            ["provider", "endpoint", "status"], r)
        self.rate_limited = Counter(
            "mock_rate_limited_total", "Requests refused with a rate-limit error, by limit dimension.",
            ["provider", "dimension"], r)
        self.in_flight = Gauge(
            "mock_in_flight_requests", "Requests being served now (queued, working or streaming).",
            ["provider"], r)
        self.request_bytes = Counter(
            "mock_request_bytes_total", "Request body bytes received.", ["provider"], r)
        self.response_bytes = Counter(
            "mock_response_bytes_total", "Response body bytes sent.", ["provider"], r)
        self.injected_latency = Histogram(
            "mock_injected_latency_seconds", "Latency the mock added to a request (wall-clock seconds).",
            ["provider"], r, buckets=LATENCY_BUCKETS)
        self.faults = Counter(
            "mock_faults_total", "Faults injected, by kind.", ["provider", "kind"], r)
        self.tokens = Counter(
            "mock_tokens_total", "LLM tokens served, by kind (input, output).", ["provider", "kind"], r)
        self._cache: dict[tuple, object] = {}

    def child(self, metric, *labels: str):
        key = (id(metric), labels)
        c = self._cache.get(key)
        if c is None:
            c = self._cache[key] = metric.labels(*labels)
        return c
