"""Issue 14.2 and 14.4: signals end every wait at once; the mock child dies with its runner.

Before: with ``429 Retry-After: 3600`` the first SIGINT did nothing and the second exited 130
without a summary; ``--time-scale inf`` ignored SIGTERM; a kill -9 of the runner left its mock
listening 30 s later. Now: one SIGINT or SIGTERM stops the run within seconds, exit 3, the
summary printed, and ``--resume`` finishes every item; the mock exits with its parent.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from aiohttp import web

from tests.harness.runutil import REPO, harness_cmd, run_cli, write_scenario
from tests.harness.tinyserver import tiny_server

ITEMS = 12


def _doc(base_url: str, *, limits: dict | None = None, retry: dict | None = None) -> dict:
    target = {"profile": "cardgenius", "base_url": base_url, "api_key_env": "K"}
    if limits:
        target["limits"] = limits
    return {
        "targets": {"api": target},
        "steps": [{"name": "get", "target": "api", "method": "GET", "path": "/items/{{ row.id }}",
                   "keep": {"ok": "{{ response.ok }}"}}],
        "workers": 3, "timeout": 30.0,
        "retry": retry or {"max_attempts": 5, "base_delay": 0.01, "max_delay": 0.05},
    }


def _start(wd, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "K": "k-not-secret", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.Popen(harness_cmd("run", str(wd.scenario), *extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


def _stop(proc: subprocess.Popen, sig: int, limit: float = 15.0) -> tuple[int, str, float]:
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running {limit:g}s after {signal.Signals(sig).name}: {err[-2000:]}")
    return proc.returncode, out + err, time.monotonic() - t0


def _wait_for(cond, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.05)


WAITS = {
    # a server that says: come back in an hour
    "retry_after": (dict(), lambda: web.Response(status=429, headers={"Retry-After": "3600"}, text="slow down")),
    # 500s with a backoff of an hour
    "backoff": (dict(retry={"max_attempts": 5, "base_delay": 3600, "max_delay": 3600, "jitter": "none"}),
                lambda: web.Response(status=500, text="down")),
    # one request per hour, client-side
    "limiter": (dict(limits={"requests_per_minute": 1.0 / 60, "burst": 1}), lambda: web.json_response({"ok": 1})),
}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("wait", sorted(WAITS))
def test_a_signal_ends_a_long_wait_at_once(tmp_path: Path, wait: str, sig: int) -> None:
    kwargs, answer = WAITS[wait]
    mode = {"answer": answer}

    async def handler(request: web.Request) -> web.StreamResponse:
        return mode["answer"]()

    with tiny_server(handler) as server:
        wd = write_scenario(tmp_path, _doc(server.url, **kwargs), [{"id": f"i{i}"} for i in range(ITEMS)])
        proc = _start(wd, "--target", "real")
        _wait_for(lambda: len(server.seen) >= (1 if wait == "limiter" else 3))
        time.sleep(0.5)  # every worker is now waiting
        rc, text, took = _stop(proc, sig)
        assert rc == 3, text[-3000:]
        assert f"interrupted by {signal.Signals(sig).name}" in text
        assert "items done / failed / total" in text  # the summary table
        assert "Traceback" not in text
        assert took < 10, took
        # resumable: the server is fine now, every item finishes exactly once
        mode["answer"] = lambda: web.json_response({"ok": 1})
        again = run_cli(["run", str(wd.scenario), "--target", "real", "--resume", "--quiet"], env={"K": "k"},
                        timeout=120) if wait != "limiter" else None
    if again is not None:
        assert again.returncode == 0, again.stderr[-2000:]
        assert sorted(r["id"] for r in wd.rows()) == sorted(f"i{i}" for i in range(ITEMS))
        assert all(r["status"] == "done" for r in wd.rows())


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(t) for t in text]
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return not re.search(r"^State:\s+Z", state, re.M)


def test_time_scale_inf_stops_on_sigterm_and_the_mock_goes_with_it(tmp_path: Path) -> None:
    doc = {"targets": {"cg": {"profile": "cardgenius"}},
           "steps": [{"name": "rec", "target": "cg", "method": "POST", "path": "/v1/recommendations",
                      "json": {"u": "{{ row.id }}"}}],
           "workers": 3, "timeout": 30.0}
    wd = write_scenario(tmp_path, doc, ITEMS)
    proc = _start(wd, "--time-scale", "inf")
    _wait_for(lambda: any(_alive(c) for c in _children(proc.pid)))
    mock = _children(proc.pid)[0]
    _wait_for(wd.checkpoint.exists)  # the engine runs
    time.sleep(2.0)  # the requests are in flight, and will never be answered
    rc, text, took = _stop(proc, signal.SIGTERM)
    assert rc == 3 and "interrupted by SIGTERM" in text and took < 10, text[-2000:]
    _wait_for(lambda: not _alive(mock), 10)


def test_mock_child_exits_when_the_runner_is_killed(tmp_path: Path) -> None:
    doc = {"targets": {"cg": {"profile": "cardgenius"}},
           "steps": [{"name": "rec", "target": "cg", "method": "POST", "path": "/v1/recommendations",
                      "json": {"u": "{{ row.id }}"}}],
           "workers": 2}
    wd = write_scenario(tmp_path, doc, 500)
    proc = _start(wd)
    _wait_for(lambda: any(_alive(c) for c in _children(proc.pid)))
    mock = _children(proc.pid)[0]
    time.sleep(1.0)
    proc.kill()  # kill -9: no cleanup code of the runner runs
    proc.wait(10)
    t0 = time.monotonic()
    _wait_for(lambda: not _alive(mock), 10)  # before: still listening 30 s later
    print(f"mock child gone {time.monotonic() - t0:.2f}s after kill -9 of the runner")
