"""A real Celery cluster per test: redis-server on a free port and ``harness worker``
processes, stopped after the test."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from harness.runner.distributed.local import LocalWorker
from harness.runner.distributed.redisproc import RedisProcess


@pytest.fixture
def celery_workers(tmp_path: Path, redis_server: RedisProcess) -> Iterator[Callable[..., LocalWorker]]:
    """Factory: ``celery_workers(concurrency, env={...})`` starts one ``harness worker`` on the
    test's redis-server, ready when it returns."""
    started: list[LocalWorker] = []

    def start(concurrency: int = 2, env: dict[str, str] | None = None, **kw) -> LocalWorker:
        w = LocalWorker(redis_server.url, concurrency, tmp_path / f"worker-{len(started)}.log",
                        env=env, **kw)
        started.append(w)
        w.wait_ready()
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture(autouse=True)
def _short_leases(monkeypatch) -> None:
    """Chunk leases of 2 s (default 10): a killed worker's chunk moves on within seconds."""
    monkeypatch.setenv("HARNESS_LEASE_SECONDS", "2")
