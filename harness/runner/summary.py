"""The typed summary of a finished run (what ``harness run --summary-json`` writes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class RunSummary:
    """What a run did, in real (profile) time; ``extra`` keeps keys this version does not know."""

    items_total: int
    items_done: int
    items_failed: int
    items_this_run: int
    requests: int
    requests_by_outcome: dict[str, int]
    retries_by_reason: dict[str, int]
    failure_reasons: dict[str, int]
    rate_limited_ratio: float
    time_scale: float
    duration_wall_seconds: float
    duration_real_seconds: float
    items_per_second_real: float
    requests_per_second_real: float
    latency_real_seconds: dict[str, float]
    peak_in_flight: int
    tokens: dict[str, int]
    cost_dollars: float
    bytes: dict[str, int]
    stop_reason: str | None = None
    run_id: str = ""
    scenario: str = ""
    target: str = "mock"
    workers: int = 0
    output: str = ""
    checkpoint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunSummary":
        known = {f.name for f in fields(cls)} - {"extra"}
        return cls(**{k: v for k, v in data.items() if k in known},
                   extra={k: v for k, v in data.items() if k not in known})

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(d.pop("extra"))
        return d
