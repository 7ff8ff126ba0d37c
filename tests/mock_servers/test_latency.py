"""Latency models: lognormal (median, p99) recovered from samples; LLM calls derived from them."""

from __future__ import annotations

import random
import statistics

import pytest

from mock_servers.latency import LLMLatency, LogNormal
from mock_servers.profile import Z99, Latency, TokenDistribution, lognormal_sigma

N = 200_000


def quantiles(xs: list[float]) -> tuple[float, float]:
    xs = sorted(xs)
    return xs[len(xs) // 2], xs[int(len(xs) * 0.99)]


@pytest.mark.parametrize("median,p99", [(2.7, 6.5), (0.35, 1.5), (0.005, 0.012), (3.0, 3.3)])
def test_lognormal_recovers_median_and_p99(median, p99):
    ln = LogNormal(median, p99, random.Random(1))
    med, q99 = quantiles([ln.sample() for _ in range(N)])
    assert med == pytest.approx(median, rel=0.02)
    assert q99 == pytest.approx(p99, rel=0.03)


def test_lognormal_quantile_matches_parameters():
    ln = LogNormal(2.0, 8.0, random.Random(0))
    assert ln.quantile(0.0) == pytest.approx(2.0)
    assert ln.quantile(Z99) == pytest.approx(8.0)
    assert ln.sigma == pytest.approx(lognormal_sigma(2.0, 8.0))


def test_lognormal_is_seeded():
    a = LogNormal(1.0, 3.0, random.Random(7))
    b = LogNormal(1.0, 3.0, random.Random(7))
    assert [a.sample() for _ in range(10)] == [b.sample() for _ in range(10)]


def test_constant_when_p99_missing_or_equal():
    assert {LogNormal(1.5, None, random.Random(1)).sample() for _ in range(100)} == {1.5}
    assert {LogNormal(1.5, 1.5, random.Random(1)).sample() for _ in range(100)} == {1.5}


def test_zero_median_is_zero_latency():
    ln = LogNormal(0.0, 1.0, random.Random(1))
    assert {ln.sample() for _ in range(100)} == {0.0}


def test_lognormal_sigma_edge_cases():
    assert lognormal_sigma(0.0, 1.0) == 0.0
    assert lognormal_sigma(1.0, 1.0) == 0.0
    assert lognormal_sigma(1.0, 0.5) == 0.0


class TestLLMLatency:
    def test_ttft_is_median_minus_generation_of_median_output(self):
        lat = LLMLatency(Latency(median=3.0, p99=9.0, tokens_per_second=100),
                         TokenDistribution(median=150, p99=800), random.Random(1))
        assert lat.ttft.median == pytest.approx(1.5)  # 3.0 - 150 / 100
        assert lat.ttft.quantile(Z99) == pytest.approx(7.5)  # 9.0 - 1.5
        assert lat.tokens_per_second == 100
        assert lat.generation_seconds(150) == pytest.approx(1.5)

    def test_whole_call_of_median_length_has_profile_median_and_p99(self):
        rng = random.Random(3)
        lat = LLMLatency(Latency(median=3.0, p99=9.0, tokens_per_second=100), TokenDistribution(median=150), rng)
        calls = []
        for _ in range(N):
            n, cut = lat.sample_output_tokens(4096)
            assert n == 150 and not cut
            calls.append(lat.ttft.sample() + lat.generation_seconds(n))
        med, q99 = quantiles(calls)
        assert med == pytest.approx(3.0, rel=0.02)
        assert q99 == pytest.approx(9.0, rel=0.03)

    def test_given_ttft_is_used(self):
        lat = LLMLatency(Latency(median=3.0, p99=9.0, ttft=0.5, tokens_per_second=100),
                         TokenDistribution(median=150), random.Random(1))
        assert lat.ttft.median == pytest.approx(0.5)
        assert lat.ttft.quantile(Z99) == pytest.approx(7.5)

    def test_median_too_small_for_the_output_is_an_error(self):
        with pytest.raises(ValueError) as exc:
            LLMLatency(Latency(median=1.0, p99=2.0, tokens_per_second=100), TokenDistribution(median=150),
                       random.Random(1))
        msg = str(exc.value)
        assert "latency.median (1.0s)" in msg
        assert "150 tokens at 100.0 tokens/s = 1.500s" in msg
        assert "latency.ttft" in msg

    def test_tokens_per_second_required(self):
        with pytest.raises(ValueError, match="tokens_per_second"):
            LLMLatency(Latency(median=1.0), TokenDistribution(), random.Random(1))

    def test_output_length_distribution_and_cut(self):
        lat = LLMLatency(Latency(median=3.0, p99=9.0, tokens_per_second=100),
                         TokenDistribution(median=150, p99=800), random.Random(5))
        samples = [lat.sample_output_tokens(10_000)[0] for _ in range(50_000)]
        assert statistics.median(samples) == pytest.approx(150, rel=0.03)
        cut = [lat.sample_output_tokens(100) for _ in range(2000)]
        assert all(n <= 100 for n, _ in cut)
        assert all(c == (n == 100) for n, c in cut if c)
        assert 0.6 < sum(c for _, c in cut) / len(cut) < 0.9  # P(n > 100) for median 150
