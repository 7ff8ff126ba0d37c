"""The typed summary of one run, as :func:`harness_run` returns it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator


@dataclass(frozen=True)
class Latency:
    """Request latency percentiles, real (profile) time, seconds."""

    p50: float
    p95: float
    p99: float


@dataclass(frozen=True)
class RunSummary:
    """What a run did: items, requests by outcome, rates in real time, latency; ``raw`` is the
    runner's own summary dictionary (``--summary-json``)."""

    items_total: int
    items_done: int
    items_failed: int
    requests: int
    requests_by_outcome: dict[str, int]
    rate_limited_ratio: float
    time_scale: float
    duration_wall_seconds: float
    duration_real_seconds: float
    items_per_second_real: float
    latency: Latency
    failure_reasons: dict[str, int]
    output: Path
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunSummary":
        lat = d.get("latency_real_seconds") or {}
        return cls(
            items_total=int(d["items_total"]), items_done=int(d["items_done"]), items_failed=int(d["items_failed"]),
            requests=int(d["requests"]), requests_by_outcome=dict(d.get("requests_by_outcome") or {}),
            rate_limited_ratio=float(d.get("rate_limited_ratio") or 0.0), time_scale=float(d["time_scale"]),
            duration_wall_seconds=float(d["duration_wall_seconds"]),
            duration_real_seconds=float(d["duration_real_seconds"]),
            items_per_second_real=float(d["items_per_second_real"]),
            latency=Latency(float(lat.get("p50", 0.0)), float(lat.get("p95", 0.0)), float(lat.get("p99", 0.0))),
            failure_reasons=dict(d.get("failure_reasons") or {}), output=Path(d["output"]), raw=dict(d),
        )

    @property
    def rate_limited(self) -> int:
        return int(self.requests_by_outcome.get("rate_limited", 0))

    def rows(self) -> Iterator[dict[str, Any]]:
        """The output rows (JSONL or CSV), in input order."""
        if self.output.suffix.lower() == ".csv":
            import csv

            with self.output.open(newline="") as f:
                yield from csv.DictReader(f)
            return
        with self.output.open() as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)
