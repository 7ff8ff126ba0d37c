"""Fixtures: a real redis-server on a free port, and real ``harness worker`` (Celery)
processes on it; all stopped after the test."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from harness.runner.distributed.local import LocalWorker
from harness.runner.distributed.redisproc import RedisProcess, start_redis


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisProcess]:
    """A fresh redis-server (append-only file in tmp_path) for one test."""
    proc = start_redis(tmp_path / "redis")
    try:
        yield proc
    finally:
        proc.close()


@pytest.fixture
def celery_workers(tmp_path: Path, redis_server: RedisProcess) -> Iterator[Callable[..., LocalWorker]]:
    """Factory: ``celery_workers(concurrency, env={...}, cpus={0})`` starts one ``harness worker``
    with that many pool processes on the test's redis-server, ready when it returns."""
    started: list[LocalWorker] = []

    def start(concurrency: int = 2, env: dict[str, str] | None = None, cpus: set[int] | None = None,
              **kw) -> LocalWorker:
        w = LocalWorker(redis_server.url, concurrency, tmp_path / f"worker-{len(started)}.log", env=env, **kw)
        started.append(w)
        w.wait_ready()
        if cpus:
            import os

            for pid in [w.proc.pid, *w.pool_pids()]:
                os.sched_setaffinity(pid, cpus)
        return w

    yield start
    for w in started:
        w.stop()
