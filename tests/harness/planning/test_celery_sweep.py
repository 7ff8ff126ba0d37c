"""``harness reproduce --engine celery`` on seed 001: 8 static chunk tasks on real Celery worker
processes (a local redis-server), measured against the topology model for the same layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.planning.celery_sweep import run_celery_sweep
from harness.scenario import load_scenario

SEED = Path(__file__).resolve().parents[3] / "scenarios" / "seeds" / "001-spapi-keepa.yaml"


@pytest.mark.timeout(240)
def test_seed_001_chunks_on_four_processes_agree_with_the_model(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_LEASE_SECONDS", "5")
    result = run_celery_sweep(load_scenario(SEED), [4], sample=40, workdir=tmp_path)
    (point,) = result.points
    assert point.measured is not None and point.measured.summary["items_done"] == 40
    assert point.measured.summary["chunks"] == 8 and point.measured.summary["processes"] == 4
    # 8 chunks of 5 on 4 processes: two waves, each as long as its slowest chunk
    assert "2 waves" in result.notes[-1] and "static chunks cost +" in result.notes[-1]
    print(f"\n{result.notes[-1]}; error {point.error:+.1%}")
    assert abs(point.error) <= 0.15, result.notes[-1]
