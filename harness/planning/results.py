"""What the planner and the sweep produce, as plain types: presenters (reports, plots, the load
spec) import these, never the modules that compute them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from harness.planning.claims import Verdict
    from harness.scenario import LoadedScenario


Limit = Literal["rate", "capacity", "concurrency"]


@dataclass
class Constraint:
    """A limit on throughput: ``rate`` items per second after ``burst`` items at once. ``limit``
    says what it is: a rate limit (server's or ours), a server's capacity (past it requests
    queue), or the workers themselves; ``str()`` is how reports name it."""

    name: str
    rate: float
    burst: float = 0.0
    server_side: bool = True
    note: str = ""
    limit: Limit = "rate"
    start: float = 0.0  # seconds before it paces anything (a learnt limit: until the first answer)

    def __str__(self) -> str:
        return f"{self.name}: {self.note}" if self.note else self.name

    def time_for(self, items: int) -> float:
        if self.rate <= 0:
            return math.inf
        paced = max(0.0, items - self.burst)
        return (self.start if paced > 0 else 0.0) + paced / self.rate


@dataclass
class Prediction:
    workers: int
    items: int
    duration_s: float
    items_per_s: float
    binding: Constraint  # the one that sets the duration (see Constraint.limit)
    item_time_s: float
    requests_per_s: float
    peak_requests_per_s: float
    concurrency: float
    bandwidth_out_bps: float
    bandwidth_in_bps: float
    risk: str
    cost_total: float
    constraints: list[Constraint] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "constraints"}
        d["binding"] = str(self.binding)
        d["constraints"] = [c.__dict__ for c in self.constraints]
        return d


@dataclass
class Measured:
    sample_items: int
    wall_seconds: float
    duration_s: float  # extrapolated to the full item count, real time
    items_per_s: float  # steady throughput, real time
    summary: dict[str, Any]


@dataclass
class SweepPoint:
    workers: int
    predicted: Prediction
    measured: Measured | None = None
    claim: dict[str, Any] | None = None

    @property
    def error(self) -> float | None:
        """(measured - predicted) / predicted duration."""
        if self.measured is None or self.predicted.duration_s <= 0:
            return None
        return (self.measured.duration_s - self.predicted.duration_s) / self.predicted.duration_s


@dataclass
class SweepResult:
    scenario: str
    items: int
    time_scale: float
    points: list[SweepPoint] = field(default_factory=list)
    sequential: Prediction | None = None
    notes: list[str] = field(default_factory=list)

    def point(self, workers: int) -> SweepPoint | None:
        return next((p for p in self.points if p.workers == workers), None)


@dataclass
class Reproduction:
    """A seed document's table swept on the mocks, and a verdict on each of its claims."""

    result: "SweepResult"
    verdicts: "list[Verdict]" = field(default_factory=list)


def claimed_workers(loaded: "LoadedScenario") -> list[int]:
    """The worker counts of the document's table (``claims.table``)."""
    return sorted({int(r["workers"]) for r in (loaded.scenario.claims or {}).get("table") or [] if "workers" in r})
