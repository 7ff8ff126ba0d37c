"""The Batch API route: batches, queue limits, cost and completion arithmetic, recommendation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, stats
from typer.testing import CliRunner

from harness.cli import app
from harness.planning.batch_route import parse_duration, plan_batch_route, terms_for
from harness.planning.planner import CapacityModel
from harness.scenario import load_scenario, scenario_from_data
from mock_servers.profile import lognormal_sigma

ROOT = Path(__file__).resolve().parents[3]
SEED002 = ROOT / "scenarios" / "seeds" / "002-drive-claude.yaml"
runner = CliRunner()


def _route(loaded, items, workers, **kw):
    model = CapacityModel(loaded)
    return model, plan_batch_route(model, items, model.predict(workers, items), **kw)


def test_seed002_message_batches_arithmetic():
    loaded = load_scenario(SEED002)
    model, route = _route(loaded, 15000, 10)
    assert route.applicable and route.rounds == 1 and route.recommended == "batch"
    (call,) = route.calls
    claude = model.calls[1]
    # 15,000 requests of 32,618 + 120 bytes = 491 MB: two batches under Anthropic's 256 MB
    assert call.bytes_per_request == 32618 + 120
    assert call.batches == math.ceil(15000 * 32738 / (256 * 1024 ** 2)) == 2 and call.per_batch == 7500
    assert call.concurrent == 2  # 100,000 requests in the processing queue hold both
    # cost: the Claude calls at half price, the Drive downloads (free) online
    assert route.cost == pytest.approx(15000 * claude.dollars * 0.5)
    assert route.online_cost == pytest.approx(model.predict(10, 15000).cost_total)
    assert route.cost == pytest.approx(route.online_cost / 2, rel=0.01)
    # the downloads run online first, paced by the Drive limit of 100/min: 2.5 h
    assert route.prep_seconds == pytest.approx(15000 / (100 / 60), rel=0.01)
    # completion: batch k is ready when its half of the downloads is done, then one turnaround
    med, p99 = 900.0, 10800.0
    dist = stats.lognorm(lognormal_sigma(med, p99), scale=med)
    prep = route.prep_seconds
    cdf = lambda t: dist.cdf(max(t - prep / 2, 0)) * dist.cdf(max(t - prep, 0))  # noqa: E731
    want_p99 = optimize.brentq(lambda t: cdf(t) - 0.99, prep, prep + 10 * p99)
    grid = np.linspace(0, prep + 20 * p99, 200001)
    want_mean = float(np.trapezoid([1 - cdf(t) for t in grid[::100]], grid[::100]))
    assert route.p99_seconds == pytest.approx(want_p99, rel=0.04)
    assert route.expected_seconds == pytest.approx(want_mean, rel=0.02)
    assert route.p99_seconds < route.online_seconds  # 67.5 h online, bound by input tokens/min
    assert "no deadline" in route.recommendation or "faster" in route.recommendation


def test_seed002_plan_command_shows_the_route_and_recommends_it():
    res = runner.invoke(app, ["plan", str(SEED002), "--workers", "10"])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "Batch API route" in out and "batch API" in out and "$212.49" in out and "$424.98" in out
    assert "recommendation: batch" in out
    js = runner.invoke(app, ["plan", str(SEED002), "--workers", "10", "--json"])
    doc = json.loads(js.output)
    assert doc["batch_route"]["recommended"] == "batch" and doc["batch_route"]["calls"][0]["batches"] == 2
    # a deadline below the batch route's p99, and online cannot make it either: the faster route
    res = runner.invoke(app, ["plan", str(SEED002), "--workers", "10", "--deadline", "4h"])
    assert "recommendation: batch" in res.output and "neither route" in res.output


def _openai(model="gpt-4o-mini", prompt="x" * 400, steps=1, stream=False, items=1000):
    step = {"name": "chat", "target": "openai", "method": "POST", "path": "/v1/chat/completions",
            "json": {"model": model, "max_tokens": 200, "messages": [{"role": "user", "content": prompt}]}}
    if stream:
        step["json"]["stream"] = True
    all_steps = [step] + [{**step, "name": f"chat{i}", "json": {**step["json"], "messages": [
        {"role": "user", "content": "{{ steps.chat.answer }}"}]}} for i in range(1, steps)]
    data = {"name": "t", "input": {"path": "none.jsonl"}, "targets": {"openai": {"profile": "openai"}},
            "steps": all_steps, "workers": 50, "items": items}
    return scenario_from_data(data, ROOT / "t.yaml")


def test_a_short_deadline_keeps_the_online_run():
    loaded = _openai(items=200)
    _, free = _route(loaded, 200, 50)
    assert free.recommended == "batch" and free.deciding_factor == "cost"  # minutes online, but half price
    _, tight = _route(loaded, 200, 50, deadline=parse_duration("1h"))
    assert tight.recommended == "online" and tight.deciding_factor == "--deadline"
    assert "below the batch route's p99" in tight.recommendation


def test_budget_decides_when_only_the_batch_fits_it():
    loaded = _openai(items=200)
    _, route = _route(loaded, 200, 50)
    _, within = _route(loaded, 200, 50, budget=(route.cost + route.online_cost) / 2)
    assert within.recommended == "batch" and within.deciding_factor == "--budget"


def test_openai_enqueued_tokens_make_batches_run_one_after_another():
    loaded = _openai(model="gpt-4o", prompt="y" * 4000, items=1000)  # ~1,000 prompt tokens; queue 90,000
    model, route = _route(loaded, 1000, 50)
    (call,) = route.calls
    terms = terms_for(loaded.profiles["openai"], "gpt-4o")
    assert terms.queue_tokens == 90_000
    fit = int(90_000 // call.prompt_tokens)
    assert call.batches == math.ceil(1000 / fit) and call.concurrent == 1
    sigma = lognormal_sigma(terms.turnaround_median, terms.turnaround_p99)
    mean_turn = terms.turnaround_median * math.exp(sigma ** 2 / 2)
    assert route.expected_seconds == pytest.approx(call.batches * mean_turn, rel=0.05)


def test_streaming_and_chained_calls_say_why():
    _, stream = _route(_openai(stream=True, items=100), 100, 10)
    assert not stream.applicable and stream.deciding_factor == "streaming"
    _, chain = _route(_openai(steps=2, items=100), 100, 10)
    assert chain.rounds == 2 and chain.recommended == "online"
    assert chain.deciding_factor == "each answer before the next call"


def test_no_llm_target_no_route_and_durations_parse():
    loaded = load_scenario(ROOT / "scenarios" / "seeds" / "003-cardgenius.yaml")
    _, route = _route(loaded, 1000, 10)
    assert not route.applicable and "no OpenAI or Anthropic call" in route.reason
    assert parse_duration("1h30m") == 5400 and parse_duration("2d") == 172800 and parse_duration("90") == 90
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_loadspec_from_a_plan_has_the_batch_route(tmp_path):
    res = runner.invoke(app, ["loadspec", "--plan", str(SEED002), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "LOAD_SPEC.md").read_text()
    assert "## Batch API route" in md and "$212.49" in md and "**Recommendation:** batch" in md
    doc = json.loads((tmp_path / "load_spec.json").read_text())
    assert doc["batch_route"]["calls"][0]["batches"] == 2 and doc["sustained_rps"] > 0


def test_reports_get_the_batch_route_section(tmp_path):
    from harness.commands.batch_plan import add_to_reports, route_for_scenario

    md, js = tmp_path / "report.md", tmp_path / "report.json"
    md.write_text("# Reproduction\n")
    js.write_text(json.dumps({"points": []}))
    route = route_for_scenario(load_scenario(SEED002), 15000, [1, 5, 10, 20, 50])
    add_to_reports(route, md, js)
    assert md.read_text().startswith("# Reproduction") and "## Batch API route" in md.read_text()
    assert json.loads(js.read_text())["batch_route"]["online_workers"] == 50  # the fastest online row
