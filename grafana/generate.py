"""Generate the Grafana dashboards (grafana/dashboards/*.json) from this file.

    python grafana/generate.py          # rewrite the JSON
    python grafana/generate.py --check  # exit 1 if the JSON is not what this file makes

The dashboards are plain dictionaries built by a few small helpers: one place for every panel's
query, its unit and what it means (the README's "Watching a run in Grafana" mirrors the
descriptions). tests/grafana checks the JSON is current, and runs every query on a real
Prometheus scraping a real run. Metric names are the contract in the README's "Metrics".

Conventions in the queries: ``$__rate_interval`` for every ``rate()``; gauges and running totals
go through ``max without (instance, job)`` so a run that is both scraped and pushed to the
Pushgateway is not counted twice; the runner's series are selected by ``run_id``, Locust's by
``source="locust"``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"


# -- building blocks -------------------------------------------------------------------------
def datasource_var() -> dict:
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []}


def query_var(name: str, label: str, query: str, *, include_all: bool = True, multi: bool = True) -> dict:
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "definition": query, "query": {"query": query, "refId": f"{name}-var"},
            "refresh": 2, "sort": 1, "includeAll": include_all, "multi": multi,
            "allValue": ".*" if include_all else None, "current": {}, "hide": 0, "options": [], "regex": ""}


def target(expr: str, legend: str = "__auto", ref: str = "A") -> dict:
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref, "range": True}


class Layout:
    """Places panels left to right on a 24-column grid, ``w`` wide and ``h`` high."""

    def __init__(self) -> None:
        self.x = self.y = self.row_h = 0
        self.next_id = 1

    def place(self, w: int, h: int) -> dict:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def timeseries(lay: Layout, title: str, description: str, targets: list[dict], unit: str = "short", *,
               w: int = 12, h: int = 8, stack: bool = False, min0: bool = True,
               overrides: list[dict] | None = None) -> dict:
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10 if stack else 0, "showPoints": "never",
              "spanNulls": False, "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    defaults: dict = {"unit": unit, "custom": custom}
    if min0:
        defaults["min"] = 0
    return {"id": lay.id(), "type": "timeseries", "title": title, "description": description, "datasource": DS,
            "gridPos": lay.place(w, h), "targets": targets,
            "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


def stat(lay: Layout, title: str, description: str, targets: list[dict], unit: str = "short", *,
         w: int = 4, h: int = 4, decimals: int | None = None) -> dict:
    defaults: dict = {"unit": unit}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {"id": lay.id(), "type": "stat", "title": title, "description": description, "datasource": DS,
            "gridPos": lay.place(w, h), "targets": targets, "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto", "justifyMode": "auto"}}


def dashboard(uid: str, title: str, description: str, tags: list[str], variables: list[dict],
              panels: list[dict]) -> dict:
    return {"uid": uid, "title": title, "description": description, "tags": ["harness", *tags],
            "timezone": "browser", "editable": True, "graphTooltip": 1, "schemaVersion": 39, "version": 1,
            "refresh": "5s", "time": {"from": "now-15m", "to": "now"},
            "timepicker": {"refresh_intervals": ["5s", "10s", "30s", "1m", "5m"]},
            "templating": {"list": variables}, "annotations": {"list": []}, "links": [], "panels": panels}


def quantiles(metric: str, sel: str, legend_prefix: str = "") -> list[dict]:
    return [target(f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{sel}}}[{RI}])))",
                   f"{legend_prefix}p{int(q * 100)}", ref)
            for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))]


# -- the batch run -------------------------------------------------------------------------------
def runner_dashboard() -> dict:
    lay = Layout()
    run = 'run_id=~"$run_id"'
    tsel = f'{run}, target=~"$target"'
    req = f"harness_requests_total{{{tsel}}}"
    panels = [
        stat(lay, "Items done", "Items finished successfully in the selected run(s) (harness_items_total{status=\"done\"}).",
             [target(f'sum(max without (instance, job) (harness_items_total{{{run}, status="done"}})) or vector(0)', "done")]),
        stat(lay, "Items failed", "Items that failed permanently (their reasons are in the checkpoint: `harness failed`).",
             [target(f'sum(max without (instance, job) (harness_items_total{{{run}, status="failed"}})) or vector(0)',
                     "failed")]),
        stat(lay, "Items planned", "Items in the run's input (harness_items_planned).",
             [target(f"sum(max without (instance, job) (harness_items_planned{{{run}}}))", "planned")]),
        stat(lay, "ETA", "Estimated time to finish at the current item rate (harness_eta_seconds).",
             [target(f"max(max without (instance, job) (harness_eta_seconds{{{run}}}))", "eta")], "s"),
        stat(lay, "Spend", "Dollars spent so far: tokens from responses times the profile's prices.",
             [target(f"sum(max without (instance, job) (harness_cost_dollars_total{{{run}}}))", "spend")],
             "currencyUSD", decimals=4),
        stat(lay, "Requests/s", "All HTTP requests per second, every outcome.",
             [target(f"sum(rate({req}[{RI}]))", "req/s")], "reqps"),
        timeseries(lay, "Requests/s by outcome",
                   "HTTP requests per second by outcome: ok, rate_limited (429), server_error (5xx, 529), "
                   "client_error (other 4xx), timeout, connection_error.",
                   [target(f"sum by (outcome) (rate({req}[{RI}]))", "{{outcome}}")], "reqps", stack=True),
        timeseries(lay, "429 and error ratios",
                   "Share of requests refused with 429 (alert above 5% for 1 minute), and share that failed "
                   "with any other non-ok outcome. Each try counts, retries included.",
                   [target(f'(sum(rate(harness_requests_total{{{tsel}, outcome="rate_limited"}}[{RI}])) or vector(0)) '
                           f'/ sum(rate({req}[{RI}]))', "429 ratio", "A"),
                    target(f'(sum(rate(harness_requests_total{{{tsel}, outcome!~"ok|rate_limited"}}[{RI}])) '
                           f'or vector(0)) / sum(rate({req}[{RI}]))', "error ratio", "B")], "percentunit"),
        timeseries(lay, "In flight vs the adaptive limit vs workers",
                   "Requests in flight now, the adaptive (AIMD) concurrency limit (drops on 429/529, recovers "
                   "slowly), and the --workers cap. In flight pinned at the limit below workers means the API "
                   "pushed back.",
                   [target(f"sum(max without (instance, job) (harness_in_flight_requests{{{run}}}))", "in flight", "A"),
                    target(f"max(max without (instance, job) (harness_concurrency_limit{{{run}}}))", "adaptive limit", "B"),
                    target(f"max(max without (instance, job) (harness_workers{{{run}}}))", "workers", "C")]),
        timeseries(lay, "Latency p50 / p95 / p99",
                   "Request latency as the runner saw it (harness_request_duration_seconds), wall clock: "
                   "with --time-scale, multiply by 1/scale for real time.",
                   quantiles("harness_request_duration_seconds", tsel), "s"),
        timeseries(lay, "Bandwidth both ways",
                   "Request body bytes sent (out) and response body bytes received (in) per second.",
                   [target(f'sum(rate(harness_request_bytes_total{{{tsel}}}[{RI}]))', "out (requests)", "A"),
                    target(f'sum(rate(harness_response_bytes_total{{{tsel}}}[{RI}]))', "in (responses)", "B")],
                   "Bps"),
        timeseries(lay, "Items/s done and failed", "Items finished per second, by status.",
                   [target(f"sum by (status) (rate(harness_items_total{{{run}}}[{RI}]))", "{{status}}")], "short",
                   stack=True),
        timeseries(lay, "Items/s per worker",
                   "Items finished per second by each Celery worker process of a distributed run "
                   "(harness run --engine celery; the worker label); one line for a local run.",
                   [target(f'sum by (worker) (rate(harness_items_total{{{run}, status="done"}}[{RI}]))',
                           "{{worker}}")], "short"),
        timeseries(lay, "ETA vs plan",
                   "Estimated seconds to finish, and what the capacity model planned for the items left "
                   "(planned duration x share of items left). ETA well above the plan: alert HarnessEtaBeyondPlan.",
                   [target(f"max(max without (instance, job) (harness_eta_seconds{{{run}}}))", "ETA", "A"),
                    target(f"max(harness:planned_remaining_seconds{{{run}}})", "plan for the items left", "B")], "s"),
        timeseries(lay, "Tokens/s", "LLM tokens per second from responses' usage, by kind (input, output).",
                   [target(f"sum by (kind) (rate(harness_tokens_total{{{run}}}[{RI}]))", "{{kind}}")], "short"),
        timeseries(lay, "Spend over time", "Cumulative dollars spent (stops the run at --max-cost).",
                   [target(f"sum(max without (instance, job) (harness_cost_dollars_total{{{run}}}))", "spend")],
                   "currencyUSD"),
        timeseries(lay, "Retries/s by reason", "Retries per second by the outcome that caused them.",
                   [target(f"sum by (reason) (rate(harness_retries_total{{{run}}}[{RI}]))", "{{reason}}")], "short"),
        timeseries(lay, "Waiting for the client-side limiter",
                   "Seconds per second spent waiting for the runner's own rate limiter (RPM/TPM/RPS, "
                   "Retry-After): around 1 x workers means the limits, not latency, pace the run.",
                   [target(f"sum by (target) (rate(harness_limiter_wait_seconds_total{{{tsel}}}[{RI}]))",
                           "{{target}}")], "short"),
    ]
    variables = [datasource_var(),
                 query_var("run_id", "Run", "label_values(harness_items_planned, run_id)"),
                 query_var("target", "Target", 'label_values(harness_requests_total{run_id=~"$run_id"}, target)')]
    return dashboard("harness-run", "Harness: batch run",
                     "One batch run (harness run --metrics-port): throughput, 429s, concurrency, latency, "
                     "bandwidth, progress, tokens and spend.", ["runner"], variables, panels)


# -- the mock servers ------------------------------------------------------------------------------
def mock_dashboard() -> dict:
    lay = Layout()
    sel = 'provider=~"$provider"'
    panels = [
        timeseries(lay, "Requests/s by provider", "Requests answered per second, per provider.",
                   [target(f"sum by (provider) (rate(mock_requests_total{{{sel}}}[{RI}]))", "{{provider}}")],
                   "reqps"),
        timeseries(lay, "Requests/s by status", "Answers per second by provider and HTTP status (reset: a "
                   "deliberate connection reset).",
                   [target(f"sum by (provider, status) (rate(mock_requests_total{{{sel}}}[{RI}]))",
                           "{{provider}} {{status}}")], "reqps"),
        timeseries(lay, "429s/s by limit dimension",
                   "Rate-limit refusals per second, by the limit that refused: requests, tokens, input_tokens, "
                   "output_tokens, or an SP-API operation.",
                   [target(f"sum by (provider, dimension) (rate(mock_rate_limited_total{{{sel}}}[{RI}]))",
                           "{{provider}} {{dimension}}")], "reqps"),
        timeseries(lay, "Injected latency p50 / p95 / p99",
                   "Latency the mock added (wall clock; the profile's latency x --time-scale).",
                   quantiles("mock_injected_latency_seconds", sel), "s"),
        timeseries(lay, "In flight", "Requests queued, working or streaming in the mock now, per provider.",
                   [target(f"sum by (provider) (mock_in_flight_requests{{{sel}}})", "{{provider}}")]),
        timeseries(lay, "Faults injected/s", "Injected faults per second by kind (500, 503, 529, reset, hang, "
                   "malformed, ...), and overloaded refusals.",
                   [target(f"sum by (provider, kind) (rate(mock_faults_total{{{sel}}}[{RI}]))",
                           "{{provider}} {{kind}}")], "short"),
        timeseries(lay, "Bandwidth both ways", "Request bytes received (in) and response bytes sent (out) per second.",
                   [target(f"sum by (provider) (rate(mock_request_bytes_total{{{sel}}}[{RI}]))", "{{provider}} in", "A"),
                    target(f"sum by (provider) (rate(mock_response_bytes_total{{{sel}}}[{RI}]))", "{{provider}} out",
                           "B")], "Bps"),
        timeseries(lay, "Tokens/s served", "LLM tokens served per second, by provider and kind.",
                   [target(f"sum by (provider, kind) (rate(mock_tokens_total{{{sel}}}[{RI}]))",
                           "{{provider}} {{kind}}")], "short"),
    ]
    variables = [datasource_var(), query_var("provider", "Provider", "label_values(mock_requests_total, provider)")]
    return dashboard("harness-mocks", "Harness: mock servers",
                     "The provider mocks (harness mock): load, 429s by limit, injected latency, faults.",
                     ["mock"], variables, panels)


# -- Locust ----------------------------------------------------------------------------------------
def locust_dashboard() -> dict:
    lay = Layout()
    sel = 'source="locust", run_id=~"$run_id", endpoint=~"$endpoint"'
    req = f"harness_requests_total{{{sel}}}"
    panels = [
        stat(lay, "Users", "Locust users running now (harness_in_flight_requests{source=\"locust\"}).",
             [target(f'sum(harness_in_flight_requests{{source="locust", run_id=~"$run_id"}})', "users")], w=6),
        stat(lay, "Requests/s", "All requests per second.", [target(f"sum(rate({req}[{RI}]))", "req/s")], "reqps",
             w=6),
        stat(lay, "429 ratio", "Share of requests answered 429.",
             [target(f'(sum(rate(harness_requests_total{{{sel}, outcome="rate_limited"}}[{RI}])) or vector(0)) '
                     f'/ sum(rate({req}[{RI}]))', "429")], "percentunit", w=6),
        stat(lay, "Failure ratio", "Share of requests with any non-ok outcome.",
             [target(f'(sum(rate(harness_requests_total{{{sel}, outcome!="ok"}}[{RI}])) or vector(0)) '
                     f'/ sum(rate({req}[{RI}]))',
                     "failed")], "percentunit", w=6),
        timeseries(lay, "Requests/s by outcome", "Requests per second by outcome, the runner's outcome names.",
                   [target(f"sum by (outcome) (rate({req}[{RI}]))", "{{outcome}}")], "reqps", stack=True),
        timeseries(lay, "Requests/s by endpoint", "Requests per second per Locust request name.",
                   [target(f"sum by (endpoint) (rate({req}[{RI}]))", "{{endpoint}}")], "reqps"),
        timeseries(lay, "Latency p50 / p95 / p99", "Response time as Locust measured it.",
                   quantiles("harness_request_duration_seconds", sel), "s"),
        timeseries(lay, "Users vs throughput",
                   "The ramp: users (left) against ok requests/s (right). Throughput that stops growing while "
                   "users grow is the knee.",
                   [target(f'sum(harness_in_flight_requests{{source="locust", run_id=~"$run_id"}})', "users", "A"),
                    target(f'sum(rate(harness_requests_total{{{sel}, outcome="ok"}}[{RI}]))', "ok req/s", "B")],
                   overrides=[{"matcher": {"id": "byName", "options": "ok req/s"},
                               "properties": [{"id": "custom.axisPlacement", "value": "right"},
                                              {"id": "unit", "value": "reqps"}]}]),
    ]
    variables = [datasource_var(),
                 query_var("run_id", "Run", 'label_values(harness_requests_total{source="locust"}, run_id)'),
                 query_var("endpoint", "Endpoint",
                           'label_values(harness_requests_total{source="locust", run_id=~"$run_id"}, endpoint)')]
    return dashboard("harness-locust", "Harness: Locust run",
                     "A Locust ramp test, exported with the runner's metric names and source=\"locust\".",
                     ["locust"], variables, panels)


DASHBOARDS = {"harness-run.json": runner_dashboard, "harness-mocks.json": mock_dashboard,
              "harness-locust.json": locust_dashboard}


def render() -> dict[str, str]:
    return {name: json.dumps(fn(), indent=2, sort_keys=False) + "\n" for name, fn in DASHBOARDS.items()}


def main(argv: list[str]) -> int:
    rendered = render()
    if "--check" in argv:
        stale = [n for n, text in rendered.items() if not (OUT / n).exists() or (OUT / n).read_text() != text]
        if stale:
            print(f"stale dashboards (run python grafana/generate.py): {', '.join(stale)}", file=sys.stderr)
            return 1
        return 0
    OUT.mkdir(exist_ok=True)
    for name, text in rendered.items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
