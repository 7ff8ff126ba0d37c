"""Bar: streams are paced at the profile's ``tokens_per_second``, within 5%.

20 concurrent SSE chat completions of exactly 200 tokens (output_tokens pinned, max_tokens
200) at 100 tokens/s; the load generator (other core) times each stream's content chunks and
the pace is (tokens - 1) / (last content chunk - first content chunk).
"""

from __future__ import annotations

import json
import statistics

import pytest

TPS, TOKENS, STREAMS = 100, 200, 20
TOLERANCE = 0.05

SETS = [
    "openai.limits.requests_per_minute=1000000",
    "openai.limits.tokens_per_minute=1000000000",
    f"openai.latency.tokens_per_second={TPS}",
    "openai.latency.ttft=0.05",
    f"openai.latency.median={0.05 + TOKENS / TPS}",
    f"openai.latency.p99={0.05 + TOKENS / TPS}",
    f"openai.output_tokens.median={TOKENS}",
    f"openai.output_tokens.p99={TOKENS}",
]


@pytest.mark.bench
def test_stream_pace(benchmark, pinned_mock, loadgen):
    mock = pinned_mock(["openai"], sets=SETS, seed=1)
    body = json.dumps({
        # a non-reasoning model: every output token is a content chunk
        "model": "gpt-4.1-nano", "messages": [{"role": "user", "content": "Write two hundred tokens."}],
        "max_tokens": TOKENS, "stream": True, "stream_options": {"include_usage": True},
    })
    command = dict(url=mock.url("openai") + "/v1/chat/completions", k=STREAMS, body=body,
                   headers={"Authorization": "Bearer sk-bench", "Content-Type": "application/json"})
    results: list[dict] = []
    benchmark.pedantic(lambda: results.append(loadgen("streams", **command)), rounds=3, iterations=1)
    streams = [s for r in results for s in r["streams"]]
    paces = [s["tps"] for s in streams]
    worst = max(paces, key=lambda p: abs(p / TPS - 1))
    benchmark.extra_info.update({
        "tokens_per_second": TPS, "tokens": TOKENS, "concurrent_streams": STREAMS, "streams": len(streams),
        "pace_mean": round(statistics.fmean(paces), 3), "pace_min": round(min(paces), 3),
        "pace_max": round(max(paces), 3), "worst_error": round(worst / TPS - 1, 4),
        "statuses": [r["statuses"] for r in results],
    })
    print(f"\nstream pace: mean {statistics.fmean(paces):.2f} tokens/s, range {min(paces):.2f}..{max(paces):.2f} "
          f"(configured {TPS})")
    assert all(r["statuses"] == {"200": STREAMS} for r in results), results
    assert all(s["tokens"] == TOKENS for s in streams), streams
    assert abs(worst / TPS - 1) <= TOLERANCE, paces
