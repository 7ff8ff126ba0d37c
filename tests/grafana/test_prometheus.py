"""Prometheus side: promtool on the config, the rules (and their unit tests) and both /metrics
outputs; then every panel query of every dashboard, variables substituted as Grafana does, on a
real Prometheus that scraped a real run against the real mock and a real headless Locust run (the
``stack`` fixture in conftest.py); and the panels' figures against the exact ones: the run's
summary JSON and Locust's own stats CSV."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from .conftest import DASHBOARDS, ITEMS, LOCUST_USERS, PROM_DIR, RATE_INTERVAL, Stack, free_port, http_get



@pytest.fixture(autouse=True)
def _promtool_installed() -> None:
    if shutil.which("promtool") is None:
        pytest.fail("promtool is not installed (make sysdeps installs prometheus)")


def promtool(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], input=stdin, capture_output=True, text=True, timeout=60, cwd=cwd)


# -- promtool ----------------------------------------------------------------------------------
def test_promtool_check_config():
    r = promtool("check", "config", str(PROM_DIR / "prometheus.yml"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout + r.stderr


def test_promtool_check_rules():
    files = sorted((PROM_DIR / "rules").glob("*.yml"))
    assert files
    r = promtool("check", "rules", *map(str, files))
    assert r.returncode == 0, r.stdout + r.stderr


def test_promtool_rule_unit_tests():
    tests = sorted((PROM_DIR / "tests").glob("*.yml"))
    assert tests
    r = promtool("test", "rules", *[t.name for t in tests], cwd=PROM_DIR / "tests")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_rules_cover_the_issue_alerts():
    doc = yaml.safe_load((PROM_DIR / "rules" / "harness.yml").read_text())
    alerts = {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}
    assert {"HarnessRateLimitedRatioHigh", "HarnessErrorRatioHigh", "HarnessEtaBeyondPlan",
            "ScrapeTargetDown"} <= set(alerts)
    rl = alerts["HarnessRateLimitedRatioHigh"]
    assert rl["for"] == "1m" and "0.05" in rl["expr"]


def test_promtool_check_metrics_runner(stack: Stack):
    text = stack.runner_metrics_text
    assert "harness_requests_total{" in text
    r = promtool("check", "metrics", stdin=text)
    assert r.returncode == 0, r.stdout + r.stderr


def test_promtool_check_metrics_mock(stack: Stack):
    text = stack.mock_metrics_text
    assert "mock_requests_total{" in text and "mock_rate_limited_total{" in text
    r = promtool("check", "metrics", stdin=text)
    assert r.returncode == 0, r.stdout + r.stderr


# -- the run as Prometheus saw it -----------------------------------------------------------
def test_every_target_was_scraped(stack: Stack):
    ups = stack.prometheus.query_range("up", stack.started, stack.ended)
    seen = {s["metric"]["job"]: max(float(v) for _, v in s["values"]) for s in ups}
    for job in ("prometheus", "mock", "harness", "locust"):
        assert seen.get(job) == 1.0, f"{job} never up: {seen}"
    # the runner kept /metrics up after its run (--metrics-linger): its final count was scraped
    # at least twice (a range selector returns the raw samples: one per scrape)
    raw = stack.prometheus.query(
        f'harness_items_total{{job="harness", instance!="", run_id="{stack.run_id}", status="done"}}[60s]',
        at=stack.ended + 1)
    finals = [v for s in raw for _, v in s["values"] if float(v) == ITEMS]
    assert len(finals) >= 2, finals


def test_alert_rules_evaluate_on_the_run(stack: Stack):
    """The recording rules the alerts use have values for the run (its 429 ratio is well above
    5%, though not for the minute the alert waits)."""
    ratio = stack.prometheus.query_range(f'harness:rate_limited_ratio:rate1m{{run_id="{stack.run_id}"}}',
                                         stack.started, stack.ended)
    assert ratio and max(float(v) for _, v in ratio[0]["values"]) > 0.05
    rules = stack.prometheus.api("rules")
    names = {r["name"] for g in rules["groups"] for r in g["rules"]}
    assert "HarnessEtaBeyondPlan" in names and "harness:planned_remaining_seconds" in names
    assert all(r["health"] == "ok" for g in rules["groups"] for r in g["rules"]), rules


def _variable_values(stack: Stack, dash: dict, chosen: dict[str, str]) -> dict[str, str]:
    """Resolve each query variable like Grafana does (label_values(METRIC{...}, LABEL) through
    the series API, in order, earlier choices substituted); pick the run under test."""
    values: dict[str, str] = {"datasource": "prometheus"}
    for var in dash["templating"]["list"]:
        if var["type"] != "query":
            continue
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", var["definition"])
        assert m, var["definition"]
        selector = _substitute(m.group(1), values)
        found = sorted(stack.prometheus.api(f"label/{m.group(2)}/values", **{"match[]": selector}))
        assert found, f"{dash['uid']}: variable {var['name']} ({var['definition']}) has no values"
        want = chosen.get(var["name"])
        if want is not None:
            assert want in found, f"{var['name']}: {want} not in {found}"
        values[var["name"]] = _regex_literal(want if want is not None else found[0])
    return values


def _regex_literal(value: str) -> str:
    """A label value as a PromQL regex matching it alone (Grafana's escaping: \\ in the string)."""
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\\\1", value)


def _substitute(expr: str, values: dict[str, str]) -> str:
    expr = expr.replace("$__rate_interval", RATE_INTERVAL)
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def _panels(dash: dict):
    for panel in dash["panels"]:
        yield from (panel.get("panels") or [panel])


DASHBOARD_FILES = sorted(p.name for p in DASHBOARDS.glob("*.json"))


@pytest.mark.parametrize("name", DASHBOARD_FILES)
def test_every_panel_query_returns_data(stack: Stack, name: str):
    dash = json.loads((DASHBOARDS / name).read_text())
    chosen = {"harness-locust": {"run_id": stack.locust_run_id}}.get(dash["uid"], {"run_id": stack.run_id})
    values = _variable_values(stack, dash, chosen)
    empty = []
    n = 0
    for panel in _panels(dash):
        for t in panel["targets"]:
            expr = _substitute(t["expr"], values)
            result = stack.prometheus.query_range(expr, stack.started, stack.ended + 2)
            n += 1
            numbers = [float(v) for s in result for _, v in s["values"] if v not in ("NaN", "+Inf", "-Inf")]
            if not numbers:
                empty.append(f"{panel['title']!r} [{t['refId']}]: {expr}")
    assert n >= 8
    assert not empty, f"{name}: queries without data:\n" + "\n".join(empty)


# -- the Pushgateway ---------------------------------------------------------------------------
def test_run_pushed_its_summary_to_the_pushgateway(stack: Stack):
    if stack.pushgateway_url is None:
        pytest.fail("prometheus-pushgateway is not installed (make sysdeps installs it)")
    text = http_get(stack.pushgateway_url + "/metrics")
    rid = stack.run_id
    assert re.search(rf'harness_run_duration_seconds\{{[^}}]*job="harness"[^}}]*\}} [0-9.e+]+', text), text[:2000]
    done = re.search(rf'harness_items_total\{{[^}}]*run_id="{rid}"[^}}]*status="done"[^}}]*\}} ([0-9.e+]+)', text)
    assert done and float(done.group(1)) > 0
    # and Prometheus reads it with the pushed labels (honor_labels)
    pushed = stack.prometheus.query(f'harness_run_duration_seconds{{job="harness", run_id="{rid}"}}')
    assert pushed and float(pushed[0]["value"][1]) > 1.0


class _Recorder(BaseHTTPRequestHandler):
    pushes: list[tuple[str, str, bytes]] = []

    def do_PUT(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Recorder.pushes.append(("PUT", self.path, body))
        self.send_response(200)
        self.end_headers()

    do_POST = do_PUT

    def log_message(self, *args):
        pass


def test_push_summary_sends_one_group_per_run():
    """push_summary on its own, against a local server that records the push."""
    from harness.runner.metrics import RunnerMetrics
    from harness.runner.pushgateway import push_summary

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        m = RunnerMetrics("abc123")
        m.child(m.items, "done").inc(7)
        m.child(m.requests, "api", "chat", "ok").inc(9)
        push_summary(f"http://127.0.0.1:{server.server_port}", m, {"duration_wall_seconds": 1.5})
    finally:
        server.shutdown()
    method, path, body = _Recorder.pushes[-1]
    assert method == "PUT" and path == "/metrics/job/harness/run_id/abc123"
    text = body.decode()
    assert 'harness_items_total{run_id="abc123",status="done"} 7.0' in text
    assert 'harness_run_duration_seconds{run_id="abc123"} 1.5' in text
    assert 'harness_requests_total{endpoint="chat",outcome="ok",run_id="abc123",target="api"} 9.0' in text


def test_push_failure_is_a_warning_not_a_failed_run(tmp_path):
    """--pushgateway to a port nobody listens on: the run still succeeds, with a warning."""
    from tests.harness.runutil import run_cli, write_scenario

    from harness.runner.mockproc import start_mock

    with start_mock(["openai"], time_scale=0.01) as mock:
        doc = {"targets": {"openai": {"profile": "openai", "mock_url": mock.url("openai")}},
               "steps": [{"name": "chat", "target": "openai", "path": "/v1/chat/completions",
                          "json": {"model": "gpt-4o-mini", "max_tokens": 20,
                                   "messages": [{"role": "user", "content": "hi"}]}}],
               "workers": 2}
        wd = write_scenario(tmp_path, doc, 3)
        r = run_cli(["run", str(wd.scenario), "--time-scale", "0.01", "--pushgateway",
                     f"http://127.0.0.1:{free_port()}"], timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "could not push to the Pushgateway" in r.stdout + r.stderr


def test_no_metrics_conflicts_with_metrics_port(tmp_path):
    from tests.harness.runutil import run_cli, write_scenario

    doc = {"targets": {"openai": {"profile": "openai"}},
           "steps": [{"name": "chat", "target": "openai", "path": "/v1/chat/completions", "json": {}}]}
    wd = write_scenario(tmp_path, doc, 1)
    r = run_cli(["run", str(wd.scenario), "--no-metrics", "--metrics-port", str(free_port())], timeout=30)
    assert r.returncode == 2 and "--no-metrics" in r.stderr


# -- the panels' figures against the exact ones ------------------------------------------------
# A rate panel summed over its 1 s steps is its counter's increase as Prometheus saw it: each
# one-scrape increment lies in the [5s] windows ending after it, and rate() spreads it over them
# so that they add up to it once. Two things differ from the run's own count, both at a series'
# ends. (1) What came before the series' first scrape (a labelled counter appears with its first
# increment, and the runner's first second is a full bucket's burst) rate() sees only as far as
# it extrapolates back towards zero: between none and all of that first scraped value, which is
# read from Prometheus. (2) rate() extrapolates each window's slope to the window's edges, at
# most half a scrape interval past a series' first and last samples: half of one scrape
# interval's increment at each end, the largest one-scrape increment in all. So the panel's sum
# lies within [figure - first value - largest step, figure + largest step]. The stat panels, on
# final counters and gauges scraped during --metrics-linger, are exact.
STEP = 1.0


def _dashboard_values(stack: Stack, name: str) -> tuple[dict, dict[str, str]]:
    dash = json.loads((DASHBOARDS / name).read_text())
    chosen = {"harness-locust": {"run_id": stack.locust_run_id}}.get(dash["uid"], {"run_id": stack.run_id})
    return dash, _variable_values(stack, dash, chosen)


def _exprs(dash: dict, values: dict[str, str], title: str) -> list[str]:
    (panel,) = [p for p in _panels(dash) if p["title"] == title]
    return [_substitute(t["expr"], values) for t in panel["targets"]]


def _timed(stack: Stack, expr: str, t0: float, t1: float) -> dict[str, dict[float, float]]:
    """The panel's series over [t0, t1] at 1 s steps ({time: value}), keyed by their label values."""
    out: dict[str, dict[float, float]] = {}
    for s in stack.prometheus.query_range(expr, t0, t1, step=f"{STEP:g}s"):
        key = ",".join(s["metric"].values())
        out[key] = {float(t): float(v) for t, v in s["values"] if v not in ("NaN", "+Inf", "-Inf")}
    return out


def _series(stack: Stack, expr: str, t0: float, t1: float) -> dict[str, list[float]]:
    return {k: list(v.values()) for k, v in _timed(stack, expr, t0, t1).items()}


def _integral(stack: Stack, expr: str, t0: float, t1: float) -> dict[str, float]:
    return {k: sum(v) * STEP for k, v in _series(stack, expr, t0, t1).items()}


def _edge_slack(stack: Stack, selector: str, by: str | None, t1: float) -> dict[str, tuple[float, float]]:
    """Per group: (the series' first scraped values, their largest one-scrape increments)."""
    span = int(t1 - stack.locust.started + 60)
    raw = stack.prometheus.query(f'{selector[:-1]}, instance!=""}}[{span}s]', at=t1)  # scraped, not pushed
    out: dict[str, tuple[float, float]] = {}
    for s in raw:
        values = [float(v) for _, v in s["values"]]
        steps = [b - a for a, b in zip(values, values[1:])] or [0.0]
        key = s["metric"].get(by, "") if by else ""
        first, step = out.get(key, (0.0, 0.0))
        out[key] = (first + values[0], step + max(steps))
    return out


def _window(stack: Stack) -> tuple[float, float]:
    """From before anything started to after both /metrics endpoints went away."""
    return min(stack.started, stack.locust.started) - 10, max(stack.ended, stack.locust.ended or 0) + 15


def test_run_dashboard_shows_the_summary_figures(stack: Stack):
    dash, values = _dashboard_values(stack, "harness-run.json")
    s = stack.summary
    rid = stack.run_id
    at = stack.ended + 1  # within --metrics-linger: the final counts scraped, the run over
    # stat panels over final counters and gauges: exact
    def stat(title: str) -> float:
        (expr,) = _exprs(dash, values, title)
        (result,) = stack.prometheus.query(expr, at=at)
        return float(result["value"][1])

    assert stat("Items done") == s["items_done"] == ITEMS
    assert stat("Items failed") == s["items_failed"]
    assert stat("Items planned") == s["items_total"]
    # the summary rounds dollars to 6 places (harness/runner/summary.py): half a millionth apart at most
    assert stat("Spend") == pytest.approx(s["cost_dollars"], rel=0, abs=5e-7) and s["cost_dollars"] > 0
    spend = _series(stack, _exprs(dash, values, "Spend over time")[0], stack.started, at)[""]
    assert spend[-1] == stat("Spend") and spend == sorted(spend)

    checks = [
        ("Requests/s by outcome", f'harness_requests_total{{run_id="{rid}"}}', "outcome",
         {k: float(v) for k, v in s["requests_by_outcome"].items() if v}),
        ("Items/s done and failed", f'harness_items_total{{run_id="{rid}"}}', "status",
         {"done": float(s["items_done"]), **({"failed": float(s["items_failed"])} if s["items_failed"] else {})}),
        ("Tokens/s", f'harness_tokens_total{{run_id="{rid}"}}', "kind",
         {k: float(v) for k, v in s["tokens"].items() if v}),
        ("Requests/s", f'harness_requests_total{{run_id="{rid}"}}', None, {"": float(s["requests"])}),
        ("Items/s per worker", f'harness_items_total{{run_id="{rid}", status="done"}}', None,
         {"": float(s["items_done"])}),
        ("Bandwidth both ways", f'harness_request_bytes_total{{run_id="{rid}"}}', None, {"": float(s["bytes"]["out"])}),
        ("Bandwidth both ways#B", f'harness_response_bytes_total{{run_id="{rid}"}}', None,
         {"": float(s["bytes"]["in"])}),
    ]
    _check_integrals(stack, dash, values, checks)


def _check_integrals(stack: Stack, dash: dict, values: dict[str, str],
                     checks: list[tuple[str, str, str | None, dict[str, float]]]) -> None:
    """Each (panel, its counter, the label it groups by, the exact figures): panel summed + the
    series' first scraped value and the largest one-scrape increment (see above)."""
    t0, t1 = _window(stack)
    at = t1
    report = []
    for title, selector, by, want in checks:
        panel, _, ref = title.partition("#")  # "title#B": the panel's query B
        exprs = _exprs(dash, values, panel)
        got = _integral(stack, exprs[ord(ref or "A") - ord("A")], t0, t1)
        edges = _edge_slack(stack, selector, by, at)
        if by is None:
            got = {"": sum(got.values())}
            edges = {"": (sum(f for f, _ in edges.values()), sum(m for _, m in edges.values()))}
        assert want and all(v > 0 for v in want.values()), (title, want)
        for key in sorted(set(want) | set(got)):  # a series the summary has no count for must add to 0
            figure = want.get(key, 0.0)
            first, step = edges.get(key, (0.0, 0.0))
            panel_sum = got.get(key, 0.0)
            report.append(f"{title} [{key}]: panel {panel_sum:.2f}, exact {figure:g}, first scrape {first:g}, "
                          f"largest step {step:g}")
            assert figure - first - step <= panel_sum <= figure + step, "\n".join(report)
    print("\n" + "\n".join(report))



def test_locust_dashboard_shows_locusts_own_stats(stack: Stack):
    """The real exporter of a real headless Locust run, through Prometheus and the Locust
    dashboard's own queries, against the stats CSV Locust wrote at the end."""
    dash, values = _dashboard_values(stack, "harness-locust.json")
    rows = [r for r in stack.locust.stats() if r["Name"] != "Aggregated"]
    (total,) = [int(r["Request Count"]) for r in stack.locust.stats() if r["Name"] == "Aggregated"]
    limited = sum(int(r["Request Count"]) for r in rows if r["Name"].endswith("[429]"))
    ok = sum(int(r["Request Count"]) - int(r["Failure Count"]) for r in rows if not r["Name"].endswith("[429]"))
    by_outcome: dict[str, float] = {"ok": float(ok), "rate_limited": float(limited)}
    for f in stack.locust.failures():
        kind = f["Error"].split(":", 1)[0].replace("CatchResponseError('", "")
        if kind != "rate_limited":
            by_outcome[kind] = by_outcome.get(kind, 0.0) + int(f["Occurrences"])
    assert sum(by_outcome.values()) == total and limited > 0 and ok > 0, (by_outcome, total)
    assert by_outcome.get("server_error", 0) > 0, by_outcome
    endpoints = {r["Name"].removesuffix(" [429]") for r in rows}
    assert endpoints == {"chat.completions"}, endpoints

    rid = stack.locust_run_id
    counter = f'harness_requests_total{{source="locust", run_id="{rid}"}}'
    _check_integrals(stack, dash, values, [
        ("Requests/s", counter, None, {"": float(total)}),
        ("Requests/s by outcome", counter, "outcome", {k: v for k, v in by_outcome.items() if v}),
        ("Requests/s by endpoint", counter, "endpoint", {"chat.completions": float(total)}),
    ])
    t0, t1 = _window(stack)
    # users: the gauge is Locust's user count, LOCUST_USERS all spawned at once, 0 once -t stopped them
    users = _series(stack, _exprs(dash, values, "Users")[0], t0, t1)[""]
    assert max(users) == LOCUST_USERS and users[-1] == 0, users
    # the ratio panels, weighted by the request rate, are the 429 and failure shares of the run
    total_rate = _timed(stack, _exprs(dash, values, "Requests/s")[0], t0, t1)[""]
    for title, share, which in (("429 ratio", limited, 'outcome="rate_limited"'),
                                ("Failure ratio", total - ok, 'outcome!="ok"')):
        ratio = _timed(stack, _exprs(dash, values, title)[0], t0, t1)[""]
        weighted = sum(r * total_rate[t] for t, r in ratio.items() if t in total_rate) * STEP
        first, step = _edge_slack(stack, f"{counter[:-1]}, {which}}}", None, t1)[""]
        print(f"{title}: rate-weighted {weighted:.2f} requests, CSV {share}, first scrape {first:g}, "
              f"largest step {step:g}")
        assert share - first - step <= weighted <= share + step, (title, weighted, first, share, step)
