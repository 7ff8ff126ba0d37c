"""The planner predicts from the distribution the mock draws from: for every shipped profile
and model (as shipped, with ``latency.ttft`` given, and with ``ttft`` given and no median), the
planner's mean, p95 and p99 call time equal those of 100,000 draws made the mock's way, within 2%."""

from __future__ import annotations

import copy
import random

import pytest

from mock_servers.latency import Z99, LLMLatency, LogNormal
from mock_servers.profile import load_profile_data, shipped_profiles, validate_profile
from mock_servers.rules import rules_for

from harness.planning.planner import CapacityModel
from harness.scenario import LoadedScenario, Scenario

DRAWS = 100_000


def _variants(data: dict) -> list[tuple[str, dict]]:
    """As shipped; every model's TTFT given (0.4 s); TTFT given with no median (constant TTFT)."""
    out = [("shipped", data)]
    if not data.get("models"):
        return out
    with_ttft, no_median = copy.deepcopy(data), copy.deepcopy(data)
    for d, extra in ((with_ttft, {"ttft": 0.4}), (no_median, {"ttft": 0.4, "median": 0.0})):
        for spec in d["models"].values():
            spec = spec if spec is not None else {}
            spec["latency"] = {**(spec.get("latency") or {}), **extra}
        d["latency"] = {**(d.get("latency") or {}), **extra}
    return out + [("ttft", with_ttft), ("ttft-no-median", no_median)]


def _cases():
    for name, path in shipped_profiles().items():
        data = load_profile_data(path)
        for variant, d in _variants(data):
            profile = validate_profile(copy.deepcopy(d), f"{path} ({variant})")
            if rules_for(profile).llm:
                for model in profile.models:
                    if profile.model_settings(model).latency.tokens_per_second:
                        yield pytest.param(profile, {"model": model, "max_tokens": 1000}, id=f"{name}-{variant}-{model}")
            else:
                for ep in profile.endpoints:
                    yield pytest.param(profile, {"endpoint": ep.name}, id=f"{name}-{variant}-{ep.name}")


def _mock_draws(profile, call: dict, rng: random.Random) -> list[float]:
    """Call durations sampled as the mock samples them (its provider modules' objects)."""
    if "model" in call:
        s = profile.model_settings(call["model"])
        lat = LLMLatency(s.latency, s.output_tokens, rng)
        draws = []
        for _ in range(DRAWS):
            n, _cut = lat.sample_output_tokens(call["max_tokens"])
            draws.append(lat.ttft.sample() + lat.generation_seconds(n))
        return draws
    ep = next(e for e in profile.endpoints if e.name == call["endpoint"])
    latency = ep.latency or profile.latency
    sampler = LogNormal(latency.median, latency.p99, rng)
    return [sampler.sample() for _ in range(DRAWS)]


@pytest.mark.parametrize("profile,call", list(_cases()))
def test_planner_mean_and_p99_match_the_mock(profile, call):
    scenario = Scenario.model_validate({"name": "agreement", "targets": {"t": {"profile": profile.name}},
                                        "function": "none:none", "plan": [{"target": "t", **call}]})
    model = CapacityModel(LoadedScenario(scenario, None, {"t": profile}, {"t": profile.name}))
    planned = model.calls[0]
    draws = sorted(_mock_draws(profile, call, random.Random(7)))
    mean = sum(draws) / DRAWS
    p99 = draws[int(0.99 * DRAWS)]
    assert planned.latency_mean == pytest.approx(mean, rel=0.02, abs=1e-9)
    assert planned.latency.ppf(0.95) == pytest.approx(draws[int(0.95 * DRAWS)], rel=0.02, abs=1e-9)
    assert planned.quantile(Z99) == pytest.approx(p99, rel=0.02, abs=1e-9)
