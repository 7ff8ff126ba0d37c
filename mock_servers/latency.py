"""Latency models: lognormal from (median, p99); LLM calls as TTFT + tokens / pace.

The same objects sample for the mock and answer mean, variance and quantiles for the planner
and the sweep, so a prediction reads exactly the distribution the mock draws from.
"""

from __future__ import annotations

import bisect
import math
import random
from statistics import NormalDist
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the schema imports this module; the types are only for annotations here
    from .profile import Latency, TokenDistribution

Z99 = 2.3263478740408408  # standard normal quantile at 0.99
_ND = NormalDist()
_GRID = 2000  # equal-probability points for expectations over the output length
_TABLE = 240  # points per side of the grid whose sums give an LLM call's quantiles


def lognormal_sigma(median: float, p99: float) -> float:
    """The sigma of a lognormal with this median and 99th percentile."""
    if median <= 0 or p99 <= median:
        return 0.0
    return math.log(p99 / median) / Z99


def _grid(n: int) -> list[float]:
    """The standard normal at n equal-probability midpoints."""
    return [_ND.inv_cdf((i + 0.5) / n) for i in range(n)]


class LogNormal:
    """A lognormal given by its median and p99 (p99 == median means constant)."""

    __slots__ = ("median", "sigma", "_rng")

    def __init__(self, median: float, p99: float | None, rng: random.Random | None = None) -> None:
        self.median = median
        self.sigma = lognormal_sigma(median, p99 if p99 is not None else median)
        self._rng = rng or random.Random()

    def sample(self) -> float:
        if self.median <= 0:
            return 0.0
        if self.sigma == 0:
            return self.median
        return self.median * math.exp(self._rng.gauss(0.0, self.sigma))

    def quantile(self, z: float) -> float:
        """The value at standard-normal quantile ``z`` (0 is the median, Z99 the p99)."""
        return self.median * math.exp(self.sigma * z) if self.median > 0 else 0.0

    def ppf(self, p: float) -> float:
        """The value at probability ``p``."""
        return self.quantile(_ND.inv_cdf(min(max(p, 1e-12), 1 - 1e-12)))

    def cdf(self, t: float) -> float:
        if self.median <= 0:
            return 1.0 if t >= 0 else 0.0
        if t <= 0:
            return 0.0
        if self.sigma == 0:
            return 1.0 if t >= self.median else 0.0
        return _ND.cdf(math.log(t / self.median) / self.sigma)

    def mean(self) -> float:
        return max(self.median, 0.0) * math.exp(self.sigma ** 2 / 2)

    def variance(self) -> float:
        s2 = self.sigma ** 2
        return max(self.median, 0.0) ** 2 * math.exp(s2) * (math.exp(s2) - 1)

    def scaled(self, factor: float) -> "LogNormal":
        """Every duration ``factor`` times as long."""
        out = LogNormal(self.median * factor, None, self._rng)
        out.sigma = self.sigma
        return out

    def __repr__(self) -> str:
        return f"LogNormal(median={self.median:g}, sigma={self.sigma:.4f})"


class LLMLatency:
    """A call takes ``ttft + output_tokens / tokens_per_second``; TTFT is lognormal.

    The profile's (median, p99) are those of a whole call of median output length, so the
    TTFT median is ``median - n_med / tps`` and its spread is solved to give that p99. With
    ``ttft`` given and no median, TTFT is constant at ``ttft``.
    """

    __slots__ = ("ttft", "tokens_per_second", "output", "_rng")

    def __init__(self, latency: "Latency", output: "TokenDistribution", rng: random.Random | None = None) -> None:
        tps = latency.tokens_per_second
        if tps is None:
            raise ValueError("an LLM latency needs latency.tokens_per_second")
        rng = rng or random.Random()
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

    def call(self, max_tokens: int) -> "LLMCall":
        """The distribution of one call's duration with this ``max_tokens``."""
        return LLMCall(self.ttft, self.output, self.tokens_per_second, max_tokens)


class LLMCall:
    """One LLM call's duration, ``ttft + min(max(1, round(N)), max_tokens) / tps``, as the mock
    draws it: mean and variance exactly, quantiles from the sums of two equal-probability grids."""

    def __init__(self, ttft: LogNormal, output: LogNormal, tokens_per_second: float, max_tokens: int) -> None:
        self.ttft = ttft
        self.tokens_per_second = tokens_per_second
        self.max_tokens = max_tokens
        tokens = [self._tokens(output, z) for z in _grid(_GRID)]
        self.output_tokens_mean = sum(tokens) / _GRID
        self._tokens_var = sum((n - self.output_tokens_mean) ** 2 for n in tokens) / _GRID
        small = [self._tokens(output, z) / tokens_per_second for z in _grid(_TABLE)]
        ttfts = [ttft.quantile(z) for z in _grid(_TABLE)]
        self._table = sorted(t + g for t in ttfts for g in small)

    def _tokens(self, output: LogNormal, z: float) -> int:
        return min(max(1, round(output.quantile(z))), self.max_tokens)

    def mean(self) -> float:
        return self.ttft.mean() + self.output_tokens_mean / self.tokens_per_second

    def variance(self) -> float:
        return self.ttft.variance() + self._tokens_var / self.tokens_per_second ** 2

    def ppf(self, p: float) -> float:
        table = self._table
        x = min(max(p, 0.0), 1.0) * len(table) - 0.5
        i = min(max(int(math.floor(x)), 0), len(table) - 2)
        frac = min(max(x - i, 0.0), 1.0)
        return table[i] + frac * (table[i + 1] - table[i])

    def quantile(self, z: float) -> float:
        return self.ppf(_ND.cdf(z))

    def cdf(self, t: float) -> float:
        return bisect.bisect_right(self._table, t) / len(self._table)

    def scaled(self, factor: float) -> "LLMCall":
        """Every duration ``factor`` times as long (TTFT longer, tokens slower)."""
        out = object.__new__(LLMCall)
        out.ttft = self.ttft.scaled(factor)
        out.tokens_per_second = self.tokens_per_second / factor
        out.max_tokens = self.max_tokens
        out.output_tokens_mean = self.output_tokens_mean
        out._tokens_var = self._tokens_var
        out._table = [v * factor for v in self._table]
        return out
