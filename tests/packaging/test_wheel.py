"""The wheel, installed with [locust] (and the plugin's [pytest]) in a fresh virtualenv, works
away from the checkout: the CLI, the mock, a shipped locustfile under Locust, and the examples/
suite through the pytest plugin, whose throughput gate fails when the script's workers halve."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(venv: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def _run(cmd: list[str], venv: Path, cwd: Path, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=_env(venv, **extra), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A new virtualenv (no system site-packages) with the freshly built wheel and what examples/ needs."""
    work = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"),
                            str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = (work / "dist").glob("ratelimit_harness-*.whl")
    # shipped inside: the locustfiles, the templates, the profiles, the plugin's entry point, an SPDX licence
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    for name in ("openai", "anthropic", "cardgenius", "spapi", "keepa"):
        assert f"harness/locust_support/locustfiles/{name}.py" in names
    assert "mock_servers/profiles/openai.yaml" in names and "harness/reporting/templates/report.html.j2" in names
    assert "License-Expression: MIT" in meta and "Provides-Extra: locust" in meta
    assert "[pytest11]" in entry_points and "harness = harness.pytest_plugin" in entry_points
    env_dir = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=120)
    installed = _run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile", f"{wheel}[locust,pytest]",
                      "-r", str(ROOT / "examples" / "requirements.txt")], env_dir, work, timeout=600)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return env_dir


def test_cli_mock_and_a_shipped_locustfile(venv, tmp_path):
    python = str(venv / "bin" / "python")
    where = _run([python, "-c", "import harness, sys; print(harness.__file__); print(sys.prefix)"], venv, tmp_path)
    assert where.stdout.split()[0].startswith(str(venv)), where.stdout  # the installed copy, not the checkout
    helped = _run([str(venv / "bin" / "harness"), "--help"], venv, tmp_path)
    assert helped.returncode == 0 and all(c in helped.stdout for c in ("mock", "run", "locustfile", "report"))
    locustfile = _run([str(venv / "bin" / "harness"), "locustfile", "cardgenius"], venv, tmp_path).stdout.strip()
    assert locustfile.startswith(str(venv)) and locustfile.endswith("cardgenius.py")

    log = (tmp_path / "mock.log").open("w")
    mock = subprocess.Popen([str(venv / "bin" / "harness"), "mock", "--providers", "cardgenius", "--port", "0",
                             "--time-scale", "0.02"], cwd=tmp_path, env=_env(venv), stdout=log,
                            stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline and mock.poll() is None:
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", (tmp_path / "mock.log").read_text())
            url = m.group(1) if m else time.sleep(0.1)
        assert url, (tmp_path / "mock.log").read_text()
        assert json.loads(urllib.request.urlopen(url + "/healthz", timeout=5).read())
        ran = _run([str(venv / "bin" / "locust"), "-f", locustfile, "--host", f"{url}/cardgenius", "--headless",
                    "-u", "4", "-r", "4", "-t", "3", "--stop-timeout", "2", "--only-summary",
                    "--json-file", str(tmp_path / "locust")], venv, tmp_path, timeout=90)
        assert ran.returncode == 0, ran.stderr[-3000:]
        stats = json.loads((tmp_path / "locust.json").read_text())
        done = sum(s["num_requests"] for s in stats if s["name"] == "recommend")
        assert done > 0 and sum(s["num_failures"] for s in stats) == 0
    finally:
        mock.terminate()
        mock.wait(10)
        log.close()


def test_examples_suite_passes_and_its_gate_fails_on_half_the_workers(venv, tmp_path):
    suite = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", suite, ignore=shutil.ignore_patterns("__pycache__", ".benchmarks"))
    pytest_ = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--benchmark-storage=file://{tmp_path / 'bench'}"]
    saved = _run(pytest_ + ["--benchmark-save=baseline"], venv, suite)
    assert saved.returncode == 0, saved.stdout[-3000:] + saved.stderr[-2000:]
    assert "2 passed" in saved.stdout
    [baseline] = (tmp_path / "bench").glob("*/0001_baseline.json")
    info = json.loads(baseline.read_text())["benchmarks"][0]["extra_info"]
    assert info["figures"]["items_per_s"]["value"] > 0 and info["rate_limited_share"] == 0.0

    gate = ["--benchmark-compare=0001", "--benchmark-compare-fail=median:25%", "-k", "throughput"]
    halved = _run(pytest_ + gate, venv, suite, ENRICH_WORKERS="5")
    assert halved.returncode != 0, halved.stdout[-3000:]
    assert "Performance has regressed" in halved.stdout + halved.stderr
