"""The planner's topology: static chunks vs a shared queue, processes x workers per process."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.planning.planner import CapacityModel
from harness.planning.topology import Topology, predict_topology
from harness.scenario import load_scenario

SEEDS = Path(__file__).resolve().parents[3] / "scenarios" / "seeds"


@pytest.fixture(scope="module")
def seed001() -> CapacityModel:
    return CapacityModel(load_scenario(SEEDS / "001-spapi-keepa.yaml"))


def test_a_shared_queue_is_the_models_own_prediction(seed001):
    p = predict_topology(seed001, Topology(8, 1, None), 1000)
    assert p.duration_s == pytest.approx(seed001.predict(8, 1000).duration_s)
    assert p.static_cost == 0.0


def test_seed_001_eight_chunks_of_125(seed001):
    one_wave = seed001.predict_topology(Topology(8, 1, 125), 1000)
    two_waves = seed001.predict_topology(Topology(4, 1, 125), 1000)
    assert (one_wave.chunks, one_wave.waves, two_waves.waves) == (8, 1, 2)
    # the makespan is the slowest chunk: never faster than a shared queue on the same processes
    assert one_wave.duration_s > one_wave.shared_queue_s and two_waves.duration_s > two_waves.shared_queue_s
    # one chunk of 125 sequential items takes ~125 item times; the slowest of 8 a little longer
    chunk = 125 * seed001.item_time()
    assert chunk < one_wave.duration_s < 1.15 * chunk
    assert "static chunks cost +" in one_wave.describe()


def test_one_process_runs_the_chunks_one_after_another(seed001):
    p = seed001.predict_topology(Topology(1, 1, 125), 1000)
    assert p.waves == 8
    assert p.duration_s == pytest.approx(seed001.predict(1, 1000).duration_s, rel=0.02)


def test_shared_limits_bind_when_chunks_are_many():
    # seed 001 with 40 processes: the 8 req/s SP-API limit, not the chunks, sets the pace
    model = CapacityModel(load_scenario(SEEDS / "001-spapi-keepa.yaml"))
    p = model.predict_topology(Topology(40, 1, 25), 1000)
    assert p.binding == "shared limits"
    assert p.duration_s == pytest.approx(1000 * 2 / 8, rel=0.05)


def test_processes_times_workers_per_process():
    model = CapacityModel(load_scenario(SEEDS / "004-research-email.yaml"))
    t = Topology(15, 20)
    assert t.workers == 300 and t.kind == "shared queue"
    assert model.predict_topology(t, 1000).duration_s == pytest.approx(model.predict(300, 1000).duration_s)


def test_bad_topology_is_refused():
    with pytest.raises(ValueError, match="processes"):
        Topology(0, 1)
    with pytest.raises(ValueError, match="chunk_size"):
        Topology(2, 1, 0)


def test_harness_plan_names_the_topology():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "harness", "plan", str(SEEDS / "001-spapi-keepa.yaml"),
                           "--workers", "8", "--chunk-size", "125"], capture_output=True, text=True, timeout=60,
                          env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "8 workers as 8 processes x 1 in flight, static chunks of 125" in text
    assert "a shared queue would take" in text and "8 chunks in 1 wave" in text
