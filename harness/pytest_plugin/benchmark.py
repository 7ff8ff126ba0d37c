"""``harness_benchmark``: a team's batch as a pytest-benchmark benchmark.

Each round runs the batch once and is timed by pytest-benchmark itself, so ``--benchmark-save``,
``--benchmark-compare`` and ``--benchmark-compare-fail=median:10%`` gate it like any benchmark
(a round taking longer is throughput lost). ``extra_info`` adds what the round's time does not
say: items/s in real time (wall time divided back by the mock's time scale), the share of
requests the mock answered 429 and the p95 latency, as plain keys and as the judged
``figures`` of the project's benchmark contract (``{"value", "unit", "better", "tolerance"}``).
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from harness.pytest_plugin.mock import MockServer, Received
from harness.runner.summary import RunSummary

DEFAULT_TOLERANCE = 0.10  # a relative regression of more than 10% fails a comparison


@dataclass(frozen=True)
class BatchFigures:
    """The judged figures of a benchmarked batch (medians over its rounds)."""

    items: int
    rounds: int
    items_per_s: float
    rate_limited_share: float
    p95_latency_s: float
    p95_source: str  # "client" (the batch's own latencies), "runner" (a harness run) or "none"


def _p95(values: Sequence[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(0.95 * len(ordered)) - 1))]


class HarnessBenchmark:
    """Wraps the ``benchmark`` fixture of pytest-benchmark for one test."""

    def __init__(self, benchmark: Any) -> None:
        self.benchmark = benchmark

    def __call__(self, batch: Callable[[], Any], *, items: int, mock: MockServer | None = None,
                 rounds: int = 3, warmup_rounds: int = 0, time_scale: float | None = None,
                 latencies: Callable[[Any], Sequence[float]] | None = None,
                 tolerance: float = DEFAULT_TOLERANCE) -> BatchFigures:
        """Benchmark ``batch()`` (one whole batch of ``items`` items per round).

        ``mock``: the mock it runs against (its time scale, and the 429s it answered per round).
        ``latencies(result)``: per-item (or per-request) wall seconds from what ``batch`` returned,
        for the p95; a :class:`RunSummary` result gives its own. The mock's buckets are refilled
        before each round (untimed), so every round starts from the same state.
        """
        if items < 1:
            raise ValueError(f"items must be >= 1, got {items}")
        scale = time_scale if time_scale is not None else (mock.time_scale if mock is not None else 1.0)
        before: list[Received] = []
        after: list[Received] = []
        results: list[Any] = []
        walls: list[float] = []

        def setup() -> None:  # untimed, before every round
            if mock is not None:
                mock.refill()
                before.append(mock.total())

        def teardown() -> None:  # untimed, after every round
            if mock is not None:
                after.append(mock.total())

        def one_round() -> Any:
            t0 = time.perf_counter()
            result = batch()
            walls.append(time.perf_counter() - t0)
            results.append(result)
            return result

        self.benchmark.pedantic(one_round, setup=setup, teardown=teardown, rounds=rounds,
                                warmup_rounds=warmup_rounds, iterations=1)
        skip = len(results) - rounds if len(results) > rounds else 0  # warm-up rounds (none when disabled)
        results, walls = results[skip:], walls[skip:]
        stats = getattr(self.benchmark, "stats", None)
        # pytest-benchmark's own median (what --benchmark-compare-fail judges); with
        # --benchmark-disable it times nothing, and the batch ran once: its own time
        wall = float(stats.stats.median) if stats is not None else statistics.median(walls)
        items_per_s = items / (wall / scale) if wall > 0 else math.inf
        shares = []
        for b, a in list(zip(before, after))[skip:]:
            sent = a.requests - b.requests
            shares.append((a.rate_limited - b.rate_limited) / sent if sent else 0.0)
        share = statistics.median(shares) if shares else math.nan
        p95s, source = [], "none"
        for result in results:
            if isinstance(result, RunSummary):
                p95s.append(float(result.latency_real_seconds.get("p95", math.nan)))
                source = "runner"
            elif latencies is not None:
                p95s.append(_p95(list(latencies(result))) / scale)
                source = "client"
        p95 = statistics.median(p95s) if p95s else math.nan
        figures = BatchFigures(items, len(results), items_per_s, share, p95, source)
        self._record(figures, scale, tolerance)
        return figures

    def _record(self, f: BatchFigures, scale: float, tolerance: float) -> None:
        info = self.benchmark.extra_info
        finite = lambda x: x if math.isfinite(x) else None  # noqa: E731 - saved JSON has no NaN
        info.update({"items": f.items, "time_scale": scale, "items_per_s": finite(f.items_per_s),
                     "rate_limited_share": finite(f.rate_limited_share), "p95_latency_s": finite(f.p95_latency_s),
                     "p95_source": f.p95_source})
        figures = {"items_per_s": {"value": f.items_per_s, "unit": "items/s", "better": "higher",
                                   "tolerance": tolerance}}
        if math.isfinite(f.rate_limited_share):
            figures["rate_limited_share"] = {"value": f.rate_limited_share, "unit": "ratio", "better": "lower",
                                             "tolerance": tolerance}
        if math.isfinite(f.p95_latency_s):
            figures["p95_latency_s"] = {"value": f.p95_latency_s, "unit": "s", "better": "lower",
                                        "tolerance": tolerance}
        info["figures"] = figures
