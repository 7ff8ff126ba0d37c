"""The dashboards as JSON: current with their generator, well formed for Grafana, built on the
README's metric contract only, with the variables the issue asks for; and the provisioning
that loads them. Their queries run on a real Prometheus in test_prometheus.py, where the panels'
figures are checked against the run's summary and Locust's own stats CSV."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from .conftest import DASHBOARDS, GRAFANA, PROM_DIR, REPO

FILES = sorted(DASHBOARDS.glob("*.json"))
METRIC = re.compile(r"\b((?:harness|mock)_[a-z_]+|harness:[a-z0-9_:]+)")


def load(path):
    return json.loads(path.read_text())


def panels(dash):
    for p in dash["panels"]:
        yield from (p.get("panels") or [p])


def readme_metrics() -> set[str]:
    """Every metric name the README's "## Metrics" section lists (the contract)."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Metrics", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`((?:harness|mock)_[a-z_]+)`", section))


def recorded_names() -> set[str]:
    doc = yaml.safe_load((PROM_DIR / "rules" / "harness.yml").read_text())
    return {r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r}


def test_json_is_what_the_generator_makes():
    r = subprocess.run([sys.executable, str(GRAFANA / "generate.py"), "--check"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr


def test_the_three_dashboards_exist():
    uids = {load(p)["uid"] for p in FILES}
    assert uids == {"harness-run", "harness-mocks", "harness-locust"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dashboard_is_well_formed(path):
    dash = load(path)
    assert dash["title"] and dash["uid"] and dash["schemaVersion"] >= 36
    ids = [p["id"] for p in panels(dash)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    titles = [p["title"] for p in panels(dash)]
    assert len(titles) == len(set(titles)), "panel titles must be unique"
    cells = set()
    for p in panels(dash):
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0
        here = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & here, f"panel {p['title']!r} overlaps another"
        cells |= here
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert p.get("description"), f"panel {p['title']!r} needs a description (what it means)"
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs))
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}"
            assert t["expr"].strip()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_variables(path):
    dash = load(path)
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    if dash["uid"] == "harness-run":
        assert {"run_id", "target"} <= set(variables)
    if dash["uid"] == "harness-mocks":
        assert "provider" in variables
    if dash["uid"] == "harness-locust":
        assert {"run_id", "endpoint"} <= set(variables)
    used = " ".join(t["expr"] for p in panels(dash) for t in p["targets"])
    for name, v in variables.items():
        if v["type"] == "query":
            assert v["datasource"]["uid"] == "${datasource}"
            assert f"${name}" in used, f"variable {name} is never used"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_queries_use_only_contract_metrics_and_rate_interval(path):
    dash = load(path)
    known = readme_metrics() | recorded_names()
    exprs = [t["expr"] for p in panels(dash) for t in p["targets"]]
    exprs += [v["definition"] for v in dash["templating"]["list"] if v["type"] == "query"]
    for expr in exprs:
        for name in METRIC.findall(expr):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert base in known, f"{name} in {expr!r} is not in README's metric list or the recording rules"
        for window in re.findall(r"\[([^\]]+)\]", expr):
            assert window == "$__rate_interval", f"use $__rate_interval, not [{window}], in {expr!r}"


def test_runner_dashboard_has_the_issue_panels():
    dash = load(DASHBOARDS / "harness-run.json")
    exprs = " ".join(t["expr"] for p in panels(dash) for t in p["targets"])
    for name in ("harness_requests_total", "harness_in_flight_requests", "harness_concurrency_limit",
                 "harness_workers", "harness_request_duration_seconds_bucket", "harness_request_bytes_total",
                 "harness_response_bytes_total", "harness_items_total", "harness_eta_seconds",
                 "harness_tokens_total", "harness_cost_dollars_total"):
        assert name in exprs, name
    assert 'outcome="rate_limited"' in exprs
    assert {"histogram_quantile(0.5", "histogram_quantile(0.95", "histogram_quantile(0.99"} <= {
        m for m in re.findall(r"histogram_quantile\(0\.\d+", exprs)}


def test_mock_dashboard_has_the_issue_panels():
    exprs = " ".join(t["expr"] for p in panels(load(DASHBOARDS / "harness-mocks.json")) for t in p["targets"])
    for name in ("mock_requests_total", "mock_rate_limited_total", "mock_injected_latency_seconds_bucket",
                 "mock_in_flight_requests"):
        assert name in exprs, name
    assert "by (provider, dimension)" in exprs


def test_locust_dashboard_reads_the_shared_names():
    exprs = [t["expr"] for p in panels(load(DASHBOARDS / "harness-locust.json")) for t in p["targets"]]
    assert all('source="locust"' in e for e in exprs)
    joined = " ".join(exprs)
    for name in ("harness_requests_total", "harness_request_duration_seconds_bucket", "harness_in_flight_requests"):
        assert name in joined


# -- provisioning ----------------------------------------------------------------------------
def test_datasource_provisioning():
    doc = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    (ds,) = doc["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090" and ds["isDefault"]


def test_dashboard_provisioning_points_at_the_mounted_folder():
    doc = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "harness.yaml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts
