"""Shared fixtures: the real mock server as a subprocess on a free loopback port."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import pytest

from harness.runner.mockproc import MockProcess, start_mock


@pytest.fixture
def mock_server() -> Iterator[Callable[..., MockProcess]]:
    """Factory: ``mock_server(["openai"], time_scale=0.01, sets=[...])`` starts a mock
    server (127.0.0.1, ephemeral port) and stops it after the test."""
    started: list[MockProcess] = []

    def start(providers: Sequence[str] = ("openai",), **kwargs) -> MockProcess:
        proc = start_mock(providers, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


from tests.redis_support import celery_workers, redis_server  # noqa: E402,F401  (real redis-server, celery)
