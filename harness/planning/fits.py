"""Statistical fits behind ``harness calibrate``: each returns a value with a 95% interval.

- a lognormal from a sample (scipy's maximum-likelihood fit), its median and p99 with
  delta-method intervals, and a warning when the sample is too small to pin the p99;
- an LLM call ``latency = TTFT + output_tokens / tokens_per_second`` with TTFT lognormal: the
  generation pace by profile likelihood (the TTFT residuals' lognormal likelihood as a function
  of the pace; its interior maximum, a profile-likelihood interval around it), which is far
  tighter than a least-squares slope when TTFT is heavy-tailed;
- a share (error and 429 rates) with the Wilson interval (scipy's binomtest).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import optimize, stats

Z99 = float(stats.norm.ppf(0.99))
Z95 = float(stats.norm.ppf(0.975))
MIN_CALLS_P99 = 300      # below this a p99 rests on fewer than 3 calls above it: say so
MAX_REL_HALF_WIDTH = 0.10


@dataclass
class Estimate:
    """One fitted figure: value, 95% interval, the calls behind it, and a warning if it is loose."""

    value: float
    low: float
    high: float
    n: int
    unit: str = ""
    warning: str | None = None

    @property
    def rel_half_width(self) -> float:
        return (self.high - self.low) / 2 / abs(self.value) if self.value else math.inf

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class LognormalFit:
    median: Estimate
    p99: Estimate
    sigma: float
    empirical_p99: float


def fit_lognormal(sample: Sequence[float], unit: str = "s", what: str = "latency") -> LognormalFit:
    """Lognormal (location 0) by maximum likelihood; intervals for median and p99."""
    x = np.asarray([v for v in sample if v > 0], dtype=float)
    n = len(x)
    if n < 2:
        raise ValueError(f"{what}: {n} positive values; at least 2 are needed for a fit")
    sigma, _loc, scale = stats.lognorm.fit(x, floc=0)
    sigma = float(sigma)
    mu = math.log(scale)
    se_mu = sigma / math.sqrt(n)
    se_sigma = sigma / math.sqrt(2 * n)
    med = Estimate(scale, math.exp(mu - Z95 * se_mu), math.exp(mu + Z95 * se_mu), n, unit)
    log_p99 = mu + Z99 * sigma
    se_p99 = math.sqrt(se_mu ** 2 + (Z99 * se_sigma) ** 2)
    p99 = Estimate(math.exp(log_p99), math.exp(log_p99 - Z95 * se_p99), math.exp(log_p99 + Z95 * se_p99), n, unit)
    empirical = float(np.quantile(x, 0.99))
    if n < MIN_CALLS_P99:
        p99.warning = (f"p99 from {n} calls: only {n * 0.01:.1f} calls lie above it, so it is the lognormal "
                       f"fit's extrapolation, not a measurement; rehearse with >= {MIN_CALLS_P99} calls to pin it")
    elif p99.rel_half_width > MAX_REL_HALF_WIDTH:
        p99.warning = f"p99 known to +-{p99.rel_half_width:.0%} only (95% interval); more calls narrow it"
    if n >= 100 and not (0.8 * p99.value <= empirical <= 1.25 * p99.value):
        p99.warning = ((p99.warning + "; ") if p99.warning else "") + (
            f"the sample's own p99 ({empirical:.4g} {unit}) is far from the lognormal's: the {what} is not "
            "lognormal (a second mode, a timeout, queueing?)")
    if med.rel_half_width > MAX_REL_HALF_WIDTH:
        med.warning = f"median known to +-{med.rel_half_width:.0%} only; more calls narrow it"
    return LognormalFit(med, p99, sigma, empirical)


@dataclass
class LLMFit:
    """TTFT and pace of non-streaming LLM calls from (latency, output tokens) pairs."""

    tokens_per_second: Estimate
    ttft: LognormalFit


def fit_llm_latency(latency: Sequence[float], output_tokens: Sequence[float]) -> LLMFit:
    """``latency_i = ttft_i + n_i * b`` with ``ttft_i`` lognormal: the pace 1/b maximising the
    lognormal likelihood of the residuals ``ttft_i`` (they must all stay positive, hence
    b < min(latency_i / n_i), where the likelihood also diverges: the interior maximum is the
    estimate), and the TTFT fitted on its residuals."""
    L = np.asarray(latency, dtype=float)
    n = np.asarray(output_tokens, dtype=float)
    keep = (L > 0) & (n > 0)
    L, n = L[keep], n[keep]
    N = len(L)
    if N < 10:
        raise ValueError(f"tokens/s: {N} calls with output tokens; at least 10 are needed")
    if float(np.ptp(n)) == 0:
        raise ValueError("tokens/s: every call has the same output length, so the pace cannot be told "
                         "from the time to first token (vary max_tokens, or rehearse with streaming)")
    b_max = float(np.min(L / n))

    def nll(b: float) -> float:
        r = L - b * n
        if np.any(r <= 0):
            return math.inf
        lr = np.log(r)
        s = float(lr.std())
        return float(lr.sum()) + N * math.log(max(s, 1e-300))

    grid = np.linspace(0.0, b_max * (1 - 1e-6), 801)
    values = np.array([nll(b) for b in grid])
    # the likelihood runs off to infinity at b_max (one residual -> 0): take the best interior point
    inner = values[:-8]
    i = int(np.argmin(inner))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best = optimize.minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": b_max * 1e-7})
    b = float(best.x)
    if b <= 0:
        raise ValueError("tokens/s: latency does not grow with output tokens in this sample "
                         "(is it a cached or a streaming-only endpoint?)")
    # profile-likelihood 95% interval: where 2 x (nll - min) <= chi2(1)
    limit = float(best.fun) + stats.chi2.ppf(0.95, 1) / 2
    inside = grid[:-8][inner <= limit]
    b_lo = float(inside.min()) if len(inside) else b
    b_hi = float(inside.max()) if len(inside) else b
    tps = Estimate(1.0 / b, 1.0 / b_hi if b_hi > 0 else math.inf, 1.0 / b_lo if b_lo > 0 else math.inf, N,
                   "tokens/s")
    if tps.rel_half_width > MAX_REL_HALF_WIDTH:
        tps.warning = (f"tokens/s known to +-{tps.rel_half_width:.0%} only: the output lengths vary too little "
                       "or too few calls; rehearse with more calls or more varied max_tokens")
    ttft = fit_lognormal(L - b * n, "s", "time to first token")
    return LLMFit(tps, ttft)


def fit_share(k: int, n: int, what: str) -> Estimate:
    """A share k/n with its Wilson 95% interval; a warning when n cannot show a 1% rate."""
    if n <= 0:
        return Estimate(0.0, 0.0, 1.0, 0, "share", f"{what}: no calls")
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    est = Estimate(k / n, float(ci.low), float(ci.high), n, "share")
    if k == 0 and n < 300:
        est.warning = f"{what}: none in {n} calls; the rate may still be up to {ci.high:.1%}"
    return est


def fit_mean(sample: Sequence[float], unit: str) -> Estimate:
    x = np.asarray(sample, dtype=float)
    n = len(x)
    if n == 0:
        raise ValueError("no values")
    m = float(x.mean())
    half = Z95 * float(x.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    return Estimate(m, m - half, m + half, n, unit)


def fit_token_counts(sample: Sequence[float], what: str = "output tokens") -> LognormalFit:
    """A lognormal of token counts; calls cut at ``max_tokens`` (a pile-up at the largest value)
    are right-censored, so the fit describes the length the model wanted to write."""
    x = np.asarray([v for v in sample if v > 0], dtype=float)
    if len(x) < 2:
        raise ValueError(f"{what}: {len(x)} values; at least 2 are needed")
    top = float(x.max())
    cut = x >= top
    if cut.sum() >= 3 and cut.mean() >= 0.01:
        data = stats.CensoredData.right_censored(x, cut)
        sigma, _loc, scale = stats.lognorm.fit(data, floc=0)
        base = fit_lognormal(x, "tokens", what)  # for the intervals' width and the sample p99
        n = len(x)
        mu, sigma = math.log(scale), float(sigma)
        se_mu, se_sigma = sigma / math.sqrt(n), sigma / math.sqrt(2 * n)
        med = Estimate(scale, math.exp(mu - Z95 * se_mu), math.exp(mu + Z95 * se_mu), n, "tokens")
        lp = mu + Z99 * sigma
        se = math.sqrt(se_mu ** 2 + (Z99 * se_sigma) ** 2)
        p99 = Estimate(math.exp(lp), math.exp(lp - Z95 * se), math.exp(lp + Z95 * se), n, "tokens",
                       f"{cut.mean():.0%} of calls stopped at {top:g} tokens (max_tokens): fitted as censored, "
                       "so the p99 is the lognormal's beyond what was seen")
        return LognormalFit(med, p99, sigma, base.empirical_p99)
    return fit_lognormal(x, "tokens", what)
