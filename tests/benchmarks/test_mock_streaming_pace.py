"""Bar: streams are paced at the profile's ``tokens_per_second``, within 5%.

20 concurrent SSE chat completions of exactly 200 tokens (output_tokens pinned, max_tokens
200) at 100 tokens/s; the load generator (other core) times each stream's content chunks and
the pace is (tokens - 1) / (last content chunk - first content chunk). Three rounds; the judged
figure is the median over the quiet rounds (tests/benchmarks/rounds.py) of each round's worst
stream, and without two quiet rounds (after two extra ones) the benchmark fails as "not measured".
"""

from __future__ import annotations

import json
import statistics

import pytest

from .rounds import Rounds, fig, record, require_measured

TPS, TOKENS, STREAMS = 100, 200, 20
TOLERANCE = 0.05
ROUNDS, QUIET_ROUNDS, EXTRA_ROUNDS = 3, 2, 2

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
    rounds = Rounds(lambda: [mock.proc.pid, loadgen.proc.pid])

    def one() -> dict:
        r = loadgen("streams", **command)
        r["worst_abs_error"] = max(abs(st["tps"] / TPS - 1) for st in r["streams"]) if r["streams"] else 1.0
        return r

    benchmark.pedantic(lambda: rounds.measure(one), rounds=ROUNDS, iterations=1)
    rounds.top_up(one, QUIET_ROUNDS, EXTRA_ROUNDS)
    streams = [s for r in rounds.all for s in r["streams"]]
    paces = [s["tps"] for s in streams]
    worst = rounds.median("worst_abs_error", QUIET_ROUNDS)
    benchmark.extra_info.update({
        "tokens_per_second": TPS, "tokens": TOKENS, "concurrent_streams": STREAMS, "streams": len(streams),
        "pace_mean": round(statistics.fmean(paces), 3), "pace_min": round(min(paces), 3),
        "pace_max": round(max(paces), 3), "worst_abs_error_rounds": [round(r["worst_abs_error"], 4) for r in rounds.all],
        "statuses": [r["statuses"] for r in rounds.all], **rounds.info(),
    })
    record(benchmark, worst_pace_error_pct=fig(None if worst is None else 100 * worst, "%", "lower", 0.10,
                                               slack=2.0, digits=2))
    print(f"\nstream pace: mean {statistics.fmean(paces):.2f} tokens/s, range {min(paces):.2f}..{max(paces):.2f} "
          f"(configured {TPS}); worst per round {benchmark.extra_info['worst_abs_error_rounds']}, others "
          f"{rounds.info()['others_cores_rounds']} cores")
    assert all(r["statuses"] == {"200": STREAMS} for r in rounds.all), rounds.all
    assert all(s["tokens"] == TOKENS for s in streams), streams
    require_measured(benchmark, rounds)
    assert worst <= TOLERANCE, benchmark.extra_info
