"""Running the shipped locustfiles (harness/locust_support/locustfiles) headless as subprocesses, on loopback only,
each bounded by its own -t (or shape) and a subprocess timeout."""

from __future__ import annotations

import csv
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[2]

def _locust() -> str:
    """The locust script beside the interpreter running the tests (its venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("locust")
    if beside.exists():
        return str(beside)
    found = shutil.which("locust")
    if found is None:
        raise RuntimeError("locust is not installed: pip install -e '.[dev]' (make venv does it)")
    return found


LOCUST = _locust()
LOCUSTFILES = ROOT / "harness" / "locust_support" / "locustfiles"  # shipped in the package


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def locust_cmd(locustfile: str, host: str, *args: str) -> list[str]:
    assert host.startswith("http://127.0.0.1:"), "load tests run against loopback only"
    return [LOCUST, "-f", str(LOCUSTFILES / locustfile), "--host", host, "--headless", "--only-summary",
            "--loglevel", "WARNING", *args]


def run_locust(locustfile: str, host: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run to the end; exit status 1 (some requests failed) is expected when 429s are the point."""
    proc = subprocess.run(locust_cmd(locustfile, host, *args), capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


_SAMPLE = re.compile(r'^(\w+)\{([^}]*)\} (\S+)$')


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            out.append((m.group(1), labels, float(m.group(3))))
    return out


def metric_sum(samples, name: str, **labels: str) -> float:
    return sum(v for n, ls, v in samples if n == name and all(ls.get(k) == x for k, x in labels.items()))


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return parse_metrics(resp.read().decode())


def mock_requests(base_url: str, provider: str) -> float:
    return metric_sum(scrape(base_url + "/metrics"), "mock_requests_total", provider=provider)


def final_stats(prefix: Path) -> dict[tuple[str, str], dict]:
    """Locust's final stats (``--json-file PREFIX``) by (type, name); the CSVs are written
    every second while running, so only this file has the last second's requests."""
    import json

    return {(e["method"], e["name"]): e for e in json.loads(Path(f"{prefix}.json").read_text())}
