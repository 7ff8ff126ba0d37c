"""Issue 14.5-7: refused up front with exit 2 and a message (never a traceback, never after the
whole run), one output per run, input edge cases named."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.harness.runutil import REPO, harness_cmd, run_cli, tmpfs, write_scenario

DOC = {"targets": {"cg": {"profile": "cardgenius"}},
       "steps": [{"name": "rec", "target": "cg", "method": "POST", "path": "/v1/recommendations",
                  "json": {"u": "{{ row.id }}"}}],
       "workers": 2}


@pytest.fixture(autouse=True)
def wide(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # typer's error box must not wrap the words looked for


@pytest.fixture
def readonly_dir(tmp_path: Path):
    """A read-only tmpfs: even root cannot write there (permission bits would not stop root)."""
    with tmpfs(tmp_path / "ro", "size=1m,ro") as d:
        yield d


def _refused(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    for w in words:
        assert w in proc.stderr, (w, proc.stderr[-2000:])


@pytest.mark.parametrize("args, words", [
    (["--time-scale", "nan"], ["--time-scale must be a number > 0", "nan"]),
    (["--time-scale", "-1"], ["--time-scale must be a number > 0"]),
    (["--max-rps", "0"], ["--max-rps must be a number > 0"]),
    (["--max-rps", "nan"], ["--max-rps must be a number > 0"]),
    (["--max-cost", "-1"], ["--max-cost must be a number of dollars > 0"]),
    (["--metrics-port", "70000"], ["--metrics-port", "65535"]),
])
def test_run_refuses_bad_numbers(tmp_path: Path, args: list[str], words: list[str]) -> None:
    wd = write_scenario(tmp_path, DOC, 3)
    _refused(run_cli(["run", str(wd.scenario), *args]), *words)
    assert not wd.output.exists()


@pytest.mark.parametrize("cmd", [["sweep"], ["reproduce"]])
def test_sweep_and_reproduce_refuse_nan_time_scale(cmd: list[str]) -> None:
    _refused(run_cli([*cmd, "scenarios/seeds/003-cardgenius.yaml", "--time-scale", "nan"]), "--time-scale")


def test_mock_refuses_bad_port_and_time_scale() -> None:
    _refused(run_cli(["mock", "--port", "70000"]), "--port", "65535")
    _refused(run_cli(["mock", "--time-scale", "nan"], timeout=20), "--time-scale must be a number > 0")


def test_unwritable_places_are_refused_before_the_run(tmp_path: Path, readonly_dir: Path) -> None:
    wd = write_scenario(tmp_path, DOC, 3)
    t0 = time.monotonic()
    _refused(run_cli(["run", str(wd.scenario), "--summary-json", str(readonly_dir / "s.json")]),
             "--summary-json", "cannot write in")
    assert not wd.output.exists()  # refused before the run, not after it
    _refused(run_cli(["run", str(wd.scenario), "--output", str(readonly_dir / "o.jsonl")]), "--output")
    _refused(run_cli(["sweep", "scenarios/seeds/003-cardgenius.yaml", "--out", str(readonly_dir / "rep")]),
             "--out", "cannot write in")
    assert time.monotonic() - t0 < 60
    ok = run_cli(["run", str(wd.scenario), "--quiet"])
    assert ok.returncode == 0, ok.stderr
    _refused(run_cli(["failed", str(wd.checkpoint), "--output", str(readonly_dir / "f.jsonl")]),
             "--output", "cannot write in")


def test_two_runs_cannot_write_one_output(tmp_path: Path) -> None:
    doc = {**DOC, "mock": {"cardgenius.latency.median": 0.05, "cardgenius.latency.p99": 0.1}}
    wd = write_scenario(tmp_path, doc, 300)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(harness_cmd("run", str(wd.scenario), "--quiet", "--checkpoint", str(tmp_path / "a.sqlite")),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 30
        while (not wd.output.exists() or wd.output.stat().st_size == 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        second = run_cli(["run", str(wd.scenario), "--quiet", "--checkpoint", str(tmp_path / "b.sqlite")])
        _refused(second, "is being written by another run")
        assert not (tmp_path / "b.sqlite").exists()
        first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0
    rows = [json.loads(line) for line in wd.output.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"item-{i}" for i in range(300)]


def test_duplicate_ids_warned_or_refused_and_a_broken_csv_row_named(tmp_path: Path) -> None:
    wd = write_scenario(tmp_path, DOC, [{"id": "a"}, {"id": "b"}, {"id": "a"}])
    warned = run_cli(["run", str(wd.scenario), "--quiet"])
    assert warned.returncode == 0 and "1 item(s) repeat an earlier id ('a')" in warned.stderr, warned.stderr
    for p in tmp_path.glob("run-output*"):
        p.unlink()
    _refused(run_cli(["run", str(wd.scenario), "--quiet", "--unique-ids"]), "repeat an earlier id")
    csv_in = tmp_path / "in.csv"
    csv_in.write_text('id,v\n1,a\n2,"broken\n3,c\n4,d\n')
    out = tmp_path / "out.jsonl"
    proc = run_cli(["run", str(wd.scenario), "--input", str(csv_in), "--output", str(out), "--quiet"])
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["status"]) for r in rows] == [("1", "done"), ("3", "failed"), ("3", "done"), ("4", "done")]
    assert rows[1]["error"].startswith("line 3: malformed CSV")  # the error item's id is its line
    assert "3 done, 1 failed of 4" in proc.stdout  # before: "of 2", rows 3 and 4 vanished


def test_huge_input_line_fails_its_item(tmp_path: Path) -> None:
    wd = write_scenario(tmp_path, DOC, [{"id": "a"}, {"id": "b", "blob": "x" * 200_000}, {"id": "c"}])
    proc = run_cli(["run", str(wd.scenario), "--quiet", "--max-item-bytes", "100000"])
    assert proc.returncode == 0, proc.stderr
    rows = wd.rows()
    assert [r["status"] for r in rows] == ["done", "failed", "done"]
    assert "over the 100,000-byte limit (--max-item-bytes)" in rows[1]["error"]
