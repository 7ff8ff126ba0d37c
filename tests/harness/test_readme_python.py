"""The README's "Using it from Python" example runs as written (a real run on the mock)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _example() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Using it from Python", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_python_example_runs_and_prints_its_summary_and_plan():
    proc = subprocess.run([sys.executable, "-c", _example()], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"2000 done, 0 failed, [\d.]+ items/s in real time", lines[0]), proc.stdout
    assert float(lines[0].split(", ")[2].split()[0]) > 0, proc.stdout
    assert lines[1] == "1 workers: 0.37 items/s, 150.1 h, bound by concurrency (1 workers / 2.70s per item)"
    assert lines[2] == "20 workers: 7.40 items/s, 7.5 h, bound by concurrency (20 workers / 2.70s per item)"
