"""The harness's pytest plugin, registered through the ``pytest11`` entry point: installing the
package makes these fixtures available to any test suite (README, "In your own test suite").

- ``harness_mock``: a factory starting the real mock on a free loopback port for this test,
  ``harness_mock(["openai"], time_scale=0.01, sets={"openai.limits.requests_per_minute": 60})``;
  ``harness_mock_session`` does the same once per session (same arguments, same server).
  Either returns a :class:`MockServer`: base URLs, admin actions, what it received.
- ``harness_run``: runs a scenario, or an async item function, against it; a :class:`RunSummary`.
- ``harness_benchmark``: the batch as a pytest-benchmark benchmark, with items/s, the 429 share
  and p95 in ``extra_info`` (needs pytest-benchmark).

Nothing heavy is imported until a fixture is used, so the plugin costs other suites nothing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

if TYPE_CHECKING:
    from harness.pytest_plugin.benchmark import HarnessBenchmark
    from harness.pytest_plugin.mock import MockServer
    from harness.pytest_plugin.run import HarnessRunner

__all__ = ["harness_mock", "harness_mock_session", "harness_run", "harness_benchmark"]


class _MockFactory:
    """Starts mocks on demand, keeps one per distinct configuration, stops them all at the end."""

    def __init__(self) -> None:
        self._started: dict[str, "MockServer"] = {}

    def __call__(self, providers: Any = ("openai",), **kwargs: Any) -> "MockServer":
        from harness.pytest_plugin.mock import MockServer

        providers = [providers] if isinstance(providers, str) else list(providers)
        key = json.dumps([providers, kwargs], sort_keys=True, default=str)
        if key not in self._started:
            self._started[key] = MockServer(providers, **kwargs)
        return self._started[key]

    def stop_all(self) -> None:
        for mock in self._started.values():
            mock.stop()
        self._started.clear()


@pytest.fixture
def harness_mock() -> Iterator[Callable[..., "MockServer"]]:
    """``harness_mock(providers, time_scale=1.0, sets={}, profiles=[], seed=None)``: the mock for this test."""
    factory = _MockFactory()
    yield factory
    factory.stop_all()


@pytest.fixture(scope="session")
def harness_mock_session() -> Iterator[Callable[..., "MockServer"]]:
    """As ``harness_mock``, started once per session for each distinct set of arguments."""
    factory = _MockFactory()
    yield factory
    factory.stop_all()


@pytest.fixture
def harness_run(tmp_path) -> "HarnessRunner":
    """``harness_run(scenario, mock=..., rows=[...])`` or ``harness_run.function(fn, targets=..., rows=...)``."""
    from harness.pytest_plugin.run import HarnessRunner

    return HarnessRunner(tmp_path / "harness-runs")


@pytest.fixture
def harness_benchmark(request) -> "HarnessBenchmark":
    """``harness_benchmark(batch, items=N, mock=mock)``: pytest-benchmark's ``benchmark``, one batch a round."""
    from harness.pytest_plugin.benchmark import HarnessBenchmark

    try:
        benchmark = request.getfixturevalue("benchmark")
    except pytest.FixtureLookupError:
        raise pytest.UsageError("harness_benchmark needs pytest-benchmark: pip install pytest-benchmark") from None
    return HarnessBenchmark(benchmark)
