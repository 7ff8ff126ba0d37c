"""Helpers for end-to-end runner tests: write a scenario and its input into a folder, run
``harness run`` (in-process through :func:`harness.runner.run.execute`, or as a subprocess), and
read back what it produced (output rows, summary, per-item completion times).

Everything runs against 127.0.0.1 only, and every run and poll is bounded in time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Workdir:
    """A scenario, its input and where its outputs go, all under one folder."""

    root: Path
    scenario: Path
    input: Path
    output: Path
    checkpoint: Path
    summary: Path

    def rows(self) -> list[dict]:
        return [json.loads(line) for line in self.output.read_text().splitlines() if line.strip()]

    def summary_data(self) -> dict:
        return json.loads(self.summary.read_text())


def write_scenario(root: Path, doc: dict[str, Any], rows: int | Sequence[dict], name: str = "run") -> Workdir:
    """Write ``doc`` as ``<name>.yaml`` and the input rows as JSONL (``rows`` an int means
    ``{"id": "item-0"}``, ... that many) under ``root``; output and checkpoint paths in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    inp = root / f"{name}-input.jsonl"
    with inp.open("w") as f:
        items = ({"id": f"item-{i}", "text": f"row {i}"} for i in range(rows)) if isinstance(rows, int) else rows
        for row in items:
            f.write(json.dumps(row) + "\n")
    doc = {"name": name, **doc}
    doc.setdefault("input", {"path": inp.name, "id": "id"})
    output = root / f"{name}-output.jsonl"
    doc["output"] = {"path": output.name, **doc.get("output", {})}  # relative to the scenario: in root
    scenario = root / f"{name}.yaml"
    scenario.write_text(yaml.safe_dump(doc, sort_keys=False))
    # the runner's default checkpoint: OUTPUT.checkpoint.sqlite
    return Workdir(root, scenario, inp, output, root / f"{output.name}.checkpoint.sqlite",
                   root / f"{name}-summary.json")


def research_scenario(**rest: Any) -> dict[str, Any]:
    """A scenario of one call per item to the ``research`` REST profile, its answer's id kept
    (``rest``: workers, timeout, retry, mock, ...)."""
    return {
        "targets": {"api": {"profile": "research"}},
        "steps": [{"name": "research", "target": "api", "path": "/v1/research",
                   "json": {"company": "{{ row.id }}", "contact": "{{ row.text }}"},
                   "keep": {"research_id": "{{ response.id }}"}}],
        "output": {"columns": ["id", "status", "error", "research_id"]},
        **rest,
    }


@dataclass
class InProcessRun:
    summary: dict
    finish_times: list[float]  # time.perf_counter() of each finished item, in finishing order
    started: float
    ended: float


def run_in_process(wd: Workdir, *, target: str = "mock", time_scale: float = 1.0, workers: int | None = None,
                   metrics_port: int | None = None, monkeypatch=None) -> InProcessRun:
    """Run the scenario through :func:`harness.runner.run.execute` in this process, recording the
    moment each item finishes (the runner's own ``RunStats.item_finished`` bookkeeping)."""
    from harness.runner.config import RunConfig
    from harness.runner.run import execute
    from harness.scenario import load_scenario
    from harness.runner.stats import RunStats

    times: list[float] = []
    original = getattr(RunStats.item_finished, "_unrecorded", RunStats.item_finished)

    def recording(self, status, reason):
        times.append(time.perf_counter())
        return original(self, status, reason)

    recording._unrecorded = original  # type: ignore[attr-defined]

    assert monkeypatch is not None, "pass pytest's monkeypatch fixture"
    monkeypatch.setattr(RunStats, "item_finished", recording)
    loaded = load_scenario(wd.scenario)
    config = RunConfig(input=wd.input, output=wd.output, checkpoint=wd.checkpoint, workers=workers,
                       time_scale=time_scale, target=target, metrics_port=metrics_port,  # type: ignore[arg-type]
                       quiet=True, summary_json=wd.summary)
    t0 = time.perf_counter()
    summary = execute(loaded, config)
    return InProcessRun(summary, times, t0, time.perf_counter())


@contextmanager
def foreground_priority() -> Iterator[bool]:
    """Give this thread, and every process and thread it starts meanwhile (the mock, a runner
    subprocess, scrapers), real-time (SCHED_FIFO, lowest) priority when the OS allows it;
    yields whether it did.

    Timed acceptance tests need it on a shared machine: other jobs' CPU load otherwise decides
    when the runner and the mock get a core, not the runner. It changes who runs first, never
    how much work is done; CPU use is the same, and Linux keeps 5% of each core for others.
    Where it is not allowed (no CAP_SYS_NICE), the tests run at normal priority."""
    try:
        old = (os.sched_getscheduler(0), os.sched_getparam(0))
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (AttributeError, OSError):
        yield False
        return
    try:
        yield True
    finally:
        os.sched_setscheduler(0, old[0], old[1])


@contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``where`` (created here) with mount ``options`` (``size=2m``,
    ``size=1m,ro``), lazily unmounted after: real disk-full and read-only places, root only."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.fail("this test mounts a tmpfs: it needs root and mount(8)")
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def harness_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", *args]


def run_cli(args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 60.0,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``harness ARGS`` as a subprocess, output captured; bounded by ``timeout``."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", **(env or {})}
    return subprocess.run(harness_cmd(*args), capture_output=True, text=True, env=full_env, timeout=timeout,
                          cwd=cwd or REPO)


def http_get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", re.M)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus text format -> [(name, labels, value)]."""
    out = []
    for m in _SAMPLE.finditer(text):
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def metric_sum(text: str, name: str, **match: str) -> float:
    return sum(v for n, labels, v in parse_metrics(text) if n == name
               and all(labels.get(k) == want for k, want in match.items()))


@dataclass
class Scraper:
    """Scrapes a /metrics URL every ``interval`` seconds in a thread, and once more when the
    ``running()`` block ends: [(perf_counter, text)], the time when the answer was read.
    ``spans[i]`` is (sent, read) of ``samples[i]``: the server's counts are of some instant
    in between, so a test that times rates can keep to the scrapes that came back quickly."""

    url: str
    interval: float = 0.25
    limit_seconds: float = 120.0
    samples: list[tuple[float, str]] = field(default_factory=list)
    spans: list[tuple[float, float]] = field(default_factory=list)
    errors: int = 0

    def _scrape(self) -> None:
        sent = time.perf_counter()
        text = http_get(self.url, timeout=2.0)
        done = time.perf_counter()
        self.samples.append((done, text))
        self.spans.append((sent, done))

    def _loop(self, stop: threading.Event) -> None:
        deadline = time.monotonic() + self.limit_seconds
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                self._scrape()
            except OSError:
                self.errors += 1
            stop.wait(self.interval)

    @contextmanager
    def running(self) -> Iterator["Scraper"]:
        stop = threading.Event()
        thread = threading.Thread(target=self._loop, args=(stop,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(5.0)
            try:  # and one after the block, so the last sample sees the end of the run
                self._scrape()
            except OSError:
                self.errors += 1
