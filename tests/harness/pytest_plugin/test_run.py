"""harness_run: a scenario, or an async item function, on the mock; the typed summary."""

from __future__ import annotations

import pytest

from harness import RunSummary

CHAT = {
    "name": "chat",
    "input": {"id": "id"},
    "targets": {"openai": {"profile": "openai"}},
    "steps": [{"name": "chat", "target": "openai", "method": "POST", "path": "/v1/chat/completions",
               "json": {"model": "gpt-4o-mini", "max_tokens": 20,
                        "messages": [{"role": "user", "content": "{{ row.prompt }}"}]},
               "keep": {"answer": "{{ response.choices[0].message.content }}"}}],
    "workers": 4,
}
ROWS = [{"id": f"p{i}", "prompt": f"question {i}"} for i in range(12)]


def test_a_scenario_runs_on_the_given_mock(harness_mock, harness_run):
    mock = harness_mock(["openai"], time_scale=0.01, seed=3)
    summary = harness_run(CHAT, mock=mock, rows=ROWS)
    assert isinstance(summary, RunSummary)
    assert (summary.items_total, summary.items_done, summary.items_failed) == (12, 12, 0)
    assert summary.time_scale == 0.01 and summary.items_per_second_real > 0
    lat = summary.latency_real_seconds
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    assert [r["id"] for r in harness_run.rows(summary)] == [r["id"] for r in ROWS]
    assert all(r["answer"] for r in harness_run.rows(summary))
    assert mock.total("openai").ok == 12  # the runner used this mock, not one of its own
    with pytest.raises(ValueError, match="0.5"):
        harness_run(CHAT, mock=mock, rows=ROWS, time_scale=0.5)


def test_an_item_function_runs_through_the_runner(harness_mock, harness_run):
    mock = harness_mock(["openai"], time_scale=0.01, seed=3)
    mock.limits("openai", requests_per_minute=6)  # 429s (the runner may not learn the limit): retries absorb them

    async def summarise(item, call):
        if item["row"]["id"] == "p3":
            raise RuntimeError("this row is broken")
        answer = await call("openai", "POST", "/v1/chat/completions", endpoint="chat", json={
            "model": "gpt-4o-mini", "max_tokens": 20, "messages": [{"role": "user", "content": item["row"]["prompt"]}]})
        return {"answer": answer["choices"][0]["message"]["content"]}

    target = {"profile": "openai", "limits": {"learn": False}}
    summary = harness_run.function(summarise, targets={"openai": target}, rows=ROWS, mock=mock, workers=4,
                                   id="id", retry={"max_attempts": 30, "base_delay": 0.01, "max_delay": 0.2})
    assert (summary.items_done, summary.items_failed) == (11, 1)
    rate_limited = summary.requests_by_outcome.get("rate_limited", 0)
    assert rate_limited > 0 and rate_limited == mock.total("openai").rate_limited
    assert list(summary.failure_reasons) == ["RuntimeError: this row is broken"]
    rows = {r["id"]: r for r in harness_run.rows(summary)}
    assert rows["p3"]["status"] == "failed" and rows["p0"]["answer"]


def test_only_async_functions(harness_run):
    with pytest.raises(TypeError, match="async"):
        harness_run.function(lambda item, call: {}, targets={"openai": "openai"}, rows=[])
