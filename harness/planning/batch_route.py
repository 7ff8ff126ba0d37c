"""The providers' Batch APIs as a route beside the online run (OpenAI Batch, Anthropic
Message Batches): cost at the batch price, expected and p99 completion time, a recommendation.

How a batch route runs: the calls before an item's LLM call (a download, say) still run
online, as the capacity model predicts for them alone; the LLM calls go into batches of at
most ``max_requests`` requests and ``max_bytes`` bytes, submitted as their items become
ready and as the provider's queue allows: OpenAI counts the prompt tokens of unfinished
batches per model (``batch_enqueued_tokens``), Anthropic the requests in its processing
queue. Each batch takes a turnaround drawn from the profile's lognormal (median, p99); one
that passes the completion window expires and its unfinished part is sent again. Completion
is the last batch's end; its expectation and p99 come from a seeded simulation of the batch
order (the maximum of lognormals has no closed form).

The profile's ``batch`` section (turnaround, window, discount, sizes; mock_servers) is read
when present; else each provider's published figures (``batch_api`` of its rules in
mock_servers.rules) stand in.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mock_servers.profile import Profile, lognormal_sigma
from mock_servers.rules import rules_for

from harness.errors import ScenarioError
from harness.format import fmt_duration
from harness.planning.planner import CapacityModel, Prediction

TRIALS = 20000
LINE_OVERHEAD_BYTES = 120  # custom_id, method, url and the JSONL wrapper around each request body


@dataclass(frozen=True)
class BatchTerms:
    """One provider's Batch API terms (profile seconds and bytes)."""

    turnaround_median: float
    turnaround_p99: float
    window_seconds: float = 86400.0
    discount: float = 0.5
    max_requests: int = 50_000
    max_bytes: int = 200 * 1024 ** 2
    queue_requests: int | None = None      # Anthropic: requests in the processing queue, all batches
    queue_tokens: float | None = None      # OpenAI: enqueued prompt tokens per model
    source: str = ""


def terms_for(profile: Profile, model: str | None) -> BatchTerms:
    """The profile's ``batch`` section where it has one, the provider's published terms otherwise."""
    api = rules_for(profile).batch_api
    if api is None:
        raise ScenarioError(f"profile {profile.name!r}: a {profile.kind} API has no Batch API")
    base = BatchTerms(api.turnaround_median, api.turnaround_p99, max_requests=api.max_requests,
                      max_bytes=api.max_bytes, queue_requests=api.queue_requests, source=api.source)
    settings = getattr(profile, "batch", None)
    values: dict[str, Any] = {}
    if settings is not None:
        turn = getattr(settings, "turnaround", None)
        if turn is not None:
            values["turnaround_median"] = float(turn.median)
            values["turnaround_p99"] = float(turn.p99 if turn.p99 is not None else turn.median)
        for name in ("window_seconds", "discount", "max_requests", "max_bytes"):
            if getattr(settings, name, None) is not None:
                values[name] = getattr(settings, name)
        for name in ("queue_requests", "max_queue_requests"):
            if getattr(settings, name, None) is not None:
                values["queue_requests"] = int(getattr(settings, name))
        values["source"] = f"profile {profile.name}: batch"
    queue_tokens = rules_for(profile).batch_queue_tokens(profile, model)
    if queue_tokens is not None:
        values["queue_tokens"] = queue_tokens
    return BatchTerms(**{**asdict(base), **values})


@dataclass
class BatchCall:
    """One LLM call of an item, as it would go through the Batch API."""

    target: str
    model: str
    requests: int
    bytes_per_request: float
    prompt_tokens: float
    batches: int
    per_batch: int
    concurrent: int
    online_dollars: float
    batch_dollars: float
    terms: BatchTerms
    queue_note: str


@dataclass
class BatchRoute:
    applicable: bool
    reason: str = ""
    calls: list[BatchCall] = field(default_factory=list)
    rounds: int = 0
    prep_seconds: float = 0.0                # the online calls before the LLM call(s)
    expected_seconds: float = 0.0
    p99_seconds: float = 0.0
    cost: float = 0.0
    online_cost: float = 0.0
    online_seconds: float = 0.0
    online_workers: int = 0
    recommendation: str = ""
    deciding_factor: str = ""
    recommended: str = ""                    # "batch" or "online"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for c in d["calls"]:
            c["terms"] = dict(c["terms"])
        return d


def parse_duration(text: str) -> float:
    """Seconds from ``3600``, ``90m``, ``24h``, ``2d``, ``1h30m``."""
    s = text.strip().lower()
    try:
        return float(s)
    except ValueError:
        pass
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd])", s)
    if not parts or "".join(f"{a}{b}" for a, b in parts) != s.replace(" ", ""):
        raise ValueError(f"--deadline {text!r}: give seconds or a duration like 90m, 24h, 2d, 1h30m")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(float(a) * unit[b] for a, b in parts)


def _has_batch_api(profile: Profile) -> bool:
    return rules_for(profile).batch_api is not None


def _subset(model: CapacityModel, keep: list[int]) -> CapacityModel:
    """The capacity model of some of an item's calls only (the online part of a batch route)."""
    sub = copy.copy(model)
    sub.calls = [model.calls[i] for i in keep]
    sub.attempts = [model.attempts[i] for i in keep]
    return sub


def _streams_or_chains(model: CapacityModel, llm: list[int]) -> str:
    """Why a scenario cannot use batches: it streams, or a later LLM call needs an earlier answer."""
    sc = model.loaded.scenario
    for step in sc.steps:
        body = step.body if isinstance(step.body, dict) else {}
        if body.get("stream") is True and _has_batch_api(model.loaded.profiles[step.target]):
            return f"step {step.name!r} streams its answer; the Batch APIs do not stream"
    if len(llm) > 1:
        return (f"each item makes {len(llm)} LLM calls in sequence, each needing the answer before it; "
                f"a batch route runs {len(llm)} rounds of batches one after another")
    return ""


def plan_batch_route(model: CapacityModel, items: int, online: Prediction, *, deadline: float | None = None,
                     budget: float | None = None, seed: int = 0) -> BatchRoute:
    """The batch route for ``items`` items beside the ``online`` prediction."""
    profiles = model.loaded.profiles
    llm = [i for i, c in enumerate(model.calls) if _has_batch_api(profiles[c.target])]
    route = BatchRoute(False, online_cost=online.cost_total, online_seconds=online.duration_s,
                       online_workers=online.workers)
    if not llm:
        kinds = sorted({profiles[c.target].kind for c in model.calls})
        route.reason = f"no OpenAI or Anthropic call (the targets are {', '.join(kinds)}): no Batch API applies"
        return route
    chain = _streams_or_chains(model, llm)
    if chain.startswith("step"):
        route.reason = chain
        route.recommended, route.deciding_factor = "online", "streaming"
        route.recommendation = f"online: {chain}"
        return route
    route.applicable = True
    route.rounds = len(llm)
    online_idx = [i for i in range(len(model.calls)) if i not in llm]
    if online_idx and items > 0:
        route.prep_seconds = _subset(model, online_idx).predict(online.workers, items).duration_s
    online_dollars = sum(model.attempts[i] * model.calls[i].dollars for i in online_idx) * items
    total = online_dollars
    for i in llm:
        c = model.calls[i]
        profile = profiles[c.target]
        terms = terms_for(profile, c.endpoint)
        bytes_per = c.request_bytes + LINE_OVERHEAD_BYTES
        per_batch = min(terms.max_requests, max(1, int(terms.max_bytes // bytes_per)), max(items, 1))
        note = ""
        concurrent = math.inf
        if terms.queue_tokens and c.prompt_tokens > 0:
            fit = int(terms.queue_tokens // c.prompt_tokens)
            if fit < 1:
                raise ValueError(f"{c.target}: one request's {c.prompt_tokens:g} prompt tokens exceed the "
                                 f"model's batch queue of {terms.queue_tokens:g} enqueued tokens")
            if fit < per_batch:
                per_batch = fit
            concurrent = max(1, int(terms.queue_tokens // (per_batch * c.prompt_tokens)))
            note = f"{terms.queue_tokens:,.0f} enqueued prompt tokens for {c.endpoint}"
        if terms.queue_requests:
            per_batch = min(per_batch, terms.queue_requests)
            concurrent = min(concurrent, max(1, terms.queue_requests // per_batch))
            note = f"{terms.queue_requests:,} requests in the processing queue"
        batches = max(1, math.ceil(items / per_batch)) if items > 0 else 0
        per_batch = math.ceil(items / batches) if batches else 0
        conc = int(min(concurrent, batches)) if batches else 0
        if note:
            note += f": {conc} of the {batches} batch(es) at a time"
        dollars = model.calls[i].dollars * items
        bcost = dollars * (1 - terms.discount)
        total += bcost
        route.calls.append(BatchCall(c.target, c.endpoint, items, bytes_per, c.prompt_tokens, batches, per_batch,
                                     conc, dollars, bcost, terms, note or "no queue limit known"))
    route.cost = total
    route.expected_seconds, route.p99_seconds = _simulate(route, seed)
    _recommend(route, chain, deadline, budget)
    return route


def _simulate(route: BatchRoute, seed: int) -> tuple[float, float]:
    """Expected and p99 completion over seeded trials: batches become ready as the online part
    finishes their items, wait for a queue slot, take a lognormal turnaround (an expired batch
    is sent again), and each round starts when the previous round's last batch is back."""
    rng = np.random.default_rng(seed)
    start = np.zeros(TRIALS)
    for r, call in enumerate(route.calls):
        t = call.terms
        n, c = call.batches, max(1, call.concurrent)
        if n == 0:
            continue
        sigma = lognormal_sigma(t.turnaround_median, t.turnaround_p99)
        draw = t.turnaround_median * np.exp(sigma * rng.standard_normal((TRIALS, n)))
        again = t.turnaround_median * np.exp(sigma * rng.standard_normal((TRIALS, n)))
        turn = np.where(draw > t.window_seconds, t.window_seconds + np.minimum(again, t.window_seconds), draw)
        prep = route.prep_seconds if r == 0 else 0.0
        ready = start[:, None] + prep * (np.arange(1, n + 1) / n)[None, :]
        slots = np.repeat(start[:, None], min(c, n), axis=1)  # when each queue place is free again
        rows = np.arange(TRIALS)
        last = start.copy()
        for k in range(n):
            j = np.argmin(slots, axis=1)
            end = np.maximum(ready[:, k], slots[rows, j]) + turn[:, k]
            slots[rows, j] = end
            last = np.maximum(last, end)
        start = last
    return float(start.mean()), float(np.quantile(start, 0.99))


def _recommend(route: BatchRoute, chain: str, deadline: float | None, budget: float | None) -> None:
    b_time, o_time = route.p99_seconds, route.online_seconds
    b_cost, o_cost = route.cost, route.online_cost
    b_ok = (deadline is None or b_time <= deadline) and (budget is None or b_cost <= budget)
    o_ok = (deadline is None or o_time <= deadline) and (budget is None or o_cost <= budget)
    if chain:
        if o_ok or not b_ok:
            route.recommended, route.deciding_factor = "online", "each answer before the next call"
            route.recommendation = f"online: {chain}"
            return
    if deadline is not None and b_time > deadline and o_time <= deadline:
        route.recommended, route.deciding_factor = "online", "--deadline"
        route.recommendation = (f"online: the deadline {fmt_duration(deadline)} is below the batch route's p99 of "
                                f"{fmt_duration(b_time)}; online takes {fmt_duration(o_time)} at ${o_cost:,.2f}")
        return
    if budget is not None and o_cost > budget and b_cost <= budget:
        route.recommended, route.deciding_factor = "batch", "--budget"
        route.recommendation = (f"batch: the budget ${budget:,.2f} is below the online cost ${o_cost:,.2f}; "
                                f"batches cost ${b_cost:,.2f} and finish within {fmt_duration(b_time)} (p99)")
        return
    if b_ok and (not o_ok or b_cost <= o_cost):
        if deadline is not None and o_time > deadline:
            factor, why = "--deadline", f"online takes {fmt_duration(o_time)}, past the deadline {fmt_duration(deadline)}"
        elif b_time < o_time:
            factor, why = "cost and time", f"half the price and faster: p99 {fmt_duration(b_time)} vs {fmt_duration(o_time)} online"
        else:
            factor = "cost"
            why = (f"${b_cost:,.2f} vs ${o_cost:,.2f} online, and "
                   + ("no deadline was given" if deadline is None else f"its p99 fits the deadline {fmt_duration(deadline)}"))
        route.recommended, route.deciding_factor = "batch", factor
        route.recommendation = f"batch: {why}"
        return
    if o_ok:
        route.recommended, route.deciding_factor = "online", "--budget" if budget is not None else "--deadline"
        route.recommendation = f"online: it meets the {'budget' if budget is not None else 'deadline'}; the batch route does not"
        return
    faster = "batch" if b_time < o_time else "online"
    route.recommended, route.deciding_factor = faster, "--deadline"
    route.recommendation = (f"{faster}: neither route meets the deadline/budget; {faster} is the faster "
                            f"({fmt_duration(min(b_time, o_time))})")
