"""docker-compose.celery.yml, checked without a Docker engine: Redis (durable), N harness workers
on the broker with /metrics, the mock, Prometheus finding every worker, Grafana; pinned images,
files that exist, health checks, loopback ports, one shared run folder, and a valid schema."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from .conftest import GRAFANA, PINNED, REPO, compose_config_problems

COMPOSE = REPO / "docker-compose.celery.yml"
SERVICES = {"redis", "mock", "worker", "coordinator", "prometheus", "grafana"}


def test_the_services(compose):
    assert set(compose["services"]) == SERVICES


def test_images_pinned_or_built_here(compose):
    for name, svc in compose["services"].items():
        if "build" in svc:
            assert (REPO / svc["build"] / "Dockerfile").is_file(), name
        else:
            assert PINNED.match(svc["image"]), f"{name}: {svc['image']!r} not pinned"
    assert 'pip install ".[celery]"' in (REPO / "Dockerfile").read_text()  # the image can run workers


def test_workers_replicated_on_the_broker_with_metrics(compose):
    w = compose["services"]["worker"]
    cmd = w["command"]
    assert cmd[0] == "worker" and cmd[cmd.index("--broker") + 1] == "redis://redis:6379/0"
    assert cmd[cmd.index("--metrics-port") + 1] == "9100" and cmd[cmd.index("--metrics-addr") + 1] == "0.0.0.0"
    assert str(w["deploy"]["replicas"]).startswith("${HARNESS_WORKERS")
    assert w["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "ports" not in w  # replicas would clash on a published port; Prometheus reaches them inside


def test_one_run_folder_at_the_same_path_everywhere(compose):
    def mounts(svc):
        return {v.split(":")[1]: v.split(":")[0] for v in compose["services"][svc]["volumes"]}

    assert mounts("worker")["/data"] == mounts("coordinator")["/data"] == "runs"
    coord = " ".join(compose["services"]["coordinator"]["command"])
    assert "--engine celery" in coord and "--broker redis://redis:6379/0" in coord and "/data/" in coord
    assert compose["services"]["coordinator"]["restart"] == "no"


def test_redis_keeps_its_data_across_a_restart(compose):
    r = compose["services"]["redis"]
    assert r["command"][r["command"].index("--appendonly") + 1] == "yes"
    assert any(v.endswith(":/data") for v in r["volumes"])


def test_prometheus_finds_every_worker(compose):
    p = compose["services"]["prometheus"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in p["volumes"]}
    src = mounts["/etc/prometheus/prometheus.yml"]
    cfg = yaml.safe_load((REPO / src).read_text())
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    dns = jobs["harness"]["dns_sd_configs"][0]
    assert dns["names"] == ["worker"] and dns["port"] == 9100 and dns["type"] == "A"
    assert jobs["mock"]["static_configs"][0]["targets"] == ["mock:8080"]
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run scripts/system-deps.sh"
    check = subprocess.run([promtool, "check", "config", "--syntax-only", str(REPO / src)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_mounted_files_exist_and_grafana_is_provisioned(compose):
    for name, svc in compose["services"].items():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("."):
                assert (REPO / src).exists(), f"{name}: {src} missing"
    env = compose["services"]["grafana"]["environment"]
    assert (GRAFANA / "dashboards" / env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"].rsplit("/", 1)[1]).is_file()


def test_health_checks_and_loopback_ports(compose):
    for name, svc in compose["services"].items():
        assert svc.get("healthcheck", {}).get("test"), f"{name}: no health check"
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_compose_schema_validates():
    assert compose_config_problems(COMPOSE) is None
