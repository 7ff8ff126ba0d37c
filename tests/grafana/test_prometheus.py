"""Prometheus side: promtool on the config, the rules (and their unit tests) and both /metrics
outputs; then every panel query of every dashboard, variables substituted, on a real Prometheus
that scraped a real run against the real mock (the ``stack`` fixture in conftest.py)."""

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

from .conftest import DASHBOARDS, ITEMS, PROM_DIR, RATE_INTERVAL, Stack, free_port, http_get



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
