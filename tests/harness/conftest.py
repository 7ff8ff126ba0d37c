"""`make demo` run once per session at 80 and at 200 columns (in parallel, piped through cat as
a user would), for the console test and the headless-browser test of its HTML reports."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = (80, 200)


@dataclass(frozen=True)
class DemoRun:
    columns: int
    output: str  # stdout and stderr, as `make demo 2>&1 | cat` shows them
    folder: Path  # reproduction/ and loadspec/


@pytest.fixture(scope="session")
def demo_runs(tmp_path_factory) -> dict[int, DemoRun]:
    base = tmp_path_factory.mktemp("demo")
    # the virtualenv first, once: two makes must not both rebuild it
    made = subprocess.run(["make", "-s", "venv"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    procs = {}
    for width in WIDTHS:
        env = {**os.environ, "COLUMNS": str(width)}
        env.pop("TERM", None)
        cmd = f'make -s demo DEMO_ARGS="--budget 0.5 --out {base / str(width)}" 2>&1 | cat'
        procs[width] = subprocess.Popen(["bash", "-o", "pipefail", "-c", cmd], cwd=ROOT, env=env,
                                        stdout=subprocess.PIPE, text=True)
    runs = {}
    for width, proc in procs.items():
        out, _ = proc.communicate(timeout=420)
        assert proc.returncode == 0, out[-3000:]
        runs[width] = DemoRun(width, out, base / str(width))
    return runs
