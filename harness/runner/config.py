"""One run's settings as one value object, with named defaults (the scenario says the rest)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mock_servers.timescale import REAL_TIME, TimeScale

from harness.errors import ScenarioError

if TYPE_CHECKING:
    from harness.scenario import LoadedScenario

Target = Literal["mock", "real"]


@dataclass(frozen=True)
class RunConfig:
    """Where a run reads and writes, how hard it goes, and what it reports; validated once."""

    input: Path
    output: Path
    checkpoint: Path
    resume: bool = False
    workers: int | None = None
    time_scale: TimeScale = REAL_TIME  # a number is accepted and made a TimeScale (validated) here
    max_cost: float | None = None
    max_rps: float | None = None
    transport: str = "fast"
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    input_format: str | None = None
    output_format: str | None = None
    total_hint: int | None = None
    target: Target = "mock"
    quiet: bool = False
    summary_json: Path | None = None
    metrics: bool = True               # False: --no-metrics (a no-op metrics object)
    metrics_port: int | None = None
    metrics_addr: str = "127.0.0.1"    # 0.0.0.0 in a container, so Prometheus can reach it
    metrics_linger: float = 0.0        # keep /metrics up this long after the run (so it is scraped)
    pushgateway: str | None = None     # push the final metrics there (short runs)
    max_item_bytes: int | None = 10 * 1024 * 1024  # a larger input record fails, never sent
    unique_ids: bool = False           # refuse an input whose ids repeat (else a warning)
    breaker_threshold: int = 10        # consecutive connection failures that pause a target
    breaker_give_up: float = 60.0      # seconds of probing before the run stops (exit 3)
    retry_connection_failures: bool = True  # --resume runs items failed by connection errors again

    def __post_init__(self) -> None:
        if self.target not in ("mock", "real"):
            raise ScenarioError(f"--target must be 'mock' or 'real', got {self.target!r}")
        # "not > 0" refuses nan too; inf is allowed (a mock that never answers: signals still stop it)
        try:
            object.__setattr__(self, "time_scale", TimeScale.of(self.time_scale))
        except (TypeError, ValueError):
            raise ScenarioError(f"--time-scale must be a number > 0 (0.01 = 100x faster), got {self.time_scale}") \
                from None
        if self.max_rps is not None and not (self.max_rps > 0 and math.isfinite(self.max_rps)):
            raise ScenarioError(f"--max-rps must be a number > 0 (requests per second), got {self.max_rps}; "
                                "leave it out for no cap")
        if self.max_cost is not None and not (self.max_cost > 0 and math.isfinite(self.max_cost)):
            raise ScenarioError(f"--max-cost must be a number of dollars > 0, got {self.max_cost}")
        if self.metrics_port is not None and not 0 < self.metrics_port < 65536:
            raise ScenarioError(f"--metrics-port must be 1-65535, got {self.metrics_port}")
        if self.max_item_bytes is not None and self.max_item_bytes < 1:
            raise ScenarioError(f"--max-item-bytes must be >= 1, got {self.max_item_bytes}")
        if self.breaker_threshold < 1 or not self.breaker_give_up >= 0:
            raise ScenarioError("--breaker-after must be >= 1 and --breaker-give-up >= 0 seconds")
        if self.target == "real" and self.time_scale.compressed:
            raise ScenarioError("--time-scale applies to mocks only; a real API runs in real time")
        if not self.metrics and (self.metrics_port is not None or self.pushgateway):
            raise ScenarioError("--no-metrics cannot be combined with --metrics-port or --pushgateway")

    @classmethod
    def for_scenario(cls, loaded: "LoadedScenario", *, input: Path | str | None = None,
                     output: Path | str | None = None, checkpoint: Path | str | None = None,
                     **settings: Any) -> "RunConfig":
        """Paths default to the scenario's (``input.path``, ``output.path``) and the checkpoint
        to ``OUTPUT.checkpoint.sqlite``; ``settings`` are the other fields."""
        sc = loaded.scenario
        in_path = Path(input) if input is not None else loaded.resolve(sc.input.path)
        if in_path is None:
            raise ScenarioError("no input: give --input FILE or input.path in the scenario")
        out_path = Path(output) if output is not None else (loaded.resolve(sc.output.path)
                                                             or Path(f"{sc.name}-output.jsonl"))
        ckpt = Path(checkpoint) if checkpoint is not None else out_path.with_name(out_path.name + ".checkpoint.sqlite")
        settings.setdefault("input_format", sc.input.format)
        settings.setdefault("output_format", sc.output.format)
        return cls(input=in_path, output=out_path, checkpoint=ckpt, **settings)

    def replace(self, **changes: Any) -> "RunConfig":
        return replace(self, **changes)
