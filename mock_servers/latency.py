"""Latency models: lognormal from (median, p99); LLM calls as TTFT + tokens / pace."""

from __future__ import annotations

import math
import random

from .profile import Latency, TokenDistribution, lognormal_sigma


class LogNormal:
    """A lognormal sampler given by its median and p99 (p99 == median means constant)."""

    __slots__ = ("median", "sigma", "_rng")

    def __init__(self, median: float, p99: float | None, rng: random.Random) -> None:
        self.median = median
        self.sigma = lognormal_sigma(median, p99 if p99 is not None else median)
        self._rng = rng

    def sample(self) -> float:
        if self.median <= 0:
            return 0.0
        if self.sigma == 0:
            return self.median
        return self.median * math.exp(self._rng.gauss(0.0, self.sigma))

    def quantile(self, z: float) -> float:
        return self.median * math.exp(self.sigma * z)


class LLMLatency:
    """A call takes ``ttft + output_tokens / tokens_per_second``; TTFT is lognormal.

    The profile's (median, p99) are those of a whole call of median output length, so the
    TTFT median is ``median - n_med / tps`` and its spread is solved to give that p99.
    """

    __slots__ = ("ttft", "tokens_per_second", "output", "_rng")

    def __init__(self, latency: Latency, output: TokenDistribution, rng: random.Random) -> None:
        tps = latency.tokens_per_second
        if tps is None:
            raise ValueError("an LLM latency needs latency.tokens_per_second")
        gen = output.median / tps
        if latency.ttft is not None:
            ttft_median = latency.ttft
            p99_total = latency.p99 if latency.p99 is not None else latency.median
            ttft_p99 = max(ttft_median, p99_total - gen) if latency.median else ttft_median
        else:
            ttft_median = latency.median - gen
            if ttft_median <= 0:
                raise ValueError(
                    f"latency.median ({latency.median}s) is shorter than generating the median "
                    f"output ({output.median} tokens at {tps} tokens/s = {gen:.3f}s); raise "
                    "latency.median or tokens_per_second, or give latency.ttft"
                )
            ttft_p99 = latency.spread_p99 - gen
        self.ttft = LogNormal(ttft_median, max(ttft_p99, ttft_median), rng)
        self.tokens_per_second = tps
        self.output = LogNormal(float(output.median), float(output.p99 or output.median), rng)
        self._rng = rng

    def sample_output_tokens(self, max_tokens: int) -> tuple[int, bool]:
        """Output length for a call, and whether ``max_tokens`` cut it short."""
        n = max(1, round(self.output.sample()))
        return (max_tokens, True) if n > max_tokens else (n, False)

    def generation_seconds(self, tokens: int) -> float:
        return tokens / self.tokens_per_second
