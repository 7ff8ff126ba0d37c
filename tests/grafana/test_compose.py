"""docker-compose.yml, checked without a Docker engine: every service has a pinned image or a
build that exists, every mounted file exists, Grafana gets its datasource and dashboards, every
long-running service has a health check, and every port is bound to 127.0.0.1."""

from __future__ import annotations

import re

import yaml

from .conftest import GRAFANA, PINNED, REPO, compose_config_problems

COMPOSE = REPO / "docker-compose.yml"
SERVICES = {"mock", "runner", "prometheus", "grafana", "pushgateway", "redis"}


def test_the_services(compose):
    assert set(compose["services"]) == SERVICES


def test_every_image_is_pinned_or_built_here(compose):
    for name, svc in compose["services"].items():
        assert "image" in svc or "build" in svc, name
        if "build" in svc:
            build = svc["build"]
            context = REPO / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")
            assert context.is_dir() and dockerfile.is_file(), f"{name}: {dockerfile} is missing"
        else:
            assert PINNED.match(svc["image"]), f"{name}: image {svc['image']!r} is not pinned to a version"
            assert not svc["image"].endswith(":latest")


def test_the_dockerfile_builds_from_what_the_repo_has():
    text = (REPO / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", text, re.M).group(1)
    assert PINNED.match(base) or re.match(r"python:\d+\.\d+\.\d+-", base), base
    for src in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for path in src.split():
            assert (REPO / path).exists(), f"Dockerfile copies {path}, which does not exist"
    ignored = (REPO / ".dockerignore").read_text().split()
    for needed in ("harness", "mock_servers", "scenarios", "pyproject.toml", "README.md"):
        assert needed not in ignored


def _bind_mounts(svc: dict):
    for vol in svc.get("volumes", []):
        src = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
        if src.startswith((".", "/")):
            yield src, vol


def test_every_mounted_file_exists(compose):
    n = 0
    for name, svc in compose["services"].items():
        for src, vol in _bind_mounts(svc):
            assert (REPO / src).exists(), f"{name}: {vol}: {src} does not exist"
            n += 1
    assert n >= 5
    named = {v.split(":")[0] for svc in compose["services"].values() for v in svc.get("volumes", [])
             if isinstance(v, str) and not v.startswith((".", "/"))}
    assert named <= set(compose.get("volumes") or {}), named


def test_grafana_is_provisioned_and_anonymous_read_only(compose):
    g = compose["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in g["volumes"]}
    assert mounts["/etc/grafana/provisioning/datasources"] == "./grafana/provisioning/datasources"
    assert mounts["/etc/grafana/provisioning/dashboards"] == "./grafana/provisioning/dashboards"
    assert mounts["/var/lib/grafana/dashboards"] == "./grafana/dashboards"
    assert list((GRAFANA / "provisioning" / "datasources").glob("*.yaml"))
    assert len(list((GRAFANA / "dashboards").glob("*.json"))) == 3
    env = g["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true" and env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (GRAFANA / "dashboards" / home.rsplit("/", 1)[1]).is_file()


def test_prometheus_gets_the_config_and_rules(compose):
    p = compose["services"]["prometheus"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in p["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"] == "./grafana/prometheus/prometheus.yml"
    assert mounts["/etc/prometheus/rules"] == "./grafana/prometheus/rules"
    assert "--config.file=/etc/prometheus/prometheus.yml" in p["command"]
    cfg = yaml.safe_load((GRAFANA / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in cfg["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    # the scrape targets are the compose services, on the ports they listen on
    assert {"mock:8080", "runner:9100", "pushgateway:9091"} <= targets
    runner_cmd = " ".join(compose["services"]["runner"]["command"])
    assert "--metrics-port 9100" in runner_cmd and "--metrics-addr 0.0.0.0" in runner_cmd
    assert "--pushgateway http://pushgateway:9091" in runner_cmd and "--metrics-linger" in runner_cmd
    assert "--port 8080" in " ".join(compose["services"]["mock"]["command"]) or \
        "8080" in compose["services"]["mock"]["command"]


def test_health_checks_and_dependencies(compose):
    for name, svc in compose["services"].items():
        hc = svc.get("healthcheck")
        assert hc and hc.get("test") and hc["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: no health check"
    runner = compose["services"]["runner"]
    assert runner["restart"] == "no"  # one-shot
    for dep in ("mock", "prometheus", "pushgateway"):
        assert runner["depends_on"][dep]["condition"] == "service_healthy"


def test_ports_are_bound_to_loopback(compose):
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is not bound to 127.0.0.1"


def test_the_compose_scenario_loads():
    from harness.scenario import load_scenario

    loaded = load_scenario(REPO / "scenarios" / "compose" / "openai-chat.yaml")
    assert loaded.scenario.targets["openai"].mock_url == "http://mock:8080/openai"
    assert loaded.resolve(loaded.scenario.input.path).is_file()


def test_compose_schema_validates():
    assert compose_config_problems(COMPOSE) is None
