"""`make demo 2>&1 | cat` shows every claim's arithmetic whole, at 80 and at 200 columns."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import WIDTHS


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("columns", WIDTHS)
def test_every_claims_arithmetic_is_shown_whole(demo_runs, columns):
    run = demo_runs[columns]
    claims = json.loads((run.folder / "reproduction" / "report.json").read_text())["claims"]
    assert len(claims) >= 30
    shown = _flat(run.output)
    missing = [c["id"] for c in claims if _flat(c["arithmetic"]) not in shown]
    assert not missing, f"arithmetic not shown whole for {missing}:\n{run.output[-4000:]}"
    # nothing wider than the console, no ellipsis standing in for cut text, no table cut at its edge
    lines = run.output.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= columns
    assert "…" not in run.output
    for c in claims:  # each verdict is printed with its claim
        assert f"{c['status']}  {c['id']}" in run.output


def test_speed_table_is_whole_at_both_widths(demo_runs):
    for columns in WIDTHS:
        doc = json.loads((demo_runs[columns].folder / "reproduction" / "report.json").read_text())
        shown = _flat(demo_runs[columns].output)
        for row in doc["table"]["rows"]:
            for cell in row:  # every cell, e.g. the binding constraint's whole sentence
                assert _flat(cell) in shown, (columns, cell)
