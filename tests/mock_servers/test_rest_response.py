"""Issue 14.15-16: a custom REST profile gives its answer's shape, and its name is a provider.

Before: the generic mock answered ``{id, endpoint, status, padding}`` whatever the API, so a
scenario keeping ``response.lat`` failed every item; ``--providers geo`` was refused although
``--profile geo.yaml`` was given, and without ``--providers`` every shipped profile was served too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.runner.mockproc import start_mock
from tests.harness.runutil import REPO, run_cli, write_scenario

GEO = """\
name: geo
kind: rest
auth: {kind: header, name: x-api-key}
latency: {median: 0.01, p99: 0.02}
endpoints:
  - name: geocode
    method: GET
    path: /v1/geocode/{city}
    response:
      id: "{{ id }}"
      city: "{{ params.city }}"
      lat: "{{ uniform(-90, 90) }}"
      lon: "{{ uniform(-180, 180) }}"
      label: "{{ params.city | upper }} ({{ query.get('country', 'any') }})"
      tags: ["geo", "{{ choice(['a', 'b']) }}"]
      count: "{{ randint(1, 3) }}"
"""


@pytest.fixture
def geo(tmp_path: Path) -> Path:
    path = tmp_path / "geo.yaml"
    path.write_text(GEO)
    return path


def test_profile_response_shape_is_served(geo: Path) -> None:
    mock = start_mock([], profiles=[str(geo)], seed=3)
    try:
        r = httpx.get(f"{mock.base_url}/geo/v1/geocode/paris?country=FR", headers={"x-api-key": "k"}, timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"id", "city", "lat", "lon", "label", "tags", "count"}  # no padding, no status
        assert body["city"] == "paris" and body["label"] == "PARIS (FR)"
        assert isinstance(body["lat"], float) and -90 <= body["lat"] <= 90
        assert body["tags"][0] == "geo" and body["tags"][1] in ("a", "b") and body["count"] in (1, 2, 3)
        assert body["id"] == r.headers["X-Request-Id"]
        # only the given profile is served
        assert httpx.get(f"{mock.base_url}/healthz", timeout=5).json()["providers"] == {"geo": "/geo"}
    finally:
        mock.stop()


def test_a_bad_template_is_refused_at_load(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GEO.replace('"{{ uniform(-90, 90) }}"', '"{{ uniform(-90, }}"'))
    proc = subprocess.run([sys.executable, "-m", "mock_servers", "--profile", str(bad), "--port", "0"],
                          capture_output=True, text=True, timeout=20, cwd=REPO)
    assert proc.returncode == 2 and "endpoints.geocode.response.lat" in proc.stderr, proc.stderr


def test_profile_name_is_a_valid_provider(geo: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "mock_servers", "--profile", str(geo), "--providers", "geo,openai",
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
    finally:
        proc.terminate()
        proc.wait(10)
    text = "".join(lines)
    assert "geo " in text and "/geo" in text and "/openai/v1" in text, text  # the SDK's base URL for OpenAI
    assert "anthropic" not in text


def test_a_scenario_keeps_fields_of_the_given_shape(tmp_path: Path, geo: Path) -> None:
    doc = {"targets": {"geo": {"profile": str(geo)}},
           "steps": [{"name": "geocode", "target": "geo", "method": "GET", "path": "/v1/geocode/{{ row.city }}",
                      "keep": {"lat": "{{ response.lat }}", "lon": "{{ response.lon }}"}}],
           "workers": 2}
    wd = write_scenario(tmp_path / "w", doc, [{"id": str(i), "city": c} for i, c in enumerate(["paris", "oslo"])])
    proc = run_cli(["run", str(wd.scenario), "--quiet", "--time-scale", "0.1"], timeout=90)
    assert proc.returncode == 0, proc.stderr
    rows = wd.rows()
    assert [r["status"] for r in rows] == ["done", "done"], rows
    assert all(isinstance(r["lat"], float) for r in rows)
