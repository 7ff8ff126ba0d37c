"""`harness failed` (and Checkpoint.open_existing), `harness reproduce` and `harness demo`,
run as a user runs them: subprocesses against the real mock, checked against what they write."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import orjson
import pytest

from harness.runner.checkpoint import Checkpoint, CheckpointError
from tests.harness.runutil import run_cli
from tests.runner_support import FAST_REST_SETS, ROOT

SEED003 = ROOT / "scenarios" / "seeds" / "003-cardgenius.yaml"

SCENARIO = """\
name: failing-rows
input: {{path: {input}, id: user_id}}
output: {{path: {output}}}
targets:
  api: {{profile: cardgenius, mock_url: {mock_url}}}
steps:
  - name: recommend
    target: api
    path: "/v1/{{{{ row.route }}}}"
    json: {{user_id: "{{{{ row.user_id }}}}"}}
workers: 3
retry: {{max_attempts: 3, base_delay: 0.01, max_delay: 0.1}}
"""

ROWS = [{"user_id": f"u{i}", "route": "nowhere" if i in (1, 4) else "recommendations", "n": i} for i in range(6)]


@pytest.fixture
def failed_run(tmp_path, mock_server) -> Path:
    """A finished run of 6 items, two of which (u1, u4) the API answers 404: its checkpoint."""
    mock = mock_server(["cardgenius"], sets=FAST_REST_SETS)
    data = tmp_path / "in.jsonl"
    data.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in ROWS))
    out, ckpt = tmp_path / "out.jsonl", tmp_path / "run.ckpt.sqlite"
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO.format(input=data, output=out, mock_url=mock.url("cardgenius")))
    r = run_cli(["run", str(scenario), "--quiet", "--checkpoint", str(ckpt)])
    assert r.returncode == 0, r.stderr
    assert "4 done, 2 failed of 6" in r.stdout
    return ckpt


def test_open_existing_reads_the_failed_items_with_their_reason(failed_run):
    ckpt = Checkpoint.open_existing(failed_run)
    try:
        failed = list(ckpt.failed())
        assert [(seq, item_id, attempts) for seq, item_id, _, attempts in failed] == [(1, "u1", 1), (4, "u4", 1)]
        reason = "client_error after 1 attempt: HTTP 404: Invalid URL (POST /v1/nowhere)"  # permanent: no retry
        assert [r for _, _, r, _ in failed] == [reason, reason]
        assert ckpt.counts() == {"done": 4, "failed": 2}
    finally:
        ckpt.close()


def test_harness_failed_exports_the_failed_input_rows(failed_run, tmp_path):
    dest = tmp_path / "failed.jsonl"
    r = run_cli(["failed", str(failed_run), "--output", str(dest)])
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == f"2 failed item(s) exported to {dest}"
    rows = [json.loads(line) for line in dest.read_text().splitlines()]
    assert [{k: v for k, v in row.items() if k != "_failed_reason"} for row in rows] == [ROWS[1], ROWS[4]]
    assert [row["_failed_reason"] for row in rows] == ["client_error after 1 attempt: HTTP 404: Invalid URL "
                                                       "(POST /v1/nowhere)"] * 2
    # to stdout, the same lines
    r = run_cli(["failed", str(failed_run)])
    assert r.returncode == 0 and r.stdout == dest.read_text()


def test_harness_failed_refuses_what_is_not_a_checkpoint(tmp_path):
    r = run_cli(["failed", str(tmp_path / "absent.sqlite")])
    assert r.returncode == 2 and f"checkpoint {tmp_path / 'absent.sqlite'} does not exist" in r.stderr
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database at all, just some text " * 20)
    r = run_cli(["failed", str(junk)])
    assert r.returncode == 2 and "is not a harness checkpoint" in r.stderr and "Traceback" not in r.stderr
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).execute("CREATE TABLE meta (key TEXT, value TEXT)").connection.commit()
    with pytest.raises(CheckpointError, match="has no fingerprint"):
        Checkpoint.open_existing(empty)


def _claims(report_dir: Path) -> dict[str, dict]:
    doc = json.loads((report_dir / "report.json").read_text())
    return {c["id"]: c for c in doc["claims"]}


def _check_seed003_report(report_dir: Path) -> None:
    """The verdicts the model gives seed 003 (docs/seeds.md's arithmetic), measured beside them."""
    claims = _claims(report_dir)
    doc = json.loads((report_dir / "report.json").read_text())
    assert sorted(p["workers"] for p in doc["points"]) == [1, 5, 10, 20, 50]
    assert claims["rps-20"]["status"] == "contradicted"
    assert claims["rps-20"]["model"] == pytest.approx(7.40, abs=0.02)
    assert "20 workers / 2.70 s per item = 7.4 req/s, not 13 req/s" in claims["rps-20"]["arithmetic"]
    assert claims["rps-1"]["status"] == "holds" and claims["rps-1"]["model"] == pytest.approx(0.37, abs=0.005)
    assert claims["latency"]["model"] == pytest.approx(2.7, abs=0.01)
    for p in doc["points"]:  # each worker count was run on the mock (its accuracy is the planner benchmark's)
        assert p["measured"]["sample_items"] > 0 and p["measured"]["items_failed"] == 0, p
        assert p["measured"]["items_per_s"] > 0 and p["measured"]["error_pct"] is not None, p
    md = (report_dir / "report.md").read_text()
    assert "7.4 req/s, not 13 req/s" in md
    for name in ("report.md", "report.json"):
        assert (report_dir / name).stat().st_size > 0


@pytest.mark.timeout(240)
def test_harness_reproduce_seed003(tmp_path):
    out = tmp_path / "repro"
    r = run_cli(["reproduce", str(SEED003), "--out", str(out), "--budget", "1"], timeout=220)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert f"report: {out}/" in r.stdout
    _check_seed003_report(out)
    assert list(out.glob("*.png")) and list(out.glob("*.svg"))


def test_harness_reproduce_refuses_a_scenario_without_a_claims_table(tmp_path):
    r = run_cli(["reproduce", str(ROOT / "scenarios" / "examples" / "cardgenius-users.yaml"), "--out", str(tmp_path)])
    assert r.returncode == 2 and "no claims.table with worker counts to reproduce" in r.stderr


@pytest.mark.timeout(240)
def test_harness_demo_writes_the_reproduction_and_the_load_spec(tmp_path):
    out = tmp_path / "demo"
    r = run_cli(["demo", "--out", str(out), "--budget", "1"], timeout=220)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    _check_seed003_report(out / "reproduction")
    spec = json.loads((out / "loadspec" / "load_spec.json").read_text())
    assert spec["concurrency"] == 20 and spec["sustained_rps"] == pytest.approx(7.4, abs=0.05)
    assert (out / "loadspec" / "LOAD_SPEC.md").exists() and (out / "loadspec" / "partner_notice.txt").exists()
    assert f"report: {out / 'reproduction'}/" in r.stdout.replace("\n", "")
