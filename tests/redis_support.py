"""Fixtures' helpers: a real redis-server on a free port (stopped after the test)."""

from __future__ import annotations

from typing import Iterator

import pytest

from harness.runner.distributed.redisproc import RedisProcess, start_redis


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisProcess]:
    """A fresh redis-server (append-only file in tmp_path) for one test."""
    proc = start_redis(tmp_path / "redis")
    try:
        yield proc
    finally:
        proc.close()
