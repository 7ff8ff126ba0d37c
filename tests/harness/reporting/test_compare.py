"""`harness compare`: the document's profile is contradicted by a run on a different API, the
profile calibrated from that run is not, and every load-spec figure has predicted, measured
and error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from harness.runner.mockproc import start_mock

REPO = Path(__file__).resolve().parents[3]


def _harness(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def test_compare_names_the_contradicted_fields_and_the_calibrated_profile_fits(tmp_path):
    sets = ["cardgenius.latency.median=1.5", "cardgenius.latency.p99=4.0",
            "cardgenius.endpoints.recommend.response_bytes=20000"]
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": f"u{i}"}) + "\n" for i in range(400)))
    with start_mock(["cardgenius"], sets=sets, time_scale=0.1, seed=3) as mock:
        doc = {"name": "cg", "input": {"path": str(inp), "id": "id"}, "output": {"path": str(tmp_path / "out.jsonl")},
               "targets": {"cardgenius": {"profile": "cardgenius", "mock_url": mock.url("cardgenius")}},
               "steps": [{"name": "recommend", "target": "cardgenius", "method": "POST",
                          "path": "/v1/recommendations", "json": {"user": "{{ row.id }}"}}],
               "workers": 20}
        scenario = tmp_path / "cg.yaml"
        scenario.write_text(yaml.safe_dump(doc))
        run = _harness("run", str(scenario), "--time-scale", "0.1", "--quiet")
        assert run.returncode == 0, run.stderr[-2000:]
    ckpt = tmp_path / "out.jsonl.checkpoint.sqlite"

    doc_cmp = _harness("compare", str(scenario), str(ckpt), "--out", str(tmp_path / "vs-doc.md"))
    assert doc_cmp.returncode == 1, doc_cmp.stdout + doc_cmp.stderr  # the document's profile is contradicted
    report = json.loads((tmp_path / "vs-doc.json").read_text())
    assert {"cardgenius.latency.median", "cardgenius.latency.p99",
            "cardgenius.endpoints.recommend.response_bytes"} <= set(report["contradicted"])
    rows = {r["figure"]: r for r in report["figures"]}
    assert rows["response_bytes"]["predicted"] == 35000
    assert abs(rows["response_bytes"]["measured"] / 20000 - 1) < 0.02
    assert rows["response_bytes"]["error"] < -0.4  # 20 KB measured vs 35 KB planned

    cal = _harness("calibrate", str(ckpt), "--out", str(tmp_path / "cal" / "cardgenius.yaml"))
    assert cal.returncode == 0, cal.stderr[-2000:]
    fit_cmp = _harness("compare", str(tmp_path / "cal" / "cardgenius.yaml"), str(ckpt), "--json")
    assert fit_cmp.returncode == 0, fit_cmp.stdout[-3000:]
    fitted = json.loads(fit_cmp.stdout)
    assert fitted["contradicted"] == []
    rows = {r["figure"]: r for r in fitted["figures"]}
    for key in ("items_per_second", "sustained_rps", "response_bytes", "bandwidth_in_bps", "latency_seconds.p50"):
        assert abs(rows[key]["error"]) < 0.10, (key, rows[key])
    assert "capacity" not in " ".join(fitted["notes"])
