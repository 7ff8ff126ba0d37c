"""Runner acceptance: an API key never leaves the environment variable that holds it, and
mistakes end with a clear message, not a traceback.

The key test runs ``harness run --target real`` against the mock (its providers' base URLs
stand in for the real APIs) with unique canary keys: a bearer key (OpenAI) and a key sent in the
query string (Keepa, where it is part of every URL), with faults injected so error paths
(500s, resets, timeouts, malformed bodies, and in a second run 401s whose message echoes the
key masked) are exercised. During the run the runner's /metrics is scraped and the checkpoint's
-wal is copied; afterwards every byte under the run's folder (scenario, input, output,
checkpoint, its -wal/-shm/lock, summary JSON, captured stdout/stderr, scraped metrics) is
searched for the canaries.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import uuid
from pathlib import Path

from tests.harness.runutil import REPO, harness_cmd, http_get, metric_sum, run_cli, write_scenario


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _leaks(root: Path, needles: list[str]) -> list[str]:
    """Every file under ``root`` (any content, binary too) that contains one of ``needles``."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            for needle in needles:
                if needle.encode() in data:
                    found.append(f"{path.relative_to(root)}: {needle}")
    return found


def _scenario(openai_url: str, keepa_url: str) -> dict:
    return {
        "targets": {
            "openai": {"profile": "openai", "base_url": openai_url, "api_key_env": "CANARY_OPENAI_KEY"},
            "keepa": {"profile": "keepa", "base_url": keepa_url, "api_key_env": "CANARY_KEEPA_KEY"},
        },
        "steps": [
            {"name": "chat", "target": "openai", "path": "/v1/chat/completions",
             "json": {"model": "gpt-5-nano", "max_completion_tokens": 30,
                      "messages": [{"role": "user", "content": "Describe {{ row.text }}"}]},
             "keep": {"answer": "{{ response.choices[0].message.content }}"}},
            {"name": "product", "target": "keepa", "method": "GET", "path": "/product",
             "query": {"domain": 1, "asin": "{{ row.id }}"},
             "keep": {"title": "{{ response.products[0].title }}"}},
        ],
        "workers": 5,
        "timeout": 1.0,
        "retry": {"max_attempts": 5, "base_delay": 0.05, "max_delay": 0.2},
        "output": {"columns": ["id", "status", "error", "answer", "title"]},
    }


MOCK_SETS = [
    "openai.latency.median=0.15", "openai.latency.p99=0.3", "openai.latency.tokens_per_second=2000",
    "openai.output_tokens.median=20", "openai.output_tokens.p99=40",
    "openai.faults.error_500=0.05", "openai.faults.reset=0.05", "openai.faults.malformed=0.05",
    "openai.faults.hang=0.03", "openai.faults.hang_seconds=3",
    "keepa.latency.median=0.05", "keepa.latency.p99=0.1",
    "keepa.faults.error_500=0.05", "keepa.faults.reset=0.05", "keepa.faults.hang=0.03", "keepa.faults.hang_seconds=3",
]


def _real_run(root: Path, mock, openai_key: str, keepa_key: str, items: int) -> dict:
    """``harness run --target real`` with every output in ``root``; returns what was seen."""
    wd = write_scenario(root, _scenario(mock.url("openai"), mock.url("keepa")),
                        [{"id": f"B00{i:05d}", "text": f"product {i}"} for i in range(items)])
    port = _free_port()
    env = {**os.environ, "CANARY_OPENAI_KEY": openai_key, "CANARY_KEEPA_KEY": keepa_key,
           "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    out, err = root / "captured-stdout.txt", root / "captured-stderr.txt"
    cmd = harness_cmd("run", str(wd.scenario), "--target", "real", "--metrics-port", str(port),
                      "--summary-json", str(wd.summary), "--output", str(wd.output),
                      "--checkpoint", str(wd.checkpoint))
    metrics: list[str] = []
    wal = wd.checkpoint.with_name(wd.checkpoint.name + "-wal")
    with out.open("w") as fo, err.open("w") as fe:
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env, cwd=REPO)
        deadline = time.monotonic() + 60
        n = 0
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                metrics.append(http_get(f"http://127.0.0.1:{port}/metrics", timeout=2))
            except OSError:
                pass
            if wal.exists():  # the journal while it is live (it is folded in and removed at the end)
                n += 1
                (root / f"wal-snapshot-{n}.bin").write_bytes(wal.read_bytes())
            time.sleep(0.1)
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    for i, text in enumerate(metrics):
        (root / f"scraped-metrics-{i}.txt").write_text(text)
    return {"returncode": proc.returncode, "wd": wd, "metrics": metrics, "stdout": out.read_text(),
            "stderr": err.read_text(), "wal_snapshots": n}


def test_canary_keys_appear_in_no_file_log_metric_or_output(tmp_path, mock_server):
    mock = mock_server(["openai", "keepa"], time_scale=1.0, seed=5, sets=MOCK_SETS)
    token = uuid.uuid4().hex
    openai_key, keepa_key = f"sk-canary-{token}", f"canary{token[::-1]}"
    canaries = [openai_key, keepa_key, token, token[::-1]]

    # the search finds a canary wherever it is, binary files included
    control = tmp_path / "control"
    control.mkdir()
    (control / "x.sqlite-wal").write_bytes(b"\x00\x01" + keepa_key.encode() + b"\xff")
    assert _leaks(control, canaries) == ["x.sqlite-wal: " + keepa_key, "x.sqlite-wal: " + token[::-1]]

    # 1. valid keys: items done, through injected 500s, resets, hangs and malformed bodies
    ok = _real_run(tmp_path / "valid", mock, openai_key, keepa_key, items=40)
    assert ok["returncode"] == 0, ok["stderr"]
    summary = ok["wd"].summary_data()
    assert summary["target"] == "real" and summary["items_total"] == 40
    assert summary["items_done"] >= 38, summary  # five attempts each; the rest fail with a reason
    assert sum(summary["retries_by_reason"].values()) > 0, summary  # error paths were taken
    assert [r for r in ok["wd"].rows() if r["status"] == "done" and not (r["answer"] and r["title"])] == []
    assert any(metric_sum(t, "harness_requests_total") > 0 for t in ok["metrics"]), "no scrape during the run"
    assert ok["wal_snapshots"] > 0

    # 2. keys the mock refuses: OpenAI's 401 echoes the key, masked, into every item's reason
    bad = _real_run(tmp_path / "invalid", mock, "invalid-" + openai_key, "invalid-" + keepa_key, items=10)
    assert bad["returncode"] == 0, bad["stderr"]
    rows = bad["wd"].rows()
    assert len(rows) == 10 and all(r["status"] == "failed" for r in rows)
    masked = "inv****" + openai_key[-4:]
    assert all(r["error"].startswith("client_error after 1 attempt: HTTP 401: Incorrect API key provided: "
                                     + masked) for r in rows), rows[0]

    leaks = _leaks(tmp_path / "valid", canaries) + _leaks(tmp_path / "invalid", canaries)
    assert leaks == [], leaks
    for run in (ok, bad):
        for text in (run["stdout"], run["stderr"], *run["metrics"]):
            assert not any(c in text for c in canaries)
        assert "Traceback" not in run["stderr"]


def test_invalid_scenario_exits_2_naming_the_field(tmp_path):
    wd = write_scenario(tmp_path, {"targets": {"api": {"profile": "research"}},
                                   "steps": [{"name": "s", "target": "api", "path": "/v1/research"}],
                                   "workers": 0, "retry": {"max_attempts": 3, "backoff": 2}}, 3)
    proc = run_cli(["run", str(wd.scenario), "--quiet"], timeout=30)
    assert proc.returncode == 2
    assert "workers: Input should be greater than or equal to 1 (got 0)" in proc.stderr
    assert "retry.backoff: Extra inputs are not permitted" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout

    wd = write_scenario(tmp_path / "b", {"targets": {"api": {"profile": "research"}},
                                         "steps": [{"name": "s", "target": "nowhere", "path": "/v1/research"}]}, 3)
    proc = run_cli(["run", str(wd.scenario), "--quiet"], timeout=30)
    assert proc.returncode == 2
    assert "steps.0.target: 'nowhere' is not one of the targets (api)" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_unreachable_endpoint_ends_with_a_clear_message_within_10_seconds(tmp_path):
    port = _free_port()  # bound then closed: nothing listens there
    wd = write_scenario(tmp_path, {
        "targets": {"api": {"profile": "research", "base_url": f"http://127.0.0.1:{port}", "api_key_env": "K"}},
        "steps": [{"name": "s", "target": "api", "path": "/v1/research"}]}, 3)
    t0 = time.monotonic()
    proc = run_cli(["run", str(wd.scenario), "--target", "real", "--quiet"], env={"K": "sk-test"}, timeout=30)
    took = time.monotonic() - t0
    assert took < 10, took
    assert proc.returncode == 2
    assert re.search(rf"cannot reach target 'api' at http://127\.0\.0\.1:{port} .*[Rr]efused", proc.stderr), \
        proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not wd.output.exists()


def test_missing_key_variable_exits_2_with_a_message(tmp_path):
    wd = write_scenario(tmp_path, {
        "targets": {"api": {"profile": "research", "base_url": "http://127.0.0.1:9",
                            "api_key_env": "HARNESS_TEST_NO_SUCH_KEY"}},
        "steps": [{"name": "s", "target": "api", "path": "/v1/research"}]}, 3)
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_TEST_NO_SUCH_KEY"}
    proc = subprocess.run(harness_cmd("run", str(wd.scenario), "--target", "real", "--quiet"), capture_output=True,
                          text=True, env=env, timeout=30, cwd=REPO)
    assert proc.returncode == 2
    assert "environment variable HARNESS_TEST_NO_SUCH_KEY is not set or empty" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
