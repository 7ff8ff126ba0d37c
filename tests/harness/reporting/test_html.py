"""report.html: written by loadspec and run --report, rebuilt by `harness report DIR`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from harness.reporting.html import inline_svg

ROOT = Path(__file__).resolve().parents[3]
SEED003 = ROOT / "scenarios" / "seeds" / "003-cardgenius.yaml"
runner = CliRunner()


def test_loadspec_page_is_rebuilt_the_same_by_harness_report(tmp_path):
    out = tmp_path / "ls"
    res = runner.invoke(app, ["loadspec", "--plan", str(SEED003), "--items", "2000000", "--workers", "20",
                              "--partner", "CardGenius", "--out", str(out)])
    assert res.exit_code == 0, res.output
    first = (out / "report.html").read_text()
    assert "<script" not in first and "<img" not in first and "http" not in first.split("<body>")[0]
    assert first.count("<svg") == 2 and "Sustained request rate" in first and "<table>" in first
    for name in ("report.html", "load.svg", "load.png", "claims.svg", "claims.png"):
        (out / name).unlink()
    res = runner.invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    rebuilt = (out / "report.html").read_text()
    strip = lambda html: html.split("</p>", 1)[1]  # noqa: E731 - past the "Generated <time>" line
    assert (out / "load.svg").exists() and strip(rebuilt).count("<svg") == 2
    assert strip(rebuilt).split("<svg")[0] == strip(first).split("<svg")[0]


def test_run_report_from_its_summary(tmp_path):
    rows = tmp_path / "in.jsonl"
    rows.write_text("".join(json.dumps({"id": i, "prompt": f"q{i}"}) + "\n" for i in range(15)))
    res = runner.invoke(app, ["run", str(ROOT / "scenarios" / "examples" / "openai-chat.yaml"), "--input", str(rows),
                              "--output", str(tmp_path / "out.jsonl"), "--time-scale", "0.01", "--quiet",
                              "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    page = (tmp_path / "rep" / "report.html").read_text()
    assert summary["items_done"] == 15 and "15 done, 0 failed of 15" in page
    assert page.count("<svg") == 1 and inline_svg(tmp_path / "rep" / "run.svg")[:200] in page


def test_a_folder_without_a_report_is_refused(tmp_path):
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "no report.json, load_spec.json or summary.json" in res.output
    assert runner.invoke(app, ["report", str(tmp_path / "nope")]).exit_code == 2
