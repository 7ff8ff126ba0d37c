"""The watching stack on real binaries: a real Prometheus (and Pushgateway) scraping a short real
``harness run`` against the real mock and a short real headless Locust run (its real exporter),
with the repository's own prometheus.yml and rules.

One module-scoped run serves every query test: ~10-15 s wall. Everything listens on 127.0.0.1,
every wait is bounded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from harness.runner.mockproc import MockProcess, start_mock
from tests.harness.runutil import Scraper

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "grafana"
PROM_DIR = GRAFANA / "prometheus"
DASHBOARDS = GRAFANA / "dashboards"

# an image tag that names a release (1.2.3, v2.45.0, 7.2.4-alpine), never "latest"
PINNED = re.compile(r"^[a-z0-9./_-]+:(v?\d+\.\d+\.\d+)([.-][a-z0-9.-]+)?$")


@pytest.fixture(scope="module")
def compose(request) -> dict:
    """The Compose file the test module names in ``COMPOSE``, parsed."""
    return yaml.safe_load(request.module.COMPOSE.read_text())


def compose_config_problems(compose_file: Path) -> str | None:
    """What `docker-compose config` says is wrong with ``compose_file`` (None: it validates).
    Debian's docker-compose checks the file against the Compose schema without a Docker engine;
    scripts/system-deps.sh installs it."""
    exe = shutil.which("docker-compose")
    assert exe is not None, "docker-compose missing: run scripts/system-deps.sh (make test does)"
    r = subprocess.run([exe, "-f", str(compose_file), "--profile", "run", "config", "--quiet"],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    return None if r.returncode == 0 else r.stderr


SCRAPE_INTERVAL = "1s"
# /metrics stays up this long after the run: six 1 s scrapes, of which the tests want two of the
# final values (3 s left a loaded machine, where scrapes come late, with one now and then)
LINGER = 6
RATE_INTERVAL = "5s"  # Grafana's $__rate_interval for a 1 s scrape: max(4 x scrape, step + scrape)
TIME_SCALE = 0.1
ITEMS = 150
WORKERS = 10
# the mock refuses above 60 requests/min of profile time (10 req/s wall at 0.1), the runner does not
# learn that limit, so it meets 429s (and Retry-After waits) and some 500s: every panel has data.
MOCK_SETS = ["openai.limits.requests_per_minute=60", "openai.faults.error_500=0.03"]

SCENARIO = {
    "name": "grafana-e2e",
    "targets": {"openai": {"profile": "openai", "mock_url": None, "limits": {"learn": False}}},
    "steps": [{
        "name": "chat", "target": "openai", "path": "/v1/chat/completions",
        "json": {"model": "gpt-4o-mini", "max_tokens": 100,
                 "messages": [{"role": "user", "content": "Describe {{ row.text }}"}]},
        "keep": {"answer": "{{ response.choices[0].message.content }}"},
    }],
    "workers": WORKERS,
    "timeout": 30,
    "retry": {"max_attempts": 8, "base_delay": 0.5, "max_delay": 2.0},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def wait_until(check, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout} s (last error: {last})")


class Proc:
    """A binary started on the side, its output in a file; stopped by :meth:`stop`."""

    def __init__(self, cmd: list[str], name: str) -> None:
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        Path(self.log.name).unlink(missing_ok=True)


@dataclass
class Prometheus:
    url: str

    def api(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            body = json.loads(http_get(f"{self.url}/api/v1/{path}?{query}", timeout=10))
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{path} {params}: HTTP {exc.code} {exc.read().decode()[:500]}") from None
        assert body["status"] == "success", body
        return body["data"]

    def query_range(self, expr: str, start: float, end: float, step: str = "1s") -> list[dict]:
        return self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=step)["result"]

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self.api("query", **params)["result"]


# -- a real headless Locust run, its real exporter (harness/locust_support/exporter.py) scraped --
LOCUST_RUN_ID = "locust-e2e"
LOCUST_USERS = 4
LOCUST_SECONDS = 10  # alongside the runner's run (~12 s): it adds no wall time
LOCUST_PACING = 0.25  # s between one user's requests: 16 req/s in all, a steady rate to sum over
# the exporter quits with Locust: --autostart with --autoquit keeps the process (and /metrics,
# with the final counts) up this long after the users stopped, as --metrics-linger does for the runner
LOCUST_LINGER = 5
# its own mock (not scraped: the mock dashboard shows the runner's traffic alone): 30 RPM at 0.1 is
# 5 req/s after a full bucket of 30, so 16 req/s meet 429s; and a few 500s
LOCUST_MOCK_SETS = ["openai.limits.requests_per_minute=30", "openai.faults.error_500=0.05"]


class LocustRun:
    """``locust -f openai.py --autostart -t 10s --autoquit 5`` on the side, loopback only: the
    Prometheus export on ``port``, Locust's own statistics in ``csv``_stats.csv at the end."""

    def __init__(self, port: int, tmp: Path) -> None:
        from tests.locust.runlocust import LOCUST, LOCUSTFILES

        self.port = port
        self.run_id = LOCUST_RUN_ID
        self.csv = tmp / "locust"
        self.mock = start_mock(["openai"], time_scale=TIME_SCALE, sets=LOCUST_MOCK_SETS, seed=5)
        host = self.mock.url("openai")
        assert host.startswith("http://127.0.0.1:")
        cmd = [LOCUST, "-f", str(LOCUSTFILES / "openai.py"), "--host", host, "--autostart",
               "-t", f"{LOCUST_SECONDS}s", "--autoquit", str(LOCUST_LINGER), "--web-host", "127.0.0.1",
               "--web-port", str(free_port()), "-u", str(LOCUST_USERS), "-r", str(LOCUST_USERS),
               "--pacing", str(LOCUST_PACING), "--max-tokens", "32", "--loglevel", "WARNING", "--csv", str(self.csv),
               "--prometheus-port", str(port), "--run-id", self.run_id]
        self.started = time.time()
        self.proc = Proc(cmd, "locust")
        self.ended: float | None = None

    def wait(self, timeout: float) -> None:
        """Until Locust quits by itself (-t plus --autoquit); its exit status 1 means failed requests."""
        try:
            rc = self.proc.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"locust still running after {timeout} s:\n{self.proc.output()[-3000:]}") from None
        self.ended = time.time()
        out = self.proc.output()
        assert rc in (0, 1) and "Traceback" not in out, f"locust exit {rc}:\n{out[-3000:]}"

    def stats(self) -> list[dict[str, str]]:
        from tests.locust.runlocust import read_csv

        return read_csv(Path(f"{self.csv}_stats.csv"))

    def failures(self) -> list[dict[str, str]]:
        from tests.locust.runlocust import read_csv

        return read_csv(Path(f"{self.csv}_failures.csv"))

    def stop(self) -> None:
        self.proc.stop()
        self.mock.stop()


@dataclass
class Stack:
    prometheus: Prometheus
    mock: MockProcess
    run_id: str
    locust: LocustRun
    started: float
    ended: float
    runner_metrics_text: str
    mock_metrics_text: str
    pushgateway_url: str | None
    run_output: str
    summary: dict

    @property
    def locust_run_id(self) -> str:
        return self.locust.run_id


def scrape_config(mock_port: int, runner_port: int, locust_port: int, prom_port: int,
                push_port: int | None, rules: Path) -> dict:
    """The repository's prometheus.yml with the compose service addresses replaced by local ports."""
    cfg = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    cfg["global"].update({"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL,
                          "scrape_timeout": SCRAPE_INTERVAL})
    cfg["rule_files"] = [str(rules / "*.yml")]
    where = {"prometheus": prom_port, "mock": mock_port, "harness": runner_port, "locust": locust_port,
             "pushgateway": push_port}
    jobs = []
    for job in cfg["scrape_configs"]:
        port = where[job["job_name"]]
        if port is None:
            continue
        job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
        jobs.append(job)
    cfg["scrape_configs"] = jobs
    return cfg


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not installed (make sysdeps installs it)")
    from tests.harness.runutil import write_scenario

    tmp = tmp_path_factory.mktemp("grafana-e2e")
    started: list = []
    try:
        mock = start_mock(["openai"], time_scale=TIME_SCALE, sets=MOCK_SETS, seed=7)
        started.append(mock)
        runner_port, locust_port, prom_port = free_port(), free_port(), free_port()
        push_port = None
        if shutil.which("prometheus-pushgateway"):
            push_port = free_port()
            pgw = Proc(["prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{push_port}"], "pushgateway")
            started.append(pgw)
        mock_port = int(mock.base_url.rsplit(":", 1)[1])
        cfg_path = tmp / "prometheus.yml"
        cfg = scrape_config(mock_port, runner_port, locust_port, prom_port, push_port, PROM_DIR / "rules")
        cfg_path.write_text(yaml.safe_dump(cfg))
        prom = Proc(["prometheus", f"--config.file={cfg_path}", f"--storage.tsdb.path={tmp / 'tsdb'}",
                     f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"], "prometheus")
        started.append(prom)
        p = Prometheus(f"http://127.0.0.1:{prom_port}")
        wait_until(lambda: prom.proc.poll() is None and http_get(f"{p.url}/-/ready", 1) != "", 30,
                   f"prometheus\n{prom.output()}")
        if push_port:
            wait_until(lambda: http_get(f"http://127.0.0.1:{push_port}/-/ready", 1) != "", 20, "pushgateway")
        # Prometheus hands new targets to its scrape loops only every 5 s (2.42's fixed discovery
        # throttle): until each job has an `up` sample (0 while the runner and Locust are not up
        # yet), their first seconds would go unscraped and the panels could not add up to the run
        jobs = {job["job_name"] for job in cfg["scrape_configs"]}
        wait_until(lambda: {r["metric"]["job"] for r in p.query("up")} >= jobs, 30, f"prometheus scraping {jobs}")

        doc = json.loads(json.dumps(SCENARIO))
        doc["targets"]["openai"]["mock_url"] = mock.url("openai")
        wd = write_scenario(tmp, doc, ITEMS, name="grafana-e2e")
        cmd = [sys.executable, "-m", "harness", "run", str(wd.scenario), "--quiet", "--time-scale", str(TIME_SCALE),
               "--metrics-port", str(runner_port), "--metrics-linger", str(LINGER), "--summary-json", str(wd.summary)]
        if push_port:
            cmd += ["--pushgateway", f"http://127.0.0.1:{push_port}"]
        locust = LocustRun(locust_port, tmp)  # alongside the run: both are scraped meanwhile
        started.append(locust)
        t0 = time.time()
        scraper = Scraper(f"http://127.0.0.1:{runner_port}/metrics", interval=0.5, limit_seconds=90)
        with scraper.running():
            run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=90,
                                 env={**os.environ, "NO_COLOR": "1"})
        t1 = time.time()
        assert run.returncode == 0, f"harness run failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
        assert scraper.samples, "the runner's /metrics was never reachable"
        summary = wd.summary_data()
        locust.wait(LOCUST_SECONDS + LOCUST_LINGER + 30)
        # two more evaluations of the rules and one more scrape of everything
        time.sleep(2.5)
        yield Stack(p, mock, summary["run_id"], locust, t0, t1, scraper.samples[-1][1],
                    http_get(mock.base_url + "/metrics"),
                    f"http://127.0.0.1:{push_port}" if push_port else None, run.stdout + run.stderr, summary)
    finally:
        for thing in reversed(started):
            thing.stop()
