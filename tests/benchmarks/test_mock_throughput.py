"""Bar: one mock process on one core serves non-streaming OpenAI chat completions, headers and
limits on, at >= 0.55 of the req/s of a bare aiohttp JSON endpoint served the same way (uvloop,
one process, same core) in the same run. DESIGN.md states the bar as ">= 8,000 req/s"; the
slowest bare endpoint a CI run of this VM has measured served 14,571 req/s (8,000 / 14,571 =
0.55), and the same code has measured up to 32,860: an absolute req/s measures the machine's day
as much as the mock, the ratio measured side by side measures the mock. The absolute req/s is
recorded (and compared with the baseline) too. The mock's front (mock_servers/front.py) answers
these requests without aiohttp's server machinery; ``--aiohttp-only`` answered 0.27-0.39 of the
bare endpoint.

wrk (one thread, 64 keep-alive connections, on the other core) stops after a fixed number of
answers (wrk/count.lua), so a benchmark round is the time to serve that many requests; every
answer must be a 200 carrying all six ``x-ratelimit-*`` headers (wrk checks each one).

Both are judged on the median req/s of the quiet rounds (tests/benchmarks/rounds.py: the rest
of the machine took at most BENCH_MAX_OTHER_CPU cores meanwhile); a busy machine gets extra
rounds, and with too few quiet ones the benchmark fails as "not measured". Each of the mock's
rounds is a pair, the mock's wrk run and then the bare endpoint's on the same core: the ratio
is the median of the pairs' ratios (the VM's speed moves by 20% within a minute: the bare
endpoint measured 13,345 req/s just before the mock's rounds and 10,876 just after them).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import run_wrk
from .rounds import Rounds, fig, machine_fig, record, require_measured

BAR_RPS = 8_000      # DESIGN.md's figure
BAR_RATIO = 0.55     # = 8,000 / 14,571, the slowest bare endpoint of a CI run: the same bar, side by side
CONNECTIONS = 64
MOCK_REQUESTS = 20_000   # ~1.7 s a round at ~12,000 req/s
BARE_REQUESTS = 30_000   # ~0.8 s a round at ~38,000 req/s
ROUNDS = 5
BARE_ROUNDS = 3
EXTRA_ROUNDS = 4
QUIET_ROUNDS = 3  # a median needs at least this many quiet rounds
BARE_QUIET_ROUNDS = 2
RATELIMIT_HEADERS = [f"x-ratelimit-{k}-{d}" for k in ("limit", "remaining", "reset") for d in ("requests", "tokens")]

CHAT_BODY = json.dumps({"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 16})

# gpt-4.1-nano: a non-reasoning model, so max_tokens is accepted and every output token is content.
# The RPM and TPM buckets stay on (every answer carries its x-ratelimit-* headers) but never
# refuse; latency is next to nothing, so the round measures the server, not its sleeps.
MOCK_SETS = [
    "openai.limits.requests_per_minute=1000000000",
    "openai.limits.tokens_per_minute=1000000000000",
    "openai.latency.median=0.000001",
    "openai.latency.p99=0.000001",
    "openai.latency.tokens_per_second=1000000000",
    "openai.output_tokens.median=8",
    "openai.output_tokens.p99=8",
]


def _drive(benchmark, rounds: Rounds, run, n: int, want: int) -> None:
    """``n`` timed rounds after one warm-up, then extra untimed ones while too few were quiet."""
    started = []

    def one() -> None:
        if started:
            rounds.measure(run)
        else:
            started.append(run())  # the warm-up round is not counted

    benchmark.pedantic(one, rounds=n, warmup_rounds=1, iterations=1)
    rounds.top_up(run, want, EXTRA_ROUNDS)


def _summary(rounds: Rounds, want: int) -> dict[str, Any]:
    runs = rounds.all
    return {
        "rps_median": rounds.median("rps", want),
        "rps_rounds": [round(r["rps"]) for r in runs],
        "rps_per_server_cpu_second_median": rounds.median("rps_cpu", want),
        "server_cpu_share_rounds": [round(r.get("server_cpu_share", 0), 2) for r in runs],
        "responses": sum(r["responses"] for r in runs),
        "non200": sum(r["non200"] for r in runs),
        "missing_headers": sum(r["missing_headers"] for r in runs),
        "socket_errors": sum(r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"] for r in runs),
        "wrk_latency_p99_ms": max(r["latency_p99_us"] for r in runs) / 1000,
        **rounds.info(),
    }


def _bare_run(served) -> dict[str, Any]:
    return run_wrk(served.url + "/v1/chat/completions", stop_after=BARE_REQUESTS, connections=CONNECTIONS,
                   method="POST", body=CHAT_BODY, server_pid=served.pid)


def _bare(benchmark, served, bench_results) -> dict[str, Any]:
    rounds = Rounds(lambda: [served.pid])
    _drive(benchmark, rounds, lambda: _bare_run(served), BARE_ROUNDS, BARE_QUIET_ROUNDS)
    s = _summary(rounds, BARE_QUIET_ROUNDS)
    bench_results["bare"] = s
    return s


@pytest.mark.bench
def test_bare_aiohttp_json_throughput(benchmark, bare_server, bench_results):
    """The yardstick: a bare aiohttp JSON POST endpoint on uvloop, one core."""
    s = _bare(benchmark, bare_server, bench_results)
    benchmark.extra_info.update(s)
    record(benchmark, rps=machine_fig(s["rps_median"], "req/s", "higher", digits=0))
    print(f"\nbare aiohttp: {s['rps_median']} req/s median of quiet rounds {s['rps_rounds']} "
          f"(others {s['others_cores_rounds']} cores)")
    assert s["non200"] == 0 and s["socket_errors"] == 0, s
    require_measured(benchmark)


@pytest.mark.bench
def test_openai_chat_throughput_one_core(benchmark, pinned_mock, request):
    """Non-streaming OpenAI chat completions/s >= 0.55 x the bare endpoint's, RPM/TPM buckets on."""
    mock = pinned_mock(["openai"], sets=MOCK_SETS)
    served = request.getfixturevalue("bare_server")
    url = mock.url("openai") + "/v1/chat/completions"

    def run() -> dict[str, Any]:
        """One pair: the mock's round, then the bare endpoint's right after it on the same core."""
        r = run_wrk(url, stop_after=MOCK_REQUESTS, connections=CONNECTIONS, method="POST", body=CHAT_BODY,
                    authorization="Bearer sk-bench", server_pid=mock.proc.pid, require_headers=RATELIMIT_HEADERS)
        bare = _bare_run(served)
        r["bare_rps"] = bare["rps"]
        r["ratio"] = r["rps"] / bare["rps"] if bare["rps"] else 0.0
        return r

    rounds = Rounds(lambda: [mock.proc.pid, served.pid])
    _drive(benchmark, rounds, run, ROUNDS, QUIET_ROUNDS)
    s = _summary(rounds, QUIET_ROUNDS)
    ratio = rounds.median("ratio", QUIET_ROUNDS)
    s["bare_rps_rounds"] = [round(r["bare_rps"]) for r in rounds.all]
    s["ratio_rounds"] = [round(r["ratio"], 3) for r in rounds.all]
    s["ratio_to_bare"] = ratio
    s["bar_rps"] = BAR_RPS
    s["bar_ratio_to_bare"] = BAR_RATIO
    benchmark.extra_info.update(s)
    record(benchmark, rps=machine_fig(s["rps_median"], "req/s", "higher", digits=0),
           # 20%: pairs a few seconds apart still differ (the VM's speed moves within the minute)
           ratio_to_bare=fig(ratio, "x", "higher", 0.20, digits=3))
    print(f"\nopenai mock: {s['rps_median']} req/s median of quiet rounds {s['rps_rounds']} (others "
          f"{s['others_cores_rounds']} cores); bare aiohttp right after each {s['bare_rps_rounds']}; "
          f"ratios {s['ratio_rounds']}, median {ratio}")
    assert s["non200"] == 0, s
    assert s["missing_headers"] == 0, s  # every answer carried all six x-ratelimit-* headers
    assert s["socket_errors"] == 0, s
    require_measured(benchmark)
    assert ratio >= BAR_RATIO, s
