"""The planner's per-request p50/p95/p99 hold the spread of an LLM call's output length: the call
takes TTFT + output_tokens / tokens_per_s with the output drawn from its own distribution (capped at
max_tokens), so its tail is far above TTFT's tail plus the median output's generation time.

Checked against a Monte Carlo of the same model drawn the mock's way (within 2%), for a mixture of
calls, and against the p95 the runner measures on a small seeded mock run.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mock_servers.latency import LLMLatency, LogNormal

from harness.planning.planner import CapacityModel
from harness.runner.mockproc import start_mock_for
from harness.scenario import LoadedScenario, load_scenario, scenario_from_data

REPO = Path(__file__).resolve().parents[3]
DRAWS = 200_000
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
# gpt-4o-mini with a wide output length: 180 tokens median, 700 p99, at 70 tokens/s
TRUE = {"latency.median": 4.0, "latency.p99": 10.0, "latency.tokens_per_second": 70,
        "output_tokens.median": 180, "output_tokens.p99": 700}


def _sets(extra: dict | None = None) -> dict:
    return {f"openai.models.gpt-4o-mini.{k}": v for k, v in {**TRUE, **(extra or {})}.items()}


def _model(plan: list[dict], sets: dict, targets: dict | None = None) -> CapacityModel:
    data = {"name": "tail", "targets": targets or {"openai": {"profile": "openai"}}, "function": "none:none",
            "plan": plan}
    return CapacityModel(scenario_from_data(data, REPO / "tail.yaml", sets))


def _llm_draws(model: CapacityModel, i: int, n: int, rng: random.Random) -> list[float]:
    """Call ``i``'s durations drawn as the mock draws them (its provider's LLMLatency)."""
    c = model.calls[i]
    profile = model.loaded.profiles[c.target]
    s = profile.model_settings(c.endpoint)
    lat = LLMLatency(s.latency, s.output_tokens, rng)
    out = []
    for _ in range(n):
        tokens, _cut = lat.sample_output_tokens(int(c.max_tokens))
        out.append(lat.ttft.sample() + lat.generation_seconds(tokens))
    return out


def _quantiles(draws: list[float]) -> dict[str, float]:
    d = sorted(draws)
    return {k: d[int(q * len(d))] for k, q in QUANTILES.items()}


@pytest.mark.parametrize("max_tokens", [1000, 300])  # 300: a fifth of the calls cut at max_tokens
def test_llm_call_quantiles_match_a_monte_carlo_of_the_mock(max_tokens):
    model = _model([{"target": "openai", "model": "gpt-4o-mini", "max_tokens": max_tokens, "prompt_tokens": 20}],
                   _sets())
    planned = model.request_latency()
    drawn = _quantiles(_llm_draws(model, 0, DRAWS, random.Random(11)))
    for k in QUANTILES:
        print(f"  max_tokens {max_tokens} {k}: planned {planned[k]:.3f} s, Monte Carlo {drawn[k]:.3f} s "
              f"({planned[k] / drawn[k] - 1:+.2%})")
        assert planned[k] == pytest.approx(drawn[k], rel=0.02), k
    if max_tokens == 1000:  # uncut, the output spread is a quarter of the p95: its absence fails
        lat = model.calls[0].latency
        median_output = lat.ttft.ppf(0.95) + 180 / lat.tokens_per_second  # TTFT's p95 + the median output
        assert median_output < 0.8 * planned["p95"], "the test cannot tell the output spread from its absence"


def test_mixture_of_an_llm_call_and_a_rest_call_matches_a_monte_carlo():
    """An item of two calls (a partner lookup, then a completion): the per-request quantiles are
    those of the mixture of both calls' durations, each from its own latency object."""
    model = _model([{"target": "cardgenius", "endpoint": "recommend"},
                    {"target": "openai", "model": "gpt-4o-mini", "max_tokens": 1000, "prompt_tokens": 20}],
                   _sets(), targets={"openai": {"profile": "openai"}, "cardgenius": {"profile": "cardgenius"}})
    planned = model.request_latency()
    rng = random.Random(5)
    rest = model.loaded.profiles["cardgenius"]
    ep = next(e for e in rest.endpoints if e.name == "recommend")
    lat = ep.latency or rest.latency
    sampler = LogNormal(lat.median, lat.p99, rng)
    draws = [sampler.sample() for _ in range(DRAWS)] + _llm_draws(model, 1, DRAWS, rng)
    drawn = _quantiles(draws)
    assert planned["mean"] == pytest.approx(sum(draws) / len(draws), rel=0.02)
    for k in QUANTILES:
        print(f"  mixture {k}: planned {planned[k]:.3f} s, Monte Carlo {drawn[k]:.3f} s ({planned[k] / drawn[k] - 1:+.2%})")
        assert planned[k] == pytest.approx(drawn[k], rel=0.02), k


def test_planned_p95_matches_the_p95_measured_on_a_mock_run(tmp_path):
    """800 calls against a seeded mock at time scale 0.2 (a call lasts ~1 s of wall time, so a
    busy machine's few ms per call stay < 1%). The bar is three standard errors of a sample p95
    of 800 (its density from the planned distribution), ~11%; the median-output tail is ~25% low."""
    n = 800
    rows = tmp_path / "in.jsonl"
    rows.write_text("".join(json.dumps({"id": f"r{i}", "prompt": f"describe product {i}"}) + "\n" for i in range(n)))
    doc = {"name": "tail-run", "input": {"path": str(rows), "id": "id"}, "output": {"path": str(tmp_path / "out.jsonl")},
           "targets": {"openai": {"profile": "openai"}},
           "mock": {**_sets({"limits.requests_per_minute": 100000, "limits.tokens_per_minute": 100000000})},
           "steps": [{"name": "chat", "target": "openai", "method": "POST", "path": "/v1/chat/completions",
                      "json": {"model": "gpt-4o-mini", "max_tokens": 1000,
                               "messages": [{"role": "user", "content": "{{ row.prompt }}"}]}}],
           "workers": 100, "timeout": 120}
    scenario = tmp_path / "tail-run.yaml"
    scenario.write_text(yaml.safe_dump(doc, sort_keys=False))
    loaded = load_scenario(scenario)
    planned = CapacityModel(loaded).request_latency()
    with start_mock_for(loaded, 0.2, seed=3) as mock:
        doc["targets"]["openai"]["mock_url"] = mock.url("openai")
        scenario.write_text(yaml.safe_dump(doc, sort_keys=False))
        proc = subprocess.run([sys.executable, "-m", "harness", "run", str(scenario), "--time-scale", "0.2", "--quiet",
                               "--summary-json", str(tmp_path / "summary.json")],
                              capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["requests_by_outcome"] == {"ok": n}
    measured = summary["latency_real_seconds"]["p95"]
    lat = CapacityModel(loaded).calls[0].latency
    density = 0.01 / (lat.ppf(0.955) - lat.ppf(0.945))
    bar = 3 * math.sqrt(0.95 * 0.05 / n) / density / planned["p95"]
    median_output = lat.ttft.ppf(0.95) + 180 / lat.tokens_per_second
    print(f"  p95: planned {planned['p95']:.3f} s, measured {measured:.3f} s ({measured / planned['p95'] - 1:+.2%}, "
          f"bar {bar:.1%}); at the median output length it would be {median_output:.3f} s")
    assert abs(measured / planned["p95"] - 1) <= bar
    assert abs(median_output / measured - 1) > bar, "the run cannot tell the output spread from its absence"
