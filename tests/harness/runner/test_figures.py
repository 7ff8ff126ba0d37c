"""Per-request figures: bounded, uniform, mergeable, stored in the checkpoint, never a secret."""

from __future__ import annotations

import random
import statistics
import sys
import tracemalloc

from harness.runner.checkpoint import Checkpoint
from harness.runner.figures import HEADER_SAMPLES, RESERVOIR, CallFigures, FigureBook


def test_reservoir_is_bounded_and_uniform():
    f = CallFigures("t", "e", None, rng=random.Random(1))
    n = 100_000
    for i in range(n):
        f.add(float(i), "200", 10, 20, 1, 2)
    assert f.calls == f.ok == n and len(f.reservoir) == RESERVOIR
    assert f.bytes_out == 10 * n and f.bytes_in == 20 * n and f.tokens_out == 2 * n
    kept = [r[0] for r in f.reservoir]
    # a uniform sample of 0..n-1: mean n/2 within 4 standard errors, quartiles in place
    se = (n / (12 ** 0.5)) / RESERVOIR ** 0.5
    assert abs(statistics.fmean(kept) - n / 2) < 4 * se
    q1, _, q3 = statistics.quantiles(kept, n=4)
    assert abs(q1 - n / 4) < 0.05 * n and abs(q3 - 3 * n / 4) < 0.05 * n


def test_failures_are_counted_not_sampled_and_latency_is_real_time():
    f = CallFigures("t", "e", "m", time_scale=0.01)
    f.add(0.03, "200", 5, 7, 10, 20)
    f.add(0.001, "429", 5, 100, ok=False)
    f.add(0.5, "timeout", 5, 0, ok=False)
    assert f.status == {"200": 1, "429": 1, "timeout": 1} and f.calls == 3 and f.ok == 1
    assert f.reservoir == [(3.0, 10, 20, 5, 7)]  # 0.03 wall s at 0.01 = 3 real s
    assert f.bytes_in == 107


def test_headers_keep_rate_limit_values_only_and_are_bounded():
    f = CallFigures("t", "e", None)
    headers = {"x-ratelimit-limit-requests": "500", "Authorization": "Bearer sk-secret",
               "x-api-key": "sk-ant-secret", "retry-after-ms": "20", "Content-Type": "application/json",
               "Date": "Tue, 01 Dec 2026 08:00:00 GMT"}
    for _ in range(5000):
        if f.wants_headers():
            f.add_headers(200, headers)
    assert HEADER_SAMPLES <= f._seen_headers and len(f.headers) == HEADER_SAMPLES
    kept = f.headers[0][2]
    assert set(kept) == {"x-ratelimit-limit-requests", "retry-after-ms", "date"}
    assert "secret" not in repr(f.to_dict())
    f2 = CallFigures("t", "e", None)
    f2.add_headers(200, {"date": "x", "content-type": "y"})  # nothing about limits: nothing kept
    assert f2.headers == []


def test_book_round_trips_merges_and_resumes(tmp_path):
    book = FigureBook(0.5, seed=2)
    a = book.slot("openai", "chat", "gpt-4o-mini", "openai", "openai")
    for i in range(3000):
        a.add(0.5, "200", 100, 900, 20, 150)
    a.add(0.1, "429", 100, 50, ok=False)
    with Checkpoint(tmp_path / "c.sqlite", fingerprint="f", resume=False) as ckpt:
        ckpt.set_figures(book.to_dict())
    with Checkpoint.open_existing(tmp_path / "c.sqlite") as ckpt:
        stored = ckpt.get_figures()
    back = FigureBook.from_dict(stored)
    b = back.slots[("openai", "chat", "gpt-4o-mini")]
    assert (b.calls, b.ok, b.status, b.kind) == (3001, 3000, {"200": 3000, "429": 1}, "openai")
    assert b.reservoir[0] == (1.0, 20, 150, 100, 900)
    # two runs of 3000 calls: counts add, the reservoir stays bounded and half from each
    other = FigureBook.from_dict(stored)
    o = other.slots[("openai", "chat", "gpt-4o-mini")]
    o.reservoir = [(2.0,) + r[1:] for r in o.reservoir]
    back.merge(other)
    m = back.slots[("openai", "chat", "gpt-4o-mini")]
    assert m.ok == 6000 and m.status["429"] == 2 and len(m.reservoir) == RESERVOIR
    share = sum(1 for r in m.reservoir if r[0] == 2.0) / RESERVOIR
    assert abs(share - 0.5) < 0.01
    # --resume continues the stored slots
    resumed = FigureBook(0.5)
    resumed.resume_from(stored)
    resumed.slot("openai", "chat", "gpt-4o-mini").add(0.5, "200", 1, 1)
    assert resumed.slots[("openai", "chat", "gpt-4o-mini")].ok == 3001


def test_memory_of_a_slot_is_bounded():
    tracemalloc.start()
    f = CallFigures("t", "e", None)
    for i in range(200_000):
        f.add(0.1 + (i % 7) * 0.01, "200", 500, 35000, 0, 0)
        if f.wants_headers():
            f.add_headers(200, {"x-ratelimit-limit": "600", "x-ratelimit-remaining": str(i % 600)})
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert current < 3 * 1024 * 1024, current  # a few MB whatever the run's length
    assert sys.getsizeof(f.reservoir) < 64 * 1024
