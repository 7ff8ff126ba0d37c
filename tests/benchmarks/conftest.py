"""Fixtures for the mock benchmarks: the server under test on one core, the load on the other.

The server (mock or bare yardstick) is pinned with ``taskset -c 0`` and every load generator
(wrk, or :mod:`tests.benchmarks.loadgen`) with ``taskset -c 1``, so the numbers are "one core
of server" whatever else the machine does. With fewer than two cores nothing is pinned. As
root, both run at nice -10, so other work on a shared machine disturbs them less.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import pytest

from harness.runner.mockproc import MockProcess, start_mock

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk" / "count.lua"

_PINNABLE = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
SERVER_CPU: int | None = 0 if _PINNABLE else None
CLIENT_CPU: int | None = 1 if _PINNABLE else None


def pinned(cmd: Sequence[str], cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd] if cpu is not None else list(cmd)


# Benchmark processes run at a raised priority where that is allowed (root), so whatever else
# the machine runs disturbs a measurement less; elsewhere they run as they are.
PRIORITY = -10


def boost(pid: int) -> None:
    """Raise a started process's scheduling priority (its main thread), if permitted."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, PRIORITY)
    except OSError:
        pass


def boosted(cmd: Sequence[str]) -> list[str]:
    """``cmd`` under ``nice -n PRIORITY`` (so threads it starts inherit it), if permitted."""
    if shutil.which("nice") is None or os.geteuid() != 0:
        return list(cmd)
    return ["nice", "-n", str(PRIORITY), *cmd]


def split_url(url: str) -> tuple[str, int]:
    m = re.match(r"http://([^:/]+):(\d+)", url)
    assert m, url
    return m.group(1), int(m.group(2))


# -- servers ---------------------------------------------------------------------------------
@pytest.fixture
def pinned_mock() -> Iterator[Callable[..., MockProcess]]:
    """Factory: ``pinned_mock(["openai"], sets=[...], seed=1)``, the mock on the server core."""
    started: list[MockProcess] = []

    def start(providers: Sequence[str] = ("openai",), **kwargs: Any) -> MockProcess:
        proc = start_mock(providers, cpu=SERVER_CPU, **kwargs)
        boost(proc.proc.pid)  # taskset execs the server: same pid; it serves from one thread
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@dataclass
class Served:
    """A server process the benchmarks started: its base URL and pid."""

    url: str
    pid: int


@pytest.fixture
def bare_server() -> Iterator[Served]:
    """The bare aiohttp JSON endpoint (:mod:`tests.benchmarks.bare_app`) on the server core."""
    log = tempfile.NamedTemporaryFile("w+", prefix="bare-server-", suffix=".log", delete=False)
    cmd = boosted(pinned([sys.executable, "-m", "tests.benchmarks.bare_app"], SERVER_CPU))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            m = re.search(r"listening on (http://\S+)", Path(log.name).read_text())
            if m:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"bare server did not start:\n{Path(log.name).read_text()}")
            time.sleep(0.02)
        yield Served(m.group(1), proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        Path(log.name).unlink(missing_ok=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- wrk -------------------------------------------------------------------------------------
def run_wrk(
    url: str,
    *,
    stop_after: int,
    method: str = "GET",
    body: str | None = None,
    authorization: str | None = None,
    connections: int = 64,
    max_seconds: int = 60,
    server_pid: int | None = None,
    require_headers: Sequence[str] = (),
) -> dict[str, Any]:
    """One wrk run (one thread, on the client core) that stops after ``stop_after`` answers;
    returns the counts of wrk/count.lua plus ``rps`` and, given ``server_pid``, the server's
    CPU seconds in the run (``server_cpu_s``) and answers per server CPU second (``rps_cpu``).
    ``require_headers``: answers lacking any of these are counted in ``missing_headers``."""
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed (make sysdeps installs it)")
    env = {**os.environ, "WRK_METHOD": method, "WRK_BODY": body or "", "WRK_AUTHORIZATION": authorization or "",
           "WRK_STOP_AFTER": str(stop_after), "WRK_REQUIRE_HEADERS": ",".join(h.lower() for h in require_headers)}
    cmd = boosted(pinned(["wrk", "-t1", f"-c{connections}", f"-d{max_seconds}s", "--timeout", "10s",
                          "-s", str(WRK_SCRIPT), url], CLIENT_CPU))
    cpu_before = cpu_seconds(server_pid) if server_pid is not None else 0.0
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    stopped = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("WRKSTOP"):
                stopped.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + max_seconds + 30
    while proc.poll() is None and not stopped.is_set() and time.monotonic() < deadline:
        stopped.wait(0.05)
    # wrk's main thread sleeps out -d; SIGINT ends it. A signal can land on the worker thread
    # while that is still winding down, so repeat until wrk has exited.
    while proc.poll() is None and time.monotonic() < deadline:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(0.05)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    cpu_used = cpu_seconds(server_pid) - cpu_before if server_pid is not None else None
    reader.join(5)
    stderr = proc.stderr.read() if proc.stderr is not None else ""
    out = "".join(lines)
    m = re.search(r"^WRKJSON (\{.*\})$", out, re.M)
    assert proc.returncode == 0 and m, f"wrk failed ({proc.returncode}):\n{out}\n{stderr}"
    result = json.loads(m.group(1))
    result["rps"] = result["responses"] / (result["duration_us"] / 1e6)
    if cpu_used:
        result["server_cpu_s"] = cpu_used
        result["server_cpu_share"] = cpu_used / (result["duration_us"] / 1e6)
        result["rps_cpu"] = result["responses"] / cpu_used
    return result


# -- the Python load generator ----------------------------------------------------------------
class LoadGen:
    """``python -m tests.benchmarks.loadgen`` on the client core, driven one command at a time."""

    def __init__(self) -> None:
        cmd = boosted(pinned([sys.executable, "-m", "tests.benchmarks.loadgen"], CLIENT_CPU))
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", f"load generator did not start: {line!r}"

    def __call__(self, op: str, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **command}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"load generator died (exit {self.proc.poll()})"
        result = json.loads(line)
        assert "exception" not in result, f"load generator failed: {result['exception']}"
        return result

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def loadgen() -> Iterator[LoadGen]:
    gen = LoadGen()
    yield gen
    gen.close()


@pytest.fixture(scope="session")
def bench_results() -> dict[str, Any]:
    """Numbers one benchmark leaves for another in the same run (the bare yardstick's req/s)."""
    return {}
