"""The capacity model on small hand-built profiles, with the durations worked out by hand.

Latencies have p99 == median (no spread), so an item takes exactly its median and the
expected durations below are plain arithmetic: ``(items - workers) / workers x t + t`` for
concurrency, ``(items - burst) / rate + t`` for a bucket that starts full (targets here do not
learn limits from headers, ``learn: false``, unless a test says so: a runner that learns a limit
paces at its share of it, see "learnt limits" below). Only the public
behaviour is used (``CapacityModel(...).predict(workers, items)``: duration, items/s and the
binding constraint's name), so the tests hold whatever the model's insides look like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.planning.planner import CapacityModel
from harness.scenario import scenario_from_data

REL = 1e-9
# E[max of k item times] is a 2,000-point quadrature; with no spread it is t within this.
QUAD = 2e-3


def model(tmp_path: Path, profile: dict[str, Any], calls: list[dict[str, Any]] | None = None, *,
          limits: dict[str, Any] | None = None, retry: dict[str, Any] | None = None,
          timeout: float = 60.0) -> CapacityModel:
    path = tmp_path / f"{profile['name']}.yaml"
    path.write_text(yaml.safe_dump(profile))
    data = {
        "name": "t", "function": "items:process", "timeout": timeout,
        "targets": {"api": {"profile": str(path), "limits": {"learn": False, **(limits or {})}}},
        "plan": calls or [{"target": "api"}],
        "retry": {"base_delay": 0.0, **(retry or {})},
    }
    return CapacityModel(scenario_from_data(data, tmp_path / "scenario.yaml"))


def rest(latency: float = 1.0, **extra: Any) -> dict[str, Any]:
    endpoint = {"name": "get", "method": "GET", "path": "/x", "response_bytes": 1000, "request_bytes": 100,
                **extra.pop("endpoint", {})}
    return {"name": "partner", "kind": "rest", "latency": {"median": latency, "p99": latency},
            "endpoints": [endpoint], **extra}


def binding(p) -> str:
    """The binding constraint as reports name it (a typed Constraint's ``str()``: name and note)."""
    return str(p.binding)


# -- concurrency -----------------------------------------------------------------------------
def test_concurrency_binds_workers_over_item_time(tmp_path):
    m = model(tmp_path, rest(1.0))
    p = m.predict(4, 100)
    assert m.item_time() == pytest.approx(1.0, rel=REL)
    assert p.duration_s == pytest.approx((100 - 4) / 4 * 1.0 + 1.0, abs=QUAD)  # 24 full rounds + the last
    assert p.items_per_s == pytest.approx(100 / p.duration_s, rel=REL)
    assert binding(p).startswith("concurrency (4 workers / 1.00s per item)")
    assert p.requests_per_s == pytest.approx(p.items_per_s, rel=REL)
    assert p.bandwidth_out_bps == pytest.approx(p.requests_per_s * 100 * 8, rel=REL)
    assert p.bandwidth_in_bps == pytest.approx(p.requests_per_s * 1000 * 8, rel=REL)
    assert p.risk == "none"


def test_calls_of_an_item_add_up(tmp_path):
    m = model(tmp_path, rest(0.5), [{"target": "api"}, {"target": "api"}])
    assert m.item_time() == pytest.approx(1.0, rel=REL)
    p = m.predict(10, 100)
    assert p.duration_s == pytest.approx(90 / 10 * 1.0 + 1.0, abs=2 * QUAD)
    assert p.requests_per_s == pytest.approx(2 * p.items_per_s, rel=REL)


def test_fewer_items_than_workers_take_one_item_time(tmp_path):
    p = model(tmp_path, rest(2.0)).predict(10, 3)
    assert p.duration_s == pytest.approx(2.0, abs=2 * QUAD)
    assert binding(p).startswith("concurrency")


def test_zero_items_take_no_time(tmp_path):
    p = model(tmp_path, rest(2.0, limits={"requests_per_minute": 60})).predict(5, 0)
    assert p.duration_s == 0.0 and p.items_per_s == 0.0 and p.requests_per_s == 0.0
    assert p.cost_total == 0.0


@pytest.mark.parametrize("workers", [0, -1, -50])
def test_zero_or_negative_workers_are_refused_clearly(tmp_path, workers):
    m = model(tmp_path, rest())
    with pytest.raises(ValueError, match=rf"workers must be >= 1 .*got {workers}$"):
        m.predict(workers, 100)


def test_negative_items_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"items must be >= 0, got -3"):
        model(tmp_path, rest()).predict(5, -3)


# -- server-side request limits: RPM, requests/s + burst, capacity -----------------------------
def test_server_rpm_binds_after_its_full_bucket(tmp_path):
    m = model(tmp_path, rest(1.0, limits={"requests_per_minute": 60}))
    p = m.predict(50, 200)
    # the bucket starts full: 60 at once, then 1/s; the last item still takes its 1 s
    assert p.duration_s == pytest.approx((200 - 60) / 1.0 + 1.0, rel=REL)
    assert binding(p) == "api requests/min (server): 60/min / 1 per item"
    assert "429s: 50.00 items/s offered vs 1.00 allowed by api requests/min (server)" in p.risk


def test_a_batch_within_the_burst_is_bound_by_concurrency(tmp_path):
    m = model(tmp_path, rest(1.0, limits={"requests_per_minute": 60}))
    at_burst = m.predict(60, 60)
    assert binding(at_burst).startswith("concurrency") and at_burst.duration_s == pytest.approx(1.0, abs=QUAD)
    past = m.predict(61, 61)  # one item past the burst waits 1/rate, then its call
    assert binding(past).startswith("api requests/min") and past.duration_s == pytest.approx(2.0, rel=REL)


def test_server_requests_per_second_with_its_burst(tmp_path):
    p = model(tmp_path, rest(0.1, limits={"requests_per_second": 5, "burst": 10})).predict(100, 1010)
    assert p.duration_s == pytest.approx((1010 - 10) / 5 + 0.1, rel=REL)
    assert binding(p) == "api requests/s (server): 300/min / 1 per item"


def test_server_capacity_binds_at_max_in_flight_over_latency(tmp_path):
    p = model(tmp_path, rest(1.0, capacity={"max_in_flight": 10})).predict(50, 100)
    assert p.duration_s == pytest.approx(100 / 10 + 1.0, rel=REL)  # 10 items/s, no burst
    assert binding(p) == "api capacity 10 in flight (server): queueing beyond this"
    assert p.risk.startswith("queueing, then 503s: 50.00 items/s offered vs 10.00 allowed")


# -- client-side limits --------------------------------------------------------------------
def test_client_requests_per_second_paces_and_covers_the_server_limit(tmp_path):
    m = model(tmp_path, rest(1.0, limits={"requests_per_minute": 600}), limits={"requests_per_second": 2})
    p = m.predict(50, 100)
    assert p.duration_s == pytest.approx((100 - 1) / 2 + 1.0, rel=REL)  # a client bucket allows one at once
    assert binding(p) == "api requests/s (client): 120/min / 1 per item"
    assert p.risk == "none"  # 2 items/s offered never reach the server's 10/s


def test_client_rpm(tmp_path):
    p = model(tmp_path, rest(1.0), limits={"requests_per_minute": 30}).predict(50, 31)
    assert p.duration_s == pytest.approx((31 - 1) / 0.5 + 1.0, rel=REL)
    assert binding(p) == "api requests/min (client): 30/min / 1 per item"


# -- token limits: OpenAI TPM, Anthropic ITPM / OTPM ------------------------------------------
def llm(kind: str, limits: dict[str, Any]) -> dict[str, Any]:
    # median call 1 s = TTFT 0.5 s + 50 output tokens at 100 tokens/s; no spread anywhere
    return {"name": kind + "-t", "kind": kind, "latency": {"median": 1.0, "p99": 1.0, "tokens_per_second": 100},
            "output_tokens": {"median": 50, "p99": 50}, "limits": limits,
            "models": {"m1": {}}}


LLM_CALL = [{"target": "api", "model": "m1", "prompt_tokens": 100, "max_tokens": 100}]


def test_openai_tpm_counts_prompt_plus_max_tokens_at_admission(tmp_path):
    m = model(tmp_path, llm("openai", {"tokens_per_minute": 12_000}), LLM_CALL)
    assert m.item_time() == pytest.approx(1.0, rel=REL)
    p = m.predict(100, 500)
    # 200 tokens per call: 60 items/min = 1 item/s after a bucket of 60 items
    assert p.duration_s == pytest.approx((500 - 60) / 1.0 + 1.0, rel=REL)
    assert binding(p) == "api tokens/min (server): 12000/min / 200 per item"


def test_openai_rpm_binds_when_tighter_than_tpm(tmp_path):
    m = model(tmp_path, llm("openai", {"tokens_per_minute": 1_000_000, "requests_per_minute": 30}), LLM_CALL)
    p = m.predict(100, 130)
    assert p.duration_s == pytest.approx((130 - 30) / 0.5 + 1.0, rel=REL)
    assert binding(p) == "api requests/min (server): 30/min / 1 per item"


def test_anthropic_itpm_counts_prompt_tokens(tmp_path):
    m = model(tmp_path, llm("anthropic", {"input_tokens_per_minute": 6_000}), LLM_CALL)
    p = m.predict(100, 200)
    assert p.duration_s == pytest.approx((200 - 60) / 1.0 + 1.0, rel=REL)  # 100 input tokens per item
    assert binding(p) == "api input tokens/min (server): 6000/min / 100 per item"


def test_anthropic_otpm_counts_expected_output_tokens(tmp_path):
    m = model(tmp_path, llm("anthropic", {"input_tokens_per_minute": 6_000, "output_tokens_per_minute": 1_500}),
              LLM_CALL)
    p = m.predict(100, 200)
    # 50 output tokens per item: 30 items/min = 0.5/s after a bucket of 30 items
    assert p.duration_s == pytest.approx((200 - 30) / 0.5 + 1.0, rel=REL)
    assert binding(p) == "api output tokens/min (server): 1500/min / 50 per item"


def test_output_tokens_are_capped_by_max_tokens(tmp_path):
    call = [{**LLM_CALL[0], "max_tokens": 20}]
    m = model(tmp_path, llm("anthropic", {"output_tokens_per_minute": 600}), call)
    assert m.item_time() == pytest.approx(0.5 + 20 / 100, rel=REL)  # generation stops at 20 tokens
    p = m.predict(100, 130)
    assert p.duration_s == pytest.approx((130 - 30) / 0.5 + 0.7, rel=REL)  # 20 tokens per item


# -- SP-API and Keepa -------------------------------------------------------------------------
def test_spapi_per_operation_rate_and_burst(tmp_path):
    profile = {"name": "sp", "kind": "spapi", "latency": {"median": 0.2, "p99": 0.2},
               "endpoints": [{"name": "getItemOffers", "method": "GET", "path": "/offers", "rate": 0.5, "burst": 1},
                             {"name": "getCatalogItem", "method": "GET", "path": "/items", "rate": 2, "burst": 2}]}
    calls = [{"target": "api", "endpoint": "getCatalogItem"}, {"target": "api", "endpoint": "getItemOffers"}]
    p = model(tmp_path, profile, calls).predict(10, 100)
    assert p.duration_s == pytest.approx((100 - 1) / 0.5 + 0.4, rel=REL)  # offers: 0.5/s, burst 1
    assert binding(p) == "api getItemOffers 0.5/s burst 1 (server): 30/min / 1 per item"
    catalog_only = model(tmp_path, profile, calls[:1]).predict(10, 100)
    assert catalog_only.duration_s == pytest.approx((100 - 2) / 2 + 0.2, rel=REL)
    assert binding(catalog_only) == "api getCatalogItem 2/s burst 2 (server): 120/min / 1 per item"


def keepa(initial: int | None) -> dict[str, Any]:
    return {"name": "kp", "kind": "keepa", "latency": {"median": 0.5, "p99": 0.5},
            "keepa": {"refill_rate": 20, "initial": initial, "max_hours": 1.0},
            "endpoints": [{"name": "product", "method": "GET", "path": "/product", "cost": 2}]}


def test_keepa_token_refill_after_the_initial_balance(tmp_path):
    p = model(tmp_path, keepa(10), [{"target": "api", "endpoint": "product"}]).predict(5, 40)
    # 2 tokens per item: 10 items/min after 5 items' worth of balance
    assert p.duration_s == pytest.approx((40 - 5) / (10 / 60) + 0.5, rel=REL)
    assert binding(p) == "api token refill 20/min (server): 20/min / 2 per item"


def test_keepa_default_balance_is_a_full_hour(tmp_path):
    m = model(tmp_path, keepa(None), [{"target": "api", "endpoint": "product"}])
    assert binding(m.predict(5, 600)).startswith("concurrency")  # 1,200 tokens cover 600 items
    p = m.predict(100, 610)
    assert p.duration_s == pytest.approx(10 / (10 / 60) + 0.5, rel=REL)


# -- retries, hangs and timeouts --------------------------------------------------------------
def test_transient_errors_add_expected_retries(tmp_path):
    m = model(tmp_path, rest(1.0, faults={"error_500": 0.5}), retry={"max_attempts": 3, "base_delay": 0.4})
    attempts = 1 + 0.5 + 0.25  # tried at most 3 times
    # each retry costs another call plus half the base delay on average
    assert m.item_time() == pytest.approx(1.0 + (attempts - 1) * (1.0 + 0.2), rel=REL)
    p = m.predict(1, 10)
    assert p.requests_per_s == pytest.approx(attempts * p.items_per_s, rel=REL)


def test_retries_count_against_the_rate_limits(tmp_path):
    m = model(tmp_path, rest(0.1, faults={"error_503": 0.5}, limits={"requests_per_minute": 60}),
              retry={"max_attempts": 2})
    p = m.predict(50, 300)
    # 1.5 requests per item: 40 items/min after a bucket of 40 items
    assert p.duration_s == pytest.approx((300 - 40) / (40 / 60) + m.item_time(), rel=REL)
    assert binding(p) == "api requests/min (server): 60/min / 1.5 per item"


def test_a_call_that_always_fails_is_tried_max_attempts_times_not_forever(tmp_path):
    m = model(tmp_path, rest(1.0, faults={"error_500": 0.6, "error_503": 0.4}), retry={"max_attempts": 4})
    assert m.item_time() == pytest.approx(4 * 1.0, rel=REL)
    p = m.predict(2, 10)
    assert p.duration_s == pytest.approx(8 / 2 * 4.0 + 4.0, abs=4 * QUAD)
    assert p.requests_per_s == pytest.approx(4 * p.items_per_s, rel=REL)


def test_a_hang_costs_the_timeout(tmp_path):
    m = model(tmp_path, rest(1.0, faults={"hang": 0.1}), retry={"max_attempts": 2}, timeout=11.0)
    attempts = 1 + 0.1
    # a hung attempt waits out the 11 s timeout instead of its 1 s answer, then is retried
    assert m.item_time() == pytest.approx(1.0 + 0.1 * 1.0 + 0.1 * attempts * (11.0 - 1.0), rel=REL)
    shorter = model(tmp_path, rest(1.0, faults={"hang": 0.1}), retry={"max_attempts": 2}, timeout=3.0)
    assert shorter.item_time() == pytest.approx(1.0 + 0.1 + 0.1 * attempts * 2.0, rel=REL)


# -- cost and the what-if knobs ----------------------------------------------------------------
def test_cost_is_items_times_price_times_attempts(tmp_path):
    m = model(tmp_path, rest(1.0, prices={"per_request": 0.002}, faults={"error_500": 0.5}),
              retry={"max_attempts": 2})
    assert m.predict(5, 1000).cost_total == pytest.approx(1000 * 0.002 * 1.5, rel=REL)


def test_limit_factor_scales_every_limit(tmp_path):
    from harness.planning.planner import WhatIf

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(rest(1.0, limits={"requests_per_minute": 60})))
    loaded = scenario_from_data({"name": "t", "function": "m:f",
                                 "targets": {"api": {"profile": str(path), "limits": {"learn": False}}},
                                 "plan": [{"target": "api"}]}, tmp_path / "s.yaml")
    p = CapacityModel(loaded, WhatIf(limit_factor=2.0)).predict(50, 200)
    assert p.duration_s == pytest.approx((200 - 60) / 2.0 + 1.0, rel=REL)  # rate doubles, the burst is in items


# -- learnt limits: the runner's pacing, not the server's bucket ---------------------------------
def test_a_learnt_limit_paces_at_the_runners_share_after_one_request_per_worker(tmp_path):
    from harness.runner.learning import SAFETY

    m = model(tmp_path, rest(1.0, limits={"requests_per_minute": 60}), limits={"learn": True})
    p = m.predict(50, 200)
    # 50 go before any answer states the limit; from the first answer (1 s) the runner paces
    # at SAFETY x 1/s with a burst of one: the 51st at once, the 52nd 1/0.95 s later, ...
    assert p.binding.rate == pytest.approx(SAFETY * 1.0, rel=REL) and not p.binding.server_side
    assert p.duration_s == pytest.approx(1.0 + (200 - 51) / SAFETY + 1.0, abs=QUAD)
    assert binding(p) == "api requests/min (learnt from headers): 95% of 60/min / 1 per item, after 51 unpaced"
    assert p.risk == "none"  # paced below the server's rate: no 429s after the first answer
    # without learning the same run meets the server's full bucket: 60 at once, then 1/s
    assert model(tmp_path, rest(1.0, limits={"requests_per_minute": 60})).predict(50, 200).duration_s \
        == pytest.approx((200 - 60) / 1.0 + 1.0, rel=REL)


def test_unpaced_requests_are_no_more_than_the_server_bucket_lets_through(tmp_path):
    p = model(tmp_path, rest(1.0, limits={"requests_per_minute": 60}), limits={"learn": True}).predict(100, 300)
    assert p.duration_s == pytest.approx(1.0 + (300 - 61) / 0.95 + 1.0, abs=QUAD)


def test_a_learnt_token_limit_charges_the_admission_cost_from_the_first_answer(tmp_path):
    m = model(tmp_path, llm("openai", {"tokens_per_minute": 12_000}), LLM_CALL, limits={"learn": True})
    p = m.predict(20, 200)
    # 200 tokens per call: 0.95 x 60 items/min; 20 unpaced and the first paced one at once
    assert p.duration_s == pytest.approx(1.0 + (200 - 21) / 0.95 + 1.0, abs=QUAD)
    assert binding(p).startswith("api tokens/min (learnt from headers): 95% of 12000/min / 200 per item")


def test_a_limit_the_scenario_gives_is_not_learnt(tmp_path):
    m = model(tmp_path, rest(1.0, limits={"requests_per_minute": 60}),
              limits={"learn": True, "requests_per_minute": 30})
    p = m.predict(50, 31)
    assert p.duration_s == pytest.approx((31 - 1) / 0.5 + 1.0, rel=REL)
    assert binding(p) == "api requests/min (client): 30/min / 1 per item"


def test_keepa_balance_is_in_bodies_not_headers_so_nothing_is_learnt(tmp_path):
    p = model(tmp_path, keepa(10), [{"target": "api", "endpoint": "product"}], limits={"learn": True}).predict(5, 40)
    assert p.duration_s == pytest.approx((40 - 5) / (10 / 60) + 0.5, rel=REL)


def test_the_last_paced_items_end_with_the_latest_of_them(tmp_path):
    """With spread, the batch ends with the latest of the items still in flight, not with the
    last one's mean: E[max_j (T_j - j / rate)], checked against a simulation."""
    import numpy as np

    profile = rest(1.0)
    profile["latency"] = {"median": 1.0, "p99": 4.0}
    m = model(tmp_path, {**profile, "limits": {"requests_per_minute": 600}})
    rate = 10.0
    rng = np.random.default_rng(3)
    sigma = np.log(4.0) / 2.3263478740408408
    draws = np.exp(rng.normal(0.0, sigma, (20000, 200)))
    simulated = (draws - np.arange(200) / rate).max(axis=1).mean()
    assert m.paced_tail(rate) == pytest.approx(simulated, rel=0.02)  # the 2,000-point grid: ~1% low
    assert m.paced_tail(rate) > 1.5 * m.item_time()
    assert m.paced_tail(rate, 1) == pytest.approx(m.item_time(), rel=0.01)  # one paced item: its own time


# -- the command line --------------------------------------------------------------------------
@pytest.mark.parametrize("workers", ["0", "-1", "3,0"])
def test_harness_plan_refuses_workers_below_one_with_exit_2(workers):
    from tests.harness.runutil import run_cli

    seed = Path(__file__).resolve().parents[3] / "scenarios" / "seeds" / "003-cardgenius.yaml"
    r = run_cli(["plan", str(seed), "--items", "100", f"--workers={workers}"])
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"--workers must be integers >= 1, got {workers!r}" in r.stderr
    assert "Traceback" not in r.stderr
