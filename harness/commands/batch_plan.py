"""The batch route next to a plan, for ``harness plan``, ``reproduce`` and ``loadspec``."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from harness.planning.batch_route import BatchRoute, parse_duration, plan_batch_route
from harness.planning.planner import CapacityModel, Prediction


def batch_route_for(model: CapacityModel, items: int, online: Sequence[Prediction], deadline: str | None = None,
                    budget: float | None = None) -> BatchRoute:
    """The batch route against the fastest online row (the best the runner can do)."""
    if budget is not None and budget <= 0:
        raise ValueError(f"--budget must be > 0 dollars, got {budget}")
    seconds = parse_duration(deadline) if deadline else None
    if seconds is not None and seconds <= 0:
        raise ValueError(f"--deadline must be > 0, got {deadline!r}")
    best = min(online, key=lambda p: (round(p.duration_s, 6), -p.workers))  # ties: the most workers
    return plan_batch_route(model, items, best, deadline=seconds, budget=budget)


def add_to_reports(route: BatchRoute, markdown: Path | None = None, json_path: Path | None = None) -> None:
    """The batch route as a section of a report or load spec already written (Markdown and JSON)."""
    import json

    from harness.reporting.batch_view import batch_markdown

    if markdown is not None and markdown.exists():
        markdown.write_text(markdown.read_text().rstrip("\n") + "\n\n" + batch_markdown(route))
    if json_path is not None and json_path.exists():
        doc = json.loads(json_path.read_text())
        doc["batch_route"] = route.as_dict()
        json_path.write_text(json.dumps(doc, indent=2, default=str))


def route_for_scenario(loaded, items: int, workers: Sequence[int]) -> BatchRoute:
    """The batch route of a scenario at its worker counts (for reproduce and loadspec)."""
    model = CapacityModel(loaded)
    return batch_route_for(model, items, [model.predict(w, items) for w in workers])
