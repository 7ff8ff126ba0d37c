"""``harness_run``: a scenario, or an async item function, run to the end against a mock."""

from __future__ import annotations

import inspect
import itertools
import json
import sys
import types
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Iterator, Mapping

from harness.pytest_plugin import _api
from harness.pytest_plugin.mock import MockServer
from harness.runner.summary import RunSummary

ItemFunction = Callable[[dict[str, Any], Callable[..., Awaitable[Any]]], Awaitable[dict[str, Any] | None]]
_fn_ids = itertools.count(1)


class HarnessRunner:
    """Runs batches into its own folder (the test's ``tmp_path``): output, checkpoint, input rows."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self._runs = itertools.count(1)

    def __call__(self, scenario: Path | str | Mapping[str, Any], *, mock: MockServer | None = None,
                 rows: Iterable[Mapping[str, Any]] | None = None, input: Path | None = None,
                 workers: int | None = None, time_scale: float | None = None, transport: str = "fast") -> RunSummary:
        """Run a scenario (a YAML path or a mapping) on ``mock`` (or on a mock the runner starts),
        over ``rows``, ``input`` or the scenario's own input; returns the typed summary."""
        n = next(self._runs)
        source = dict(scenario) if isinstance(scenario, Mapping) else Path(scenario)
        loaded = _api.load_scenario(source, self.workdir)
        if mock is not None:
            for name, target in loaded.scenario.targets.items():
                served = loaded.profiles[name].name
                if target.mock_url is None and served in mock.providers:
                    target.mock_url = mock.url(served)
        scale = mock.time_scale if mock is not None else (time_scale if time_scale is not None else 1.0)
        if mock is not None and time_scale is not None and time_scale != mock.time_scale:
            raise ValueError(f"time_scale={time_scale:g} but the mock runs at {mock.time_scale:g}; leave it out")
        in_path = self._input(loaded, rows, input, n)
        out = self.workdir / f"run-{n}" / f"output.{loaded.scenario.output.format or 'jsonl'}"
        out.parent.mkdir(parents=True, exist_ok=True)
        return _api.run(loaded, input=in_path, output=out, checkpoint=out.with_suffix(".checkpoint.sqlite"),
                        workers=workers, time_scale=scale, transport=transport)

    def function(self, fn: ItemFunction, *, targets: Mapping[str, str | Mapping[str, Any]], rows: Iterable[Mapping[str, Any]],
                 mock: MockServer | None = None, workers: int = 5, id: str | None = None,
                 plan: list[Mapping[str, Any]] | None = None, **scenario: Any) -> RunSummary:
        """Run ``async def fn(item, call) -> dict`` once per row; ``targets`` maps the names ``call``
        uses to profiles (``{"openai": "openai"}``) or to whole target specs (``{"openai": {"profile":
        "openai", "limits": {"requests_per_minute": 60}}}``). More scenario fields (``retry``, ``timeout``,
        ``adaptive``, ...) go in ``**scenario``."""
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn!r} is not an async function (async def fn(item, call) -> dict)")
        module = types.ModuleType(f"_harness_item_function_{next(_fn_ids)}")
        module.process = fn  # type: ignore[attr-defined]
        sys.modules[module.__name__] = module  # the engine imports "module:function"
        data: dict[str, Any] = {
            "name": getattr(fn, "__name__", "function").strip("<>") or "function",
            "targets": {t: ({"profile": p} if isinstance(p, str) else dict(p)) for t, p in targets.items()},
            "function": f"{module.__name__}:process", "workers": workers, "input": {"id": id},
            "plan": list(plan or []), **scenario,
        }
        return self(data, mock=mock, rows=rows)

    @staticmethod
    def rows(summary: RunSummary) -> Iterator[dict[str, Any]]:
        """A run's output rows (JSONL or CSV), in input order."""
        path = Path(summary.output)
        with path.open(newline="") as f:
            if path.suffix.lower() == ".csv":
                import csv

                yield from csv.DictReader(f)
                return
            for line in f:
                if line.strip():
                    yield json.loads(line)

    def _input(self, loaded, rows, input: Path | None, n: int) -> Path:
        if rows is not None and input is not None:
            raise ValueError("give rows or input, not both")
        if rows is not None:
            path = self.workdir / f"run-{n}" / "input.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w") as f:
                for row in rows:
                    f.write(json.dumps(dict(row)) + "\n")
            return path
        if input is not None:
            return Path(input)
        own = loaded.resolve(loaded.scenario.input.path)
        if own is None:
            raise ValueError("no input: give rows=[...] or input=PATH (the scenario has no input.path)")
        return own
