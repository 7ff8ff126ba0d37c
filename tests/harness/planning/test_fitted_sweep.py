"""A sweep on the fitted profile predicts the sweep on the true profile (issue 12, "Done when" 1):
measured sweeps, not two model predictions.

A rehearsal of 500 items runs against a mock serving ``scenarios/examples/openai-rehearsal.yaml``'s
true profile (its ``mock:`` overrides; ``harness calibrate`` is never told them), the checkpoint is
calibrated, and the same ``harness sweep`` (8, 24, 64 workers, 150 items each; 64 is paced by the
request limit the runner learns from the headers) runs on the true and on the fitted profile.

Robust on a loaded machine: both sweeps draw the mock's latencies from the same seed (common random
numbers: they differ by the profiles alone, not by their samples), run at the same time (a load
that comes and goes delays both alike) and are compared in profile time and in request counts. The
rehearsal runs at a time scale where a call lasts ~1 s of wall time, so the few ms a busy machine
adds to each call stay ~1% of the fitted latency.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from harness.runner.mockproc import start_mock_for
from harness.scenario import load_scenario

REPO = Path(__file__).resolve().parents[3]
SCENARIO = REPO / "scenarios" / "examples" / "openai-rehearsal.yaml"
WORKERS = "8,24,64"
SWEEP = ["--workers", WORKERS, "--items", "500", "--sample", "150", "--time-scale", "0.05", "--seed", "3"]
BAR = 0.05


def _harness(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def _rehearse(tmp_path: Path) -> Path:
    """The scenario against a seeded mock of its true profile, as a copy pointing at that mock."""
    doc = yaml.safe_load(SCENARIO.read_text())
    doc["input"]["path"] = str(SCENARIO.parent / doc["input"]["path"])
    doc["output"]["path"] = str(tmp_path / "rehearsal.jsonl")
    with start_mock_for(load_scenario(SCENARIO), 0.25, seed=7) as mock:
        doc["targets"]["openai"]["mock_url"] = mock.url("openai")
        rehearsal = tmp_path / "openai-rehearsal.yaml"
        rehearsal.write_text(yaml.safe_dump(doc, sort_keys=False))
        _harness("run", str(rehearsal), "--time-scale", "0.25", "--quiet")
    return tmp_path / "rehearsal.jsonl.checkpoint.sqlite"


def _sweeps(true_scenario: Path, fitted_scenario: Path, tmp_path: Path) -> tuple[dict, dict]:
    """Both sweeps at once, so the machine's load is the same for both."""
    procs = {}
    for name, scenario in (("true", true_scenario), ("fitted", fitted_scenario)):
        procs[name] = subprocess.Popen([sys.executable, "-m", "harness", "sweep", str(scenario), *SWEEP,
                                        "--out", str(tmp_path / name)], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, cwd=REPO)
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"sweep on the {name} profile: {out[-2000:]}{err[-3000:]}"
    return tuple(json.loads((tmp_path / name / "report.json").read_text()) for name in ("true", "fitted"))


def test_sweep_on_the_fitted_profile_matches_the_sweep_on_the_true_one(tmp_path):
    checkpoint = _rehearse(tmp_path)
    _harness("calibrate", str(checkpoint), "--out", str(tmp_path / "cal" / "openai.yaml"))
    fitted = tmp_path / "cal" / "openai-rehearsal.calibrated.yaml"
    fitted_doc = yaml.safe_load(fitted.read_text())
    got = yaml.safe_load((tmp_path / "cal" / "openai.yaml").read_text())["models"]["gpt-4o-mini"]
    print(f"  fitted: latency {got['latency']}, output tokens {got['output_tokens']}")
    assert not fitted_doc.get("mock"), "the calibrated scenario must not carry the true profile's overrides"
    true_report, fitted_report = _sweeps(SCENARIO, fitted, tmp_path)
    errors = {}
    for t, f in zip(true_report["points"], fitted_report["points"]):
        assert t["workers"] == f["workers"]
        mt, mf = t["measured"], f["measured"]
        # the same requests, all answered, none refused: the learnt limit paced both alike
        assert mt["requests"] == mf["requests"] == mt["sample_items"] == 150, (mt, mf)
        assert mt["requests_by_outcome"] == mf["requests_by_outcome"] == {"ok": 150}
        errors[t["workers"]] = mf["items_per_s"] / mt["items_per_s"] - 1
        print(f"  {t['workers']} workers: measured {mt['items_per_s']:.3f} items/s on the true profile, "
              f"{mf['items_per_s']:.3f} on the fitted one ({errors[t['workers']]:+.2%}); model "
              f"{t['items_per_s']:.3f} and {f['items_per_s']:.3f}")
    assert sorted(errors) == [8, 24, 64]
    bad = {w: e for w, e in errors.items() if abs(e) > BAR}
    assert not bad, f"measured throughput on the fitted vs the true profile, by workers: {errors}"
