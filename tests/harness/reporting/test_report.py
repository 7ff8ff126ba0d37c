"""Report tables (harness/report.py): Markdown and JSON with the model, measured and claimed."""

from __future__ import annotations

import json

from harness.planning.claims import Verdict
from harness.reporting.report import rows, to_json, to_markdown, write_report

from .test_plots import _result


def test_rows_speedup_and_error():
    r = _result()
    rs = rows(r)
    assert [x["workers"] for x in rs] == [1, 5, 20, 50]
    assert rs[0]["speedup"] == 1.0 and rs[0]["faster_pct"] == 0.0
    assert abs(rs[2]["measured"]["error_pct"] - 3.0) < 1e-6
    assert rs[2]["claim"]["duration_s"] == 100


def test_markdown_and_json(tmp_path):
    r = _result()
    v = [Verdict("rps-20", "requests_per_second", "statement", 20, 1000, 13, 7.4, 7.2, "req/s", "contradicted",
                 "20 workers / 2.70 s per item = 7.4 req/s, not 13 req/s", "~13 requests/second sustained")]
    md = to_markdown(r, v)
    assert "| workers | items/s | items/min | time for 1,000 | speed-up vs 1 | faster vs 1 | measured time | error | claimed |" in md
    assert "**contradicted**" in md and "not 13 req/s" in md
    assert "Largest model error: 3.0% (within the 10% bar)" in md
    doc = to_json(r, v)
    assert doc["claims_summary"]["contradicted"] == 1
    files = write_report(r, tmp_path / "rep", v)
    assert {p.name for p in files.values()} >= {"report.md", "report.json", "time.png", "time.svg",
                                                 "throughput.png", "throughput.svg", "latency.png", "latency.svg"}
    loaded = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert loaded["points"][0]["workers"] == 1 and loaded["claims"][0]["id"] == "rps-20"
    assert "![time](time.png)" in (tmp_path / "rep" / "report.md").read_text()
