"""Prometheus export of Locust's statistics under the runner's metric names (``source="locust"``).

The exporter keeps its own copy of the statistics, fed by Locust's events: ``request`` in a
standalone run, ``worker_report`` on a distributed master (the workers' reports, aggregated);
workers export nothing. (Its own copy because ``--json``/``--json-file`` reset Locust's entries.)
A collector turns that copy into metrics at each scrape and for the final text file. Names and labels are the README's: ``harness_requests_total{outcome}`` with 429s as
``rate_limited`` apart from ``server_error`` etc., ``harness_request_duration_seconds``,
``harness_in_flight_requests`` (= users: a user has at most one request in flight),
``harness_response_bytes_total``, ``harness_tokens_total{kind="output"}``,
``harness_time_to_first_token_seconds`` and ``harness_locust_users``.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Iterable, Iterator

from locust import events
from locust.stats import RequestStats, StatsEntry, StatsError
from prometheus_client import CollectorRegistry, start_http_server, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from .options import option
from .outcomes import NON_HTTP_TYPES, OUTCOMES, TOKENS_PER_S, TTFT, endpoint_of, is_rate_limited_name, outcome_of_error

log = logging.getLogger(__name__)

# the runner's buckets (harness/metrics.py), so one dashboard query serves both
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
SOURCE = "locust"


def _histogram(times_ms: Iterable[tuple[float, int]], buckets: tuple[float, ...]) -> tuple[list[tuple[str, float]], float]:
    """Cumulative buckets (seconds) from Locust's ``{rounded ms: count}``; returns (buckets, count)."""
    counts = [0] * (len(buckets) + 1)
    total = 0
    for ms, n in times_ms:
        s = ms / 1000.0
        i = next((k for k, b in enumerate(buckets) if s <= b), len(buckets))
        counts[i] += n
        total += n
    out, acc = [], 0
    for b, c in zip(buckets, counts):
        acc += c
        out.append((floatToGoString(b), float(acc)))
    out.append(("+Inf", float(total)))
    return out, float(total)


class LocustCollector:
    """Turns a :class:`RequestStats` (and the runner's user count) into metrics at every scrape."""

    def __init__(self, environment: Any, stats: RequestStats, run_id: str, target: str) -> None:
        self.environment = environment
        self.stats = stats
        self.run_id = run_id
        self.target = target

    def collect(self) -> Iterator[Any]:
        runner = self.environment.runner
        stats = self.stats
        base = [self.run_id, SOURCE]
        base_labels = ["run_id", "source"]

        requests = CounterMetricFamily("harness_requests", "Requests by outcome (ok, rate_limited, server_error, "
                                       "client_error, timeout, connection_error).",
                                       labels=base_labels + ["target", "endpoint", "outcome"])
        duration = HistogramMetricFamily("harness_request_duration_seconds", "Request latency as Locust saw it.",
                                         labels=base_labels + ["target", "endpoint"])
        ttft = HistogramMetricFamily("harness_time_to_first_token_seconds", "Time to the first streamed token.",
                                     labels=base_labels + ["target", "endpoint"])
        resp_bytes = CounterMetricFamily("harness_response_bytes", "Response body bytes received.",
                                         labels=base_labels + ["target"])
        tokens = CounterMetricFamily("harness_tokens", "LLM tokens by kind (output, from streamed answers).",
                                     labels=base_labels + ["kind"])

        counts: dict[tuple[str, str], float] = {}
        times: dict[str, dict[float, int]] = {}
        sums: dict[str, float] = {}
        total_bytes = 0.0
        out_tokens = 0.0
        for entry in list(stats.entries.values()):
            if entry.method == TTFT:
                buckets, n = _histogram(entry.response_times.items(), DURATION_BUCKETS)
                ttft.add_metric([*base, self.target, entry.name], buckets, entry.total_response_time / 1000.0)
                continue
            if entry.method == TOKENS_PER_S:
                out_tokens += entry.total_content_length
                continue
            if entry.method in NON_HTTP_TYPES:
                continue
            endpoint = endpoint_of(entry.name)
            total_bytes += entry.total_content_length
            t = times.setdefault(endpoint, {})
            for ms, n in entry.response_times.items():
                t[ms] = t.get(ms, 0) + n
            sums[endpoint] = sums.get(endpoint, 0.0) + entry.total_response_time / 1000.0
            if is_rate_limited_name(entry.name):
                counts[(endpoint, "rate_limited")] = counts.get((endpoint, "rate_limited"), 0) + entry.num_requests
            else:
                counts[(endpoint, "ok")] = counts.get((endpoint, "ok"), 0) + entry.num_requests - entry.num_failures
                for outcome in OUTCOMES[1:]:
                    counts.setdefault((endpoint, outcome), 0)
        for err in list(stats.errors.values()):
            if err.method in NON_HTTP_TYPES or is_rate_limited_name(err.name):
                continue
            key = (endpoint_of(err.name), outcome_of_error(err.error))
            counts[key] = counts.get(key, 0) + err.occurrences
        for (endpoint, outcome), n in sorted(counts.items()):
            requests.add_metric([*base, self.target, endpoint, outcome], n)
        for endpoint, t in sorted(times.items()):
            buckets, _ = _histogram(t.items(), DURATION_BUCKETS)
            duration.add_metric([*base, self.target, endpoint], buckets, sums[endpoint])
        resp_bytes.add_metric([*base, self.target], total_bytes)
        tokens.add_metric([*base, "output"], out_tokens)
        users = float(runner.user_count) if runner is not None else 0.0
        in_flight = GaugeMetricFamily("harness_in_flight_requests", "Requests in flight now (Locust: its users).",
                                      labels=base_labels)
        in_flight.add_metric(base, users)
        locust_users = GaugeMetricFamily("harness_locust_users", "Locust users running now.", labels=base_labels)
        locust_users.add_metric(base, users)
        yield from (requests, duration, ttft, resp_bytes, tokens, in_flight, locust_users)


class Exporter:
    """The registry, the HTTP endpoint and the final text file of one Locust process."""

    def __init__(self, environment: Any, run_id: str = "", target: str = "") -> None:
        self.environment = environment
        self.run_id = run_id or f"locust-{time.strftime('%Y%m%dT%H%M%S')}"
        self.target = target or _target_of(environment)
        self.stats = RequestStats(use_response_times_cache=False)
        self.registry = CollectorRegistry()
        self.registry.register(LocustCollector(environment, self.stats, self.run_id, self.target))
        self._server: Any = None
        environment.events.request.add_listener(self.on_request)
        environment.events.worker_report.add_listener(self.on_worker_report)

    def on_request(self, request_type: str, name: str, response_time: float | None, response_length: int,
                   exception: Any = None, **_: Any) -> None:
        self.stats.log_request(request_type, name, response_time, response_length)
        if exception is not None:
            self.stats.log_error(request_type, name, exception)

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        for entry_data in data.get("stats", ()):
            entry = StatsEntry.unserialize(entry_data, self.stats)
            self.stats.entries[(entry.name, entry.method)].extend(entry)
        for key, error in data.get("errors", {}).items():
            if key in self.stats.errors:
                self.stats.errors[key].occurrences += error["occurrences"]
            else:
                self.stats.errors[key] = StatsError.unserialize(error)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        result = start_http_server(port, addr=host, registry=self.registry)
        self._server = result[0] if isinstance(result, tuple) else None
        log.info("harness metrics on http://%s:%d/metrics (run_id=%s)", host, port, self.run_id)

    def write(self, path: str) -> None:
        write_to_textfile(path, self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None


def _target_of(environment: Any) -> str:
    for cls in getattr(environment, "user_classes", None) or []:
        target = getattr(cls, "target", None)
        if target:
            return str(target)
    return "api"


EXPORTER: Exporter | None = None


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    global EXPORTER
    from locust.runners import WorkerRunner

    if isinstance(environment.runner, WorkerRunner) or option(environment, "worker", False):
        return  # the master exports the aggregate
    port = int(option(environment, "prometheus_port", 0) or 0)
    textfile = option(environment, "prometheus_textfile", "") or ""
    if not port and not textfile:
        return
    EXPORTER = Exporter(environment, option(environment, "run_id", "") or "", option(environment, "target_name", "") or "")
    if port:
        EXPORTER.serve(port, option(environment, "prometheus_host", "127.0.0.1") or "127.0.0.1")


@events.quit.add_listener
def _on_quit(**_: Any) -> None:
    """After the runner quit (on a master: after the workers' final reports), write the text file."""
    global EXPORTER
    if EXPORTER is None:
        return
    textfile = option(EXPORTER.environment, "prometheus_textfile", "") or ""
    if textfile:
        EXPORTER.write(textfile)
    EXPORTER.close()
    EXPORTER = None
