"""`harness run --mode batch` through the mocked OpenAI Batch and Anthropic Message Batches
APIs: every row once and in order at the batch price; kill -9 while polling and --resume
never submits a batch twice (the mock counts the creates); an expired batch sends again only
what did not finish."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harness.runner.mockproc import start_mock
from mock_servers.profile import load_profile_data, shipped_profiles

REPO = Path(__file__).resolve().parents[3]
SCALE = 0.0005  # a 30-minute median turnaround takes 0.9 s

PROVIDERS = {
    "openai": {"path": "/v1/chat/completions", "model": "gpt-4o-mini", "create": "batches.create",
               "answer": "{{ response.choices[0].message.content[:12] }}",
               "tokens": "{{ response.usage.completion_tokens }}"},
    "anthropic": {"path": "/v1/messages", "model": "claude-haiku-4-5", "create": "messages.batches.create",
                  "answer": "{{ response.content[0].text[:12] }}", "tokens": "{{ response.usage.output_tokens }}"},
}


def _scenario(root: Path, provider: str, url: str, n: int, max_attempts: int = 4) -> Path:
    p = PROVIDERS[provider]
    inp = root / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": f"r{i:05d}", "prompt": f"describe product {i}"}) + "\n"
                           for i in range(n)))
    doc = {"name": f"{provider}-batch", "input": {"path": str(inp), "id": "id"},
           "output": {"path": str(root / "out.jsonl"), "columns": ["id", "status", "error", "answer", "tokens"]},
           "targets": {"llm": {"profile": provider, "mock_url": url}},
           "steps": [{"name": "ask", "target": "llm", "method": "POST", "path": p["path"],
                      "json": {"model": p["model"], "max_tokens": 60,
                               "messages": [{"role": "user", "content": "{{ row.prompt }}"}]},
                      "keep": {"answer": p["answer"], "tokens": p["tokens"]}}],
           "retry": {"max_attempts": max_attempts}}
    path = root / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _run(scenario: Path, *extra: str, wait: bool = True):
    cmd = [sys.executable, "-m", "harness", "run", str(scenario), "--mode", "batch", "--time-scale", str(SCALE),
           "--quiet", "--summary-json", str(scenario.with_name("summary.json")), *extra]
    if not wait:
        return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _creates(mock, provider: str) -> int:
    import urllib.request

    text = urllib.request.urlopen(f"{mock.base_url}/metrics", timeout=5).read().decode()
    name = PROVIDERS[provider]["create"]
    total = 0
    for line in text.splitlines():
        if line.startswith("mock_requests_total{") and f'endpoint="{name}"' in line and 'status="200"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def _journal(ckpt: Path) -> list[dict]:
    db = sqlite3.connect(f"file:{ckpt}?mode=ro", uri=True, timeout=5)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'batch_journal'").fetchone()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()
    return json.loads(row[0])["entries"] if row else []


def _check_rows(root: Path, n: int) -> list[dict]:
    rows = [json.loads(line) for line in (root / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"r{i:05d}" for i in range(n)]  # every row once, in input order
    return rows


def _batch_price(provider: str, summary: dict) -> float:
    data = load_profile_data(shipped_profiles()[provider])
    prices = {**data["prices"], **(data["models"][PROVIDERS[provider]["model"]].get("prices") or {})}
    full = (summary["tokens"]["input"] * prices["input_per_million"]
            + summary["tokens"]["output"] * prices["output_per_million"]) / 1e6
    return full * (1 - data["batch"]["discount"])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_20000_items_through_the_batch_api(tmp_path, provider):
    with start_mock([provider], time_scale=SCALE, seed=5) as mock:
        scenario = _scenario(tmp_path, provider, mock.url(provider), 20000)
        t0 = time.monotonic()
        _run(scenario, "--batch-size", "5000")
        wall = time.monotonic() - t0
        creates = _creates(mock, provider)
    rows = _check_rows(tmp_path, 20000)
    assert all(r["status"] == "done" and r["answer"] and r["tokens"] > 0 for r in rows)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["items_done"] == 20000 and summary["batches_submitted"] == 4 == creates
    assert summary["tokens"]["output"] == sum(r["tokens"] for r in rows)
    assert summary["cost_dollars"] == pytest.approx(_batch_price(provider, summary), rel=1e-3)
    print(f"\n{provider}: 20,000 items in 4 batches, {wall:.1f} s wall, ${summary['cost_dollars']:.4f} at the batch "
          "price")
    assert wall < 60


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_kill_while_polling_then_resume_submits_no_batch_twice(tmp_path, provider):
    sets = [f"{provider}.batch.turnaround.median=8000", f"{provider}.batch.turnaround.p99=12000"]  # 4-6 s wall
    with start_mock([provider], time_scale=SCALE, seed=9, sets=sets) as mock:
        scenario = _scenario(tmp_path, provider, mock.url(provider), 6000)
        ckpt = tmp_path / "out.jsonl.checkpoint.sqlite"
        proc = _run(scenario, "--batch-size", "2000", wait=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            entries = _journal(ckpt) if ckpt.exists() else []
            if len(entries) == 3 and all(e["state"] == "submitted" for e in entries):
                break
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            time.sleep(0.05)
        else:
            proc.kill()
            pytest.fail("the run never had its 3 batches submitted and polling")
        os.kill(proc.pid, signal.SIGKILL)  # while it polls
        proc.wait(timeout=10)
        assert _creates(mock, provider) == 3
        _run(scenario, "--resume", "--batch-size", "2000")
        creates = _creates(mock, provider)
        entries = _journal(ckpt)
    rows = _check_rows(tmp_path, 6000)
    assert all(r["status"] == "done" for r in rows)
    assert creates == 3 == len({e["id"] for e in entries}) == len(entries)  # none submitted twice


def test_an_expired_batch_sends_again_only_what_did_not_finish(tmp_path):
    # every batch takes twice the window: it expires with about half of its requests answered
    sets = ["openai.batch.turnaround.median=200", "openai.batch.turnaround.p99=200",
            "openai.batch.window_seconds=100"]
    with start_mock(["openai"], time_scale=0.01, seed=2, sets=sets) as mock:
        scenario = _scenario(tmp_path, "openai", mock.url("openai"), 1000, max_attempts=3)
        proc = subprocess.run([sys.executable, "-m", "harness", "run", str(scenario), "--mode", "batch",
                               "--time-scale", "0.01", "--quiet"], cwd=REPO, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        creates = _creates(mock, "openai")
    rows = _check_rows(tmp_path, 1000)
    entries = _journal(tmp_path / "out.jsonl.checkpoint.sqlite")
    assert [e["attempt"] for e in entries] == [1, 2, 3] and creates == 3
    done = [r for r in rows if r["status"] == "done"]
    failed = [r for r in rows if r["status"] == "failed"]
    assert entries[0]["n"] == 1000
    # each new batch holds exactly what the previous one left unanswered: about half of it
    n = [e["n"] for e in entries]
    answered = [n[0] - n[1], n[1] - n[2], n[2] - len(failed)]
    assert sum(answered) == len(done) and len(done) + len(failed) == 1000
    assert all(0.4 * k <= a <= 0.6 * k for k, a in zip(n, answered)), (n, answered)
    assert failed and all(re.match(r"unfinished after 3 batches", r["error"]) for r in failed)


def test_batch_mode_refuses_what_no_batch_api_takes():
    from typer.testing import CliRunner

    from harness.cli import app

    runner = CliRunner()
    seed002 = REPO / "scenarios" / "seeds" / "002-drive-claude.yaml"   # a function: download, then Claude
    res = runner.invoke(app, ["run", str(seed002), "--mode", "batch"])
    assert res.exit_code == 2 and "one declared step" in res.output
    seed003 = REPO / "scenarios" / "seeds" / "003-cardgenius.yaml"     # a REST partner API
    res = runner.invoke(app, ["run", str(seed003), "--mode", "batch"])
    assert res.exit_code == 2 and "only OpenAI and Anthropic" in res.output
    res = runner.invoke(app, ["run", str(seed003), "--mode", "fast"])
    assert res.exit_code == 2 and "--mode must be" in res.output
