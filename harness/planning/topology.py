"""How the work is laid out across machines, and what that costs: static chunks vs a shared queue,
processes x requests in flight per process.

A **shared queue** (the local engine, or Celery chunks of one item) hands the next item to
whichever worker is free: the batch ends when the last item does. **Static chunks** (seed 001:
8 Celery tasks of 125 products, each run sequentially) fix each process's share up front: a
wave of chunks ends when its slowest chunk does (the makespan), and a process that finishes
early idles instead of helping. Shared limits pace all running chunks together either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the planner imports this module; this one only needs its model's methods
    from harness.planning.planner import CapacityModel

__all__ = ["Topology", "TopologyPrediction", "predict_topology"]


@dataclass(frozen=True)
class Topology:
    processes: int = 1
    workers_per_process: int = 1          # requests (items) in flight in each process
    chunk_size: int | None = None         # None: a shared queue; else static chunks of this many items

    def __post_init__(self) -> None:
        if self.processes < 1 or self.workers_per_process < 1:
            raise ValueError(f"processes and workers_per_process must be >= 1, got {self.processes}, "
                             f"{self.workers_per_process}")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")

    @property
    def workers(self) -> int:
        return self.processes * self.workers_per_process

    @property
    def kind(self) -> str:
        return "shared queue" if self.chunk_size is None else f"static chunks of {self.chunk_size}"


@dataclass
class TopologyPrediction:
    topology: Topology
    items: int
    duration_s: float
    shared_queue_s: float                 # the same processes x workers fed from one queue
    chunks: int
    waves: int
    binding: str

    @property
    def static_cost(self) -> float:
        """Extra time static chunks take over a shared queue, as a share of the queue's time."""
        return self.duration_s / self.shared_queue_s - 1.0 if self.shared_queue_s > 0 else 0.0

    def describe(self) -> str:
        t = self.topology
        head = (f"{t.processes} processes x {t.workers_per_process} in flight, {t.kind}: "
                f"{self.duration_s:,.0f} s ({self.binding})")
        if t.chunk_size is None:
            return head
        return (f"{head}; a shared queue would take {self.shared_queue_s:,.0f} s, so the static chunks cost "
                f"{self.static_cost:+.1%} ({self.chunks} chunks in {self.waves} wave{'s' if self.waves > 1 else ''}, "
                "each ending with its slowest chunk)")


def _expected_max_std_normal(k: int) -> float:
    """E[max of k independent standard normals] (0 for k = 1)."""
    if k <= 1:
        return 0.0
    nd, grid = NormalDist(), 400
    return sum(nd.inv_cdf((i + 0.5) / grid) * k * ((i + 0.5) / grid) ** (k - 1) / grid for i in range(grid))


def predict_topology(model: "CapacityModel", topology: Topology, items: int) -> TopologyPrediction:
    """The batch's duration on ``topology``, next to a shared queue on the same processes."""
    queue = model.predict(topology.workers, items)
    if topology.chunk_size is None or items <= 0:
        return TopologyPrediction(topology, items, queue.duration_s, queue.duration_s, 1, 1, queue.binding)
    size, w = topology.chunk_size, topology.workers_per_process
    t_item = model.item_time()
    sd_item = max(0.0, (model.item_time_quantile(1.0) - model.item_time_quantile(-1.0)) / 2)
    sizes = [min(size, items - i) for i in range(0, items, size)]
    waves = [sizes[i:i + topology.processes] for i in range(0, len(sizes), topology.processes)]
    total, bound_by = 0.0, set()
    for wave in waves:
        # each chunk on its own: its items at w in flight, the slowest of the wave ends it
        longest = max(wave)
        mean = (longest - min(w, longest)) / w * t_item + model.expected_max_item_time(min(w, longest))
        chunk_t = mean + sd_item * math.sqrt(longest / w) * _expected_max_std_normal(len(wave))
        # the wave's items together under the shared limits (as the model paces a whole batch)
        limits_t = max((c.time_for(sum(wave)) + t_item for c in model.constraints()), default=0.0)
        if limits_t > chunk_t:
            bound_by.add("shared limits")
        else:
            bound_by.add("slowest chunk")
        total += max(chunk_t, limits_t)
    binding = " and ".join(sorted(bound_by)) if bound_by else queue.binding
    return TopologyPrediction(topology, items, total, queue.duration_s, len(sizes), len(waves), binding)
