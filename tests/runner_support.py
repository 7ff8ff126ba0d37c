"""Helpers for tests and benchmarks that run ``harness run`` as a subprocess against a mock.

A cheap, realistic REST workload: one POST per item with a small JSON body built from the row,
one field kept from the answer, checkpoint and ordered output on. The mock (CardGenius's REST
profile) answers at once with a ~200-byte body and no capacity limit, so the runner is what
is measured.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Sequence

import orjson

ROOT = Path(__file__).resolve().parents[1]

# The mock: zero latency, small answers, no queue in front of the endpoint.
FAST_REST_SETS = [
    "cardgenius.latency.median=0",
    "cardgenius.latency.p99=0",
    "cardgenius.endpoints.recommend.response_bytes=200",
    "cardgenius.capacity.max_in_flight=null",
]

SCENARIO = """\
name: runner-rest
input: {{path: {input}, id: user_id}}
output: {{path: {output}}}
targets:
  api:
    profile: cardgenius
    mock_url: {mock_url}
steps:
  - name: recommend
    target: api
    path: /v1/recommendations
    json:
      user_id: "{{{{ row.user_id }}}}"
      income: "{{{{ row.income }}}}"
      spend: {{groceries: "{{{{ row.groceries }}}}", travel: "{{{{ row.travel }}}}"}}
    keep:
      recommendation_id: "{{{{ response.id }}}}"
workers: {workers}
timeout: 30
retry: {{max_attempts: 3, base_delay: 0.01, max_delay: 0.1}}
"""


def write_users(path: Path, n: int) -> Path:
    """``n`` JSONL rows ``{"user_id": "u0000000", "income": ..., "groceries": ..., "travel": ...}``,
    written in chunks so a million rows never sit in memory."""
    with open(path, "wb") as f:
        chunk: list[bytes] = []
        for i in range(n):
            chunk.append(orjson.dumps({"user_id": f"u{i:07d}", "income": 40_000 + i % 90_000,
                                       "groceries": 100 + i % 700, "travel": i % 500}))
            if len(chunk) == 10_000:
                f.write(b"\n".join(chunk) + b"\n")
                chunk.clear()
        if chunk:
            f.write(b"\n".join(chunk) + b"\n")
    return path


def write_scenario(path: Path, *, input: Path, output: Path, mock_url: str, workers: int) -> Path:
    path.write_text(SCENARIO.format(input=input, output=output, mock_url=mock_url, workers=workers))
    return path


def harness_cmd(scenario: Path, *extra: str, cpu: int | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "harness", "run", str(scenario), "--quiet", *extra]
    return ["taskset", "-c", str(cpu), *cmd] if cpu is not None else cmd


def run_harness(scenario: Path, *extra: str, cpu: int | None = None, timeout: float = 300,
                time_v: bool = False) -> subprocess.CompletedProcess:
    """Run ``harness run SCENARIO --quiet EXTRA...`` to the end (``time_v``: under /usr/bin/time -v)."""
    cmd = harness_cmd(scenario, *extra, cpu=cpu)
    if time_v:
        cmd = ["/usr/bin/time", "-v", *cmd]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


_SAMPLE = re.compile(r'^mock_requests_total\{([^}]*)\} ([0-9.e+]+)$', re.M)


def mock_requests(base_url: str, provider: str = "cardgenius", endpoint: str | None = None) -> dict[str, float]:
    """``mock_requests_total`` of ``provider`` (and ``endpoint``) by status, from the mock's /metrics."""
    with urllib.request.urlopen(base_url + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for labels, value in _SAMPLE.findall(text):
        d = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if d.get("provider") != provider or (endpoint is not None and d.get("endpoint") != endpoint):
            continue
        out[d["status"]] = out.get(d["status"], 0.0) + float(value)
    return out


def settled_200s(base_url: str, endpoint: str = "recommend", *, timeout: float = 5.0, poll: float = 0.1) -> float:
    """The mock's 200 count for ``endpoint`` once it stops moving (answers to a killed client
    are still being counted for a moment), or its last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = mock_requests(base_url, endpoint=endpoint).get("200", 0.0)
    while time.monotonic() < deadline:
        time.sleep(poll)
        now = mock_requests(base_url, endpoint=endpoint).get("200", 0.0)
        if now == last:
            return now
        last = now
    return last


def checkpoint_counts(path: Path) -> dict[str, int]:
    """{"done": n, "failed": m} read from a checkpoint file (read-only, another process may write)."""
    counts = {"done": 0, "failed": 0}
    if not path.exists():
        return counts
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        for status, n in db.execute("SELECT status, count(*) FROM items GROUP BY status"):
            counts[status] = n
    except sqlite3.OperationalError:  # not created yet
        pass
    finally:
        db.close()
    return counts


def read_ids(path: Path) -> list[str]:
    """The ``id`` of every row of a JSONL output, in file order."""
    ids: list[str] = []
    with open(path, "rb") as f:
        for line in f:
            ids.append(orjson.loads(line)["id"])
    return ids


def expected_ids(n: int) -> Sequence[str]:
    return [f"u{i:07d}" for i in range(n)]
