"""Verdicts on the seeds' claims (harness/claims.py) against docs/seeds.md's arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.planning.claims import (CONTRADICTED, HOLDS, NOT_CHECKED, TOLERANCE, check_claims, nearest,
                            within)
from harness.scenario import load_scenario

SEEDS = Path(__file__).resolve().parents[3] / "scenarios" / "seeds"


@pytest.fixture(scope="module")
def verdicts():
    cache: dict[str, dict] = {}

    def get(seed: str) -> dict:
        if seed not in cache:
            path = next(SEEDS.glob(f"{seed}-*.yaml"))
            cache[seed] = {v.id: v for v in check_claims(load_scenario(path))}
        return cache[seed]

    return get


def test_tolerance_is_15_percent():
    assert TOLERANCE == 0.15
    assert within(115, 100) and within(85, 100) and not within(116, 100) and not within(84, 100)
    assert within([400, 800], 444) and within([18, 36], 20.0)
    assert within([14400, 18000], 20000) and not within([14400, 18000], 27000)
    assert nearest([14400, 18000], 27000) == 18000 and nearest(13, 7.4) == 13


def test_every_seed_has_verdicts(verdicts):
    for seed in ("000", "001", "002", "003", "004"):
        vs = verdicts(seed)
        assert vs, seed
        assert all(v.status in (HOLDS, CONTRADICTED, NOT_CHECKED) for v in vs.values())
        for v in vs.values():
            if v.status == CONTRADICTED:
                assert " not " in v.arithmetic, (seed, v.id, v.arithmetic)


# -- seed 003: 2.7 s per user, 20 workers ----------------------------------------------------
def test_seed003_13_req_s_contradicted(verdicts):
    v = verdicts("003")["rps-20"]
    assert v.status == CONTRADICTED
    assert v.model == pytest.approx(7.40, abs=0.02)
    assert "20 workers / 2.70 s per item = 7.4 req/s, not 13 req/s" in v.arithmetic
    assert "35 workers" in v.arithmetic
    assert verdicts("003")["notice-rps"].status == CONTRADICTED
    assert verdicts("003")["phase3-rps"].status == CONTRADICTED


def test_seed003_holds(verdicts):
    vs = verdicts("003")
    for cid in ("seq-throughput", "rps-1", "seq-200k", "w20-throughput", "w20-200k", "table-w1-duration_s",
                "table-w20-throughput_per_min", "speedup", "notice-2m", "notice-requests", "latency"):
        assert vs[cid].status == HOLDS, (cid, vs[cid].arithmetic)
    assert vs["rps-1"].model == pytest.approx(0.370, abs=0.002)
    assert vs["seq-200k"].model == pytest.approx(540_000, rel=0.002)  # 6.25 days


def test_seed003_durations_contradicted(verdicts):
    vs = verdicts("003")
    expect = {"table-w5-duration_s": 108_000, "table-w10-duration_s": 54_000, "table-w20-duration_s": 27_000,
              "table-w50-duration_s": 13_500}  # 30 h, 15 h, 7.5 h, 3.75 h (the partner's 40 in flight)
    for cid, seconds in expect.items():
        assert vs[cid].status == CONTRADICTED, cid
        assert vs[cid].model == pytest.approx(seconds, rel=0.01), cid
    assert "7.5 h, not 4.0 h-5.0 h" in vs["table-w20-duration_s"].arithmetic
    assert "capacity 40" in vs["table-w50-duration_s"].arithmetic


def test_seed003_bandwidth_and_daily(verdicts):
    vs = verdicts("003")
    assert vs["bw-out"].status == CONTRADICTED and vs["bw-in"].status == CONTRADICTED
    assert vs["bw-in"].model == pytest.approx(2.07e6, rel=0.01)
    daily = vs["daily"]
    assert daily.status == CONTRADICTED
    assert daily.model == pytest.approx(22.7e9, rel=0.01)
    assert "whole batch" in daily.arithmetic and "= 71 GB, not a daily volume" in daily.arithmetic


def test_seed003_phases(verdicts):
    vs = verdicts("003")
    for cid in ("phase1-title", "phase1-duration", "phase1-rps", "phase2-title", "phase2-duration", "phase2-rps"):
        assert vs[cid].status == CONTRADICTED, cid
    assert vs["phase2-duration"].model == pytest.approx(1351, rel=0.02)  # 22.5 min


# -- seed 002: 50 requests/min vs 2.5 h; the table's 30 s per file ----------------------------
def test_seed002_claude_limit_vs_50_workers(verdicts):
    v = verdicts("002")["limit-claude"]
    assert v.status == CONTRADICTED
    assert "50 workers against a limit of 50 requests/minute" in v.arithmetic
    assert "at least 5.0 h, not 2.5 h" in v.arithmetic
    assert verdicts("002")["limit-drive"].status == HOLDS  # 100/min: exactly the table's fastest row


def test_seed002_table_and_costs(verdicts):
    vs = verdicts("002")
    for w in (1, 5, 10, 20, 50):
        v = vs[f"table-w{w}-duration_s"]
        assert v.status == CONTRADICTED
        assert v.model == pytest.approx(243_000, rel=0.01)  # 67.5 h at 30,000 input tokens/min
    assert "30.0 s per item" in vs["table-w1-duration_s"].arithmetic  # 125 h / 15,000 files
    for cid in ("cost-file", "cost-1000", "cost-15000", "latency-file", "latency-claude", "latency-download"):
        assert vs[cid].status == HOLDS, cid
    assert vs["cost-15000"].model == pytest.approx(425, rel=0.01)
    sample = vs["cost-sample-now"]
    assert sample.status == CONTRADICTED and sample.model == pytest.approx(8.89, abs=0.01)
    assert vs["progress-100"].status == CONTRADICTED
    assert vs["max-workers"].status == NOT_CHECKED


# -- seed 000: TPM binds from 3 workers on ----------------------------------------------------
def test_seed000(verdicts):
    vs = verdicts("000")
    assert vs["table-w1-duration_s"].status == HOLDS
    assert vs["table-w1-duration_s"].model == pytest.approx(598, rel=0.01)
    for w in (3, 5, 10):
        v = vs[f"table-w{w}-duration_s"]
        assert v.status == CONTRADICTED and v.model == pytest.approx(443, rel=0.01)
        assert "tokens/min" in v.arithmetic
    for cid in ("rps-5", "rpm-5", "rps-10", "rpm-10", "table-w3-speedup", "table-w5-faster_pct", "limit-tpm",
                "cost-gpt4o"):
        assert vs[cid].status == CONTRADICTED, cid
    assert vs["cost-gpt4o"].model == pytest.approx(4.10, abs=0.02)
    assert "7.3x even the high end" in vs["limit-tpm"].arithmetic
    for cid in ("cost", "calls", "call-time", "limit-rpm", "p500-seq", "p1000-seq"):
        assert vs[cid].status == HOLDS, cid
    assert vs["cost"].model == pytest.approx(0.1006, abs=0.001)


# -- seed 001: holds, except "the bottleneck is the SP-API limit (5-10/sec)" -------------------
def test_seed001(verdicts):
    vs = verdicts("001")
    for cid in ("table-w1-duration_s", "table-w4-duration_s", "table-w8-duration_s", "table-w8-throughput_per_min",
                "limit-spapi", "limit-keepa", "limit-1w", "headline"):
        assert vs[cid].status == HOLDS, (cid, vs[cid].arithmetic)
    assert vs["table-w8-duration_s"].model == pytest.approx(253, rel=0.01)
    b = vs["bottleneck"]
    assert b.status == CONTRADICTED
    assert "at least 6.7 min" in b.arithmetic


# -- seed 004: 3 s a row; before 15, after 300 in flight ---------------------------------------
def test_seed004(verdicts):
    vs = verdicts("004")
    for cid in ("rate-before", "rate-after", "table-w300-speedup", "speedup-verify", "t1000-after", "latency-row"):
        assert vs[cid].status == HOLDS, cid
    assert vs["table-w15-duration_s"].status == CONTRADICTED  # 4 h vs 2.8 h
    assert vs["table-w15-duration_s"].model == pytest.approx(10_000, rel=0.01)
    assert vs["table-w300-duration_s"].status == CONTRADICTED  # 12 min vs 8.4 min
    assert vs["t100-after"].status == CONTRADICTED  # 3 s: 100 rows cannot all finish in one 3 s call
    assert vs["t100-before"].status == CONTRADICTED
