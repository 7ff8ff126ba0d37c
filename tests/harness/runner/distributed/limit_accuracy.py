"""Measuring the shared limit: N worker processes, 64 requests in flight each, against one
OpenAI mock with an RPM and a TPM limit; what the mock accepted over a steady window of at least
60 scaled seconds against rate x T + burst, and the 429 share.

The mock (time scale 0.05) is scraped every 0.1 s; the window leaves out the first 25 (every process has
started its chunk and caught up with the schedule, on a busy machine) and the
last 5 scaled seconds of the run (as tests/harness/runner/test_run_limits.py does). Every call
costs the same tokens (prompt estimate + max_tokens, OpenAI's admission rule, which the mock
applies), so tokens accepted = 200s x that cost. Over-admission = accepted / (rate x T + burst) - 1.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from mock_servers.text import estimate_message_tokens

from tests.harness.runutil import Scraper, metric_sum, write_scenario
from tests.runner_support import ROOT

TIME_SCALE = 0.05
MESSAGES = [{"role": "user", "content": "Describe item."}]
MAX_TOKENS = 60
COST = estimate_message_tokens(MESSAGES) + MAX_TOKENS
RAMP, TAIL, MIN_WINDOW = 25.0, 5.0, 60.0  # scaled seconds (ramp: every process has started its chunk)
IN_FLIGHT = 64


@dataclass
class Accuracy:
    processes: int
    binding: str
    accepted: float          # calls (requests) or tokens the mock accepted in the window
    allowed: float           # rate x T + burst, same unit
    window_scaled_s: float
    share_429: float

    @property
    def over_admission(self) -> float:
        return self.accepted / self.allowed - 1.0

    def line(self) -> str:
        return (f"N={self.processes} {self.binding}: accepted {self.accepted:.0f} vs rate x T + burst "
                f"{self.allowed:.0f} over {self.window_scaled_s:.0f} scaled s: over-admission "
                f"{self.over_admission:+.2%}, 429s {self.share_429:.2%}")


def measure(tmp_path, mock_server, broker: str, processes: int, rpm: int, tpm: int, binding: str) -> Accuracy:
    # constant latency (1 s scaled: fixed TTFT and output length), so the mock counts each answer
    # a fixed time after its admission and the window's edges cut the admission schedule cleanly
    mock = mock_server(["openai"], time_scale=TIME_SCALE, seed=11,
                       sets=[f"openai.limits.requests_per_minute={rpm}", f"openai.limits.tokens_per_minute={tpm}",
                             "openai.latency.median=1.0", "openai.latency.p99=1.0",
                             "openai.output_tokens.median=30", "openai.output_tokens.p99=30"])
    calls_per_min = rpm if binding == "requests" else tpm / COST
    items = int(calls_per_min / 60 * (RAMP + MIN_WINDOW + TAIL + 20))
    doc = {
        "targets": {"openai": {"profile": "openai", "mock_url": mock.url("openai"),
                               "limits": {"requests_per_minute": rpm, "tokens_per_minute": tpm}}},
        "steps": [{"name": "chat", "target": "openai", "path": "/v1/chat/completions",
                   "json": {"model": "gpt-5-nano", "max_completion_tokens": MAX_TOKENS, "messages": MESSAGES},
                   "keep": {"tokens": "{{ response.usage.completion_tokens }}"}}],
        "workers": IN_FLIGHT * processes,
        "timeout": 60,
        "output": {"columns": ["id", "status", "error", "tokens"]},
    }
    wd = write_scenario(tmp_path, doc, items)
    cmd = [sys.executable, "-m", "harness", "run", str(wd.scenario), "--engine", "celery", "--quiet",
           "--broker", broker, "--processes", str(processes), "--time-scale", str(TIME_SCALE),
           "--summary-json", str(wd.summary)]
    scraper = Scraper(mock.base_url + "/metrics", interval=0.1, limit_seconds=150.0)
    with scraper.running():
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=150)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert wd.summary_data()["items_done"] == items

    def count(text: str, status: str) -> float:
        return metric_sum(text, "mock_requests_total", provider="openai", status=status)

    def arrived(text: str) -> float:
        # answered + being served: the requests that reached the mock by then (the admission
        # schedule), not when it got round to answering them (which stalls of a busy machine move)
        return count(text, "200") + count(text, "429") + metric_sum(text, "mock_in_flight_requests", provider="openai")

    # each scrape at the midpoint of its round trip, with the round trip
    timed = [((sent + done) / 2, done - sent, text) for (sent, done), (_, text) in zip(scraper.spans, scraper.samples)]
    all_samples = [(t, rtt, arrived(text), count(text, "429")) for t, rtt, text in timed]
    ok_final, n429 = count(timed[-1][2], "200"), all_samples[-1][3]
    # the window's ends: scrapes answered within 5 ms (their time known to +-2.5 ms), so a
    # scrape delayed by a busy machine does not stretch or shrink the window
    samples = [(t, ok, q) for t, rtt, ok, q in all_samples if rtt < 0.005] or \
        [(t, ok, q) for t, rtt, ok, q in all_samples]
    assert ok_final == items
    t_begin = next(t for t, _r, ok, _ in all_samples if ok > 0)
    t_end = next(t for t, _r, ok, _ in all_samples if ok >= items + n429)
    lo, hi = t_begin + RAMP * TIME_SCALE, t_end - TAIL * TIME_SCALE
    window = [s for s in samples if lo <= s[0] <= hi]
    (t0, ok0, _), (t1, ok1, _) = window[0], window[-1]
    span = (t1 - t0) / TIME_SCALE
    assert span >= MIN_WINDOW, f"steady window only {span:.1f} scaled s"
    unit = 1 if binding == "requests" else COST
    per_scaled_s = (rpm if binding == "requests" else tpm) / 60
    burst = 1 * unit  # the scenario's burst: one call's worth
    return Accuracy(processes, binding, (ok1 - ok0) * unit, per_scaled_s * span + burst, span,
                    n429 / (ok_final + n429))
