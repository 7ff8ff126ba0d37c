"""The distributed runs' tests use ``redis_server`` and ``celery_workers`` (tests/redis_support.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _short_leases(monkeypatch) -> None:
    """Chunk leases of 2 s (default 10): a killed worker's chunk moves on within seconds."""
    monkeypatch.setenv("HARNESS_LEASE_SECONDS", "2")
