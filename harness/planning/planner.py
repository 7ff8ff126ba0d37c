"""The capacity model: how fast a scenario can go at a worker count, and what binds it.

items/s = min(workers / E[item time incl. retries], each limit's rate / its cost per item, ...)
and the time for N items is the largest of the concurrency-bound time and each bucket's time
(``(N x cost - burst) / rate``), so the answer names its binding constraint. Everything here
is in profile (real) time; the time scale only matters to the sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mock_servers.latency import LLMCall, LLMLatency, LogNormal
from mock_servers.profile import Endpoint, Latency, Profile
from mock_servers.rules import LLMRequest, PlannedUse, Usage, rules_for

from harness.errors import InvalidInput, ScenarioError
from harness.planning.results import Constraint, Prediction
from harness.runner.inputs import read_items
from harness.runner.learning import LEARNT_BURST, SAFETY
from harness.scenario import LoadedScenario, PlannedCall
from harness.runner.templates import TemplateFailure, compile_tree

if TYPE_CHECKING:
    import numpy as np

_GRID = 2000  # quantile grid for expectations of maxima and capped means
REQUEST_QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


@dataclass
class CallModel:
    """What one call of an item costs: time, bytes, tokens, dollars, limit units."""

    target: str
    endpoint: str
    latency: LogNormal | LLMCall  # the mock's own distribution of this call's duration
    request_bytes: float
    response_bytes: float
    prompt_tokens: float = 0.0
    max_tokens: float = 0.0
    output_tokens_mean: float = 0.0
    dollars: float = 0.0
    transient_p: float = 0.0
    hang_p: float = 0.0

    def __post_init__(self) -> None:
        self.latency_mean = self.latency.mean()

    def quantile(self, z: float) -> float:
        return self.latency.quantile(z)


@dataclass
class WhatIf:
    """Changes for ``harness plan``: scale latencies, override or scale limits."""

    latency_factor: float = 1.0
    limit_factor: float = 1.0


class CapacityModel:
    """Built once per scenario from its profiles, its steps (rendered on a sample row) or its
    ``plan:`` section, and its client-side limits."""

    def __init__(self, loaded: LoadedScenario, what_if: WhatIf | None = None, sample_row: dict | None = None,
                 timeout: float | None = None) -> None:
        self.loaded = loaded
        self.what_if = what_if or WhatIf()
        sc = loaded.scenario
        self.timeout = timeout if timeout is not None else sc.timeout
        rows = [sample_row] if sample_row is not None else _sample_rows(loaded)
        self.calls = [self._call_model(c) for c in _average_calls(loaded, rows)]
        if not self.calls:
            raise ScenarioError("the scenario makes no calls the planner can see (give a `plan:` section)")
        cap = sc.retry.max_attempts
        self.attempts = [_expected_attempts(c.transient_p, cap) for c in self.calls]
        self._tails: dict[tuple[float, float], float] = {}
        self._times = None
        self._prefixes: dict[int, Any] = {}

    # -- per call ----------------------------------------------------------------------
    def _call_model(self, call: PlannedCall) -> CallModel:
        profile = self.loaded.profiles[call.target]
        f = self.what_if.latency_factor
        faults = profile.faults
        transient = faults.error_500 + faults.error_503 + faults.error_529 + faults.reset + faults.malformed \
            + faults.hang + faults.stream_error
        rules = rules_for(profile)
        if rules.llm:
            model = call.model or next(iter(profile.models))
            settings = profile.model_settings(model) if model in profile.models else None
            lat = settings.latency if settings else profile.latency
            out = settings.output_tokens if settings else profile.output_tokens
            max_tokens = call.max_tokens or profile.default_max_tokens
            duration = LLMLatency(lat, out).call(max_tokens)
            out_mean = duration.output_tokens_mean
            prompt = call.prompt_tokens or 0
            usage = Usage(int(prompt), int(round(out_mean)))
            req_bytes = call.request_bytes if call.request_bytes is not None else 4 * prompt + 200
            resp_bytes = call.response_bytes if call.response_bytes is not None else 4 * out_mean + 600
            return CallModel(call.target, model, duration.scaled(f), req_bytes, resp_bytes,
                             prompt, max_tokens, out_mean, rules.price(profile, model, usage),
                             transient, faults.hang)
        ep = _endpoint(profile, call.endpoint)
        lat: Latency = (ep.latency if ep and ep.latency else profile.latency)
        req_bytes = call.request_bytes if call.request_bytes is not None else (ep.request_bytes if ep else 0)
        resp_bytes = call.response_bytes if call.response_bytes is not None else (ep.response_bytes if ep else 0)
        return CallModel(call.target, call.endpoint or (ep.name if ep else "call"),
                         LogNormal(lat.median, lat.spread_p99).scaled(f), req_bytes, resp_bytes, dollars=rules.price(profile, None, Usage()), transient_p=transient,
                         hang_p=faults.hang)

    # -- per item ----------------------------------------------------------------------
    def item_time(self) -> float:
        """E[time of one item]: its calls in sequence, with retries (a hang costs the timeout)."""
        total = 0.0
        for c, a in zip(self.calls, self.attempts):
            retry_extra = (a - 1.0) * (c.latency_mean + self.loaded.scenario.retry.base_delay / 2)
            hang_extra = (c.hang_p * a) * max(0.0, self.timeout - c.latency_mean)
            total += c.latency_mean + retry_extra + hang_extra
        return total

    def item_time_quantile(self, z: float) -> float:
        return sum(c.quantile(z) for c in self.calls)

    def item_time_ppf(self, p: float) -> float:
        return sum(c.latency.ppf(p) for c in self.calls)

    def request_latency(self) -> dict[str, float]:
        """Per-request latency: the mean and p50/p95/p99 of the mixture of the item's calls
        (weighted by their attempts), each call's from its own latency object, so an LLM
        call's tail holds the spread of its output length, not the median output's time."""
        calls = [(a, c) for a, c in zip(self.attempts, self.calls) if a > 0]
        total = sum(a for a, _ in calls)
        out = {"mean": sum(a * c.latency_mean for a, c in calls) / total}
        for name, q in REQUEST_QUANTILES:
            out[name] = calls[0][1].latency.ppf(q) if len(calls) == 1 else _mixture_ppf(calls, total, q)
        return out

    def expected_max_item_time(self, k: int) -> float:
        """E[max of k item times] (the tail of the last round of a batch)."""
        if k <= 1:
            return self.item_time()
        total = 0.0
        for i in range(_GRID):
            v = (i + 0.5) / _GRID
            total += self.item_time_ppf(v) * k * v ** (k - 1) / _GRID
        # the quantile sum ignores retries; scale by their share of the mean
        base = sum(c.latency_mean for c in self.calls)
        return total * (self.item_time() / base if base else 1.0)

    def paced_tail(self, rate: float, paced: float = math.inf) -> float:
        """E[from the last paced start to the end of the batch] when ``paced`` items start
        ``1 / rate`` apart: ``max_j (T_j - j / rate)`` over the items still in flight (the last
        one's time alone is its mean; one started a little earlier may end later)."""
        if not (rate > 0 and math.isfinite(rate)):
            return self.item_time()
        key = (rate, min(paced, _TAIL_ITEMS))
        cached = self._tails.get(key)
        if cached is None:
            cached = self._tails[key] = _paced_tail(self._item_times(), rate, paced)
        return cached

    def _item_times(self) -> "np.ndarray":
        """An item's time at _GRID equal-probability points (its calls' quantiles summed), scaled
        by the retries' share of the mean, sorted."""
        import numpy as np

        if self._times is None:
            v = (np.arange(_GRID) + 0.5) / _GRID
            times = np.array([self.item_time_ppf(x) for x in v])
            base = float(times.mean())
            self._times = np.sort(times * (self.item_time() / base if base > 0 else 1.0))
        return self._times

    def constraints(self, workers: int | None = None) -> list[Constraint]:
        """Every rate limit that applies, as items/s after a burst of items. Given ``workers``,
        a server limit the runner learns from the headers (the scenario leaves it out) also
        paces as the runner paces it: the first requests, one per worker, go before any answer
        states the limit, then :data:`~harness.runner.learning.SAFETY` of it with a burst of
        :data:`~harness.runner.learning.LEARNT_BURST` units, never the server's full bucket."""
        out: list[Constraint] = []
        lf = self.what_if.limit_factor
        per_target: dict[str, list[tuple[int, CallModel]]] = {}
        for i, c in enumerate(self.calls):
            per_target.setdefault(c.target, []).append((i, c))
        for tname, calls in per_target.items():
            profile = self.loaded.profiles[tname]
            client = self.loaded.scenario.targets[tname].limits
            rules = rules_for(profile)
            uses = [PlannedUse(self.attempts[i], c.endpoint, rules.sustained_units(
                LLMRequest(c.endpoint, int(c.prompt_tokens), int(c.max_tokens)) if rules.llm else None,
                c.output_tokens_mean)) for i, c in calls]
            n_calls = sum(u.attempts for u in uses)

            def units(dim: str) -> float:
                return sum(u.attempts * u.units.get(dim, 0.0) for u in uses)

            tin = sum(self.attempts[i] * c.prompt_tokens for i, c in calls)
            tout = sum(self.attempts[i] * c.output_tokens_mean for i, c in calls)

            def add(name: str, per_minute: float | None, units: float, server: bool, burst_units: float) -> None:
                if per_minute and units > 0:
                    rate = per_minute * lf / 60.0 / units
                    out.append(Constraint(name, rate, burst_units / units if server else 1.0 / units, server,
                                          f"{per_minute:g}/min / {units:g} per item"))

            learnt = _learnt_dimensions(client) if workers is not None else set()
            for lim in rules.server_limits(profile, uses):
                add(f"{tname} {lim.label} (server)", lim.per_minute, lim.units, True, lim.burst)
                if lim.dimension in learnt and lim.per_minute and lim.units > 0:
                    out.append(self._learnt(tname, lim, workers, calls))
            if profile.capacity.max_in_flight:
                mean = sum(c.latency_mean for _, c in calls)
                out.append(Constraint(f"{tname} capacity {profile.capacity.max_in_flight} in flight (server)",
                                      profile.capacity.max_in_flight / mean * len(calls) / n_calls, 0.0, True,
                                      "queueing beyond this", limit="capacity"))
            if client.requests_per_second:
                add(f"{tname} requests/s (client)", client.requests_per_second * 60, n_calls, False, 1)
            add(f"{tname} requests/min (client)", client.requests_per_minute, n_calls, False, 1)
            add(f"{tname} tokens/min (client)", client.tokens_per_minute, units("tokens_per_minute"), False, 1)
            add(f"{tname} input tokens/min (client)", client.input_tokens_per_minute, tin, False, 1)
            add(f"{tname} output tokens/min (client)", client.output_tokens_per_minute, tout, False, 1)
        return out

    def _learnt(self, tname: str, lim, workers: int, calls: list[tuple[int, CallModel]]) -> Constraint:
        """The runner's pacing of a server limit it learns: ``workers`` first calls to the
        target (no more than the server's bucket lets through) unpaced, then SAFETY of the rate
        from the first answer on (the expected first of ``workers`` answers)."""
        per_minute = lim.per_minute * self.what_if.limit_factor
        rate = SAFETY * per_minute / 60.0 / lim.units
        first = min(i for i, _ in calls)
        # a new dimension holds LEARNT_BURST units: the first paced request goes at once
        unpaced = min(workers / len(calls), lim.burst / lim.units) + max(1.0, LEARNT_BURST / lim.units)
        return Constraint(f"{tname} {lim.label} (learnt from headers)", rate, unpaced, False,
                          f"{SAFETY:.0%} of {per_minute:g}/min / {lim.units:g} per item, after "
                          f"{unpaced:.0f} unpaced", start=self._expected_first_answer(first, workers))

    def _expected_first_answer(self, call: int, k: int) -> float:
        """E[the first of ``k`` items to finish calls 0..``call``] (quantiles of each call
        summed, as for the maxima)."""
        import numpy as np

        prefix = self._prefixes.get(call)
        if prefix is None:
            v = (np.arange(_GRID) + 0.5) / _GRID
            prefix = self._prefixes[call] = np.array([sum(c.latency.ppf(x) for c in self.calls[:call + 1]) for x in v])
        v = (np.arange(_GRID) + 0.5) / _GRID
        return float((prefix * k * (1 - v) ** (k - 1)).sum() / _GRID)

    # -- the prediction ----------------------------------------------------------------
    def predict(self, workers: int, items: int) -> Prediction:
        if workers < 1:
            raise InvalidInput(f"workers must be >= 1 (requests in flight at most), got {workers}")
        if items < 0:
            raise InvalidInput(f"items must be >= 0, got {items}")
        t_item = self.item_time()
        if items >= workers:
            t_conc = (items - workers) / workers * t_item + self.expected_max_item_time(workers)
        else:
            t_conc = self.expected_max_item_time(max(items, 1)) if items else 0.0
        cons = self.constraints(workers)
        best = Constraint(f"concurrency ({workers} workers / {t_item:.2f}s per item)",
                          workers / t_item if t_item > 0 else math.inf, workers, False, limit="concurrency")
        best_t = t_conc
        for c in cons:
            # a server's capacity binds too: past max_in_flight it queues, so it serves at most
            # max_in_flight / latency items/s however many workers wait (the risk names it)
            t = c.time_for(items) + (self.paced_tail(c.rate, items - c.burst) if items > c.burst else 0.0)
            if t > best_t:
                best, best_t = c, t
        duration = best_t
        x = items / duration if duration > 0 else 0.0
        n_req = sum(self.attempts)
        rps = x * n_req
        req_b = sum(a * c.request_bytes for a, c in zip(self.attempts, self.calls))
        resp_b = sum(a * c.response_bytes for a, c in zip(self.attempts, self.calls))
        conc = min(workers, x * t_item)
        client_burst = _client_burst(self.loaded)
        peak = max(rps, min(workers, client_burst) if client_burst else float(workers)) if t_item >= 1.0 else max(
            rps, min(workers, client_burst or workers) / max(t_item, 1e-9) if t_item < 1 else rps)
        risk = self._risk(workers, t_item, cons)
        cost = items * sum(a * c.dollars for a, c in zip(self.attempts, self.calls))
        return Prediction(workers, items, duration, x, best, t_item, rps, peak, conc, rps * req_b * 8,
                          rps * resp_b * 8, risk, cost, cons)

    def predict_topology(self, topology, items: int):
        """The duration on processes x workers per process, static chunks or a shared queue
        (:mod:`harness.planning.topology`)."""
        from harness.planning.topology import predict_topology

        return predict_topology(self, topology, items)

    def _risk(self, workers: int, t_item: float, cons: list[Constraint]) -> str:
        """A 429 (or queueing) risk when the workers' unthrottled pace outruns a server limit
        that no client-side limit covers."""
        offered = workers / t_item if t_item > 0 else math.inf
        client = [c for c in cons if not c.server_side]
        client_rate = min((c.rate for c in client), default=math.inf)
        risks = []
        for c in cons:
            if not c.server_side:
                continue
            pace = min(offered, client_rate)
            if pace > c.rate * 1.0001:
                what = "queueing, then 503s" if c.limit == "capacity" else "429s"
                risks.append(f"{what}: {pace:.2f} items/s offered vs {c.rate:.2f} allowed by {c.name}")
        return "; ".join(risks) if risks else "none"


_TAIL_ITEMS = 4000  # items in flight the paced tail looks back over at most
_TAIL_POINTS = 512


def _paced_tail(times: "np.ndarray", rate: float, paced: float = math.inf) -> float:
    """E[max_j (T_j - j / rate)] over j < ``paced``, T_j independent with the sorted sample
    ``times``: the integral of 1 - P(max <= y) over y, P(max <= y) = prod_j F(y + j / rate)."""
    import numpy as np

    low, top = float(times[0]), float(times[-1])
    if top <= low:  # no spread: the last item's time
        return top
    n = int(min(_TAIL_ITEMS, math.ceil(top * rate) + 1, max(1.0, math.ceil(min(paced, _TAIL_ITEMS)))))
    y = np.linspace(low, top, _TAIL_POINTS)  # the maximum is at least the last item's time
    shifted = y[:, None] + np.arange(n)[None, :] / rate
    cdf = np.interp(shifted, times, (np.arange(len(times)) + 0.5) / len(times), left=0.0, right=1.0)
    below = np.exp(np.log(np.maximum(cdf, 1e-300)).sum(axis=1))
    return low + float(np.trapezoid(1.0 - below, y))


def _mixture_ppf(calls: list[tuple[float, CallModel]], total: float, q: float) -> float:
    """The ``q`` quantile of a mixture of call latencies, by bisection on its cdf (monotone, a
    step function for an LLM call's table). No mixture quantile lies above the largest of the
    calls' own; twice that bounds it with room for the table's interpolation."""
    lo, hi = 0.0, 2.0 * max(c.latency.ppf(q) for _, c in calls) + 1e-9
    for _ in range(80):
        mid = (lo + hi) / 2
        if sum(a * c.latency.cdf(mid) for a, c in calls) / total < q:
            lo = mid
        else:
            hi = mid
    return hi


_CLIENT_DIMENSIONS = ("requests_per_second", "requests_per_minute", "tokens_per_minute", "input_tokens_per_minute",
                      "output_tokens_per_minute")


def _learnt_dimensions(client) -> set[str]:
    """The limiter dimensions the runner learns for a target: those its limits leave out."""
    if not client.learn:
        return set()
    return {dim for dim in _CLIENT_DIMENSIONS if not getattr(client, dim)}


def _expected_attempts(p: float, cap: int) -> float:
    """E[attempts] of a call that fails transiently with probability ``p`` and is tried at most
    ``cap`` times (the runner's retry.max_attempts): 1 + p + ... + p^(cap-1)."""
    if p >= 1.0:
        return float(cap)
    return (1.0 - p ** cap) / (1.0 - p)


def _planned_calls(loaded: LoadedScenario, row: dict | None) -> list[PlannedCall]:
    sc = loaded.scenario
    if sc.plan:
        return list(sc.plan)
    calls = []
    ctx: dict[str, Any] = {"row": row or {}, "item": {"id": "1", "seq": 0, "line": 1}, "steps": {}}
    for step in sc.steps:
        profile = loaded.profiles[step.target]
        try:
            body = compile_tree(step.body)(ctx)
        except (TemplateFailure, ValueError):
            body = step.body if isinstance(step.body, dict) else None
        model = max_tokens = prompt = None
        request_bytes = None
        if isinstance(body, dict):
            import orjson

            try:
                request_bytes = len(orjson.dumps(body))
            except TypeError:
                request_bytes = None
            req = rules_for(profile).llm_request(profile, body)
            if req is not None:
                model, prompt, max_tokens = req.model, req.prompt_tokens, req.max_tokens or None
        endpoint = model if model else _endpoint_for(profile, step.method, step.path, step.name)
        calls.append(PlannedCall(target=step.target, endpoint=endpoint, model=model, max_tokens=max_tokens,
                                 prompt_tokens=prompt, request_bytes=request_bytes if rules_for(profile).sized_by_body
                                 else None))
    return calls


def _endpoint_for(profile: Profile, method: str, path: str, step_name: str) -> str | None:
    """The profile endpoint a step calls: by name, else by method and path shape."""
    for ep in profile.endpoints:
        if ep.name == step_name:
            return ep.name
    shape = _shape(path)
    for ep in profile.endpoints:
        if ep.method == method and _shape(ep.path) == shape:
            return ep.name
    return profile.endpoints[0].name if profile.endpoints else None


def _shape(path: str) -> list[str]:
    return ["*" if ("{" in p) else p for p in path.split("?")[0].strip("/").split("/")]


def _endpoint(profile: Profile, name: str | None) -> Endpoint | None:
    for ep in profile.endpoints:
        if ep.name == name:
            return ep
    return profile.endpoints[0] if (name is None and profile.endpoints) else None


def _client_burst(loaded: LoadedScenario) -> float | None:
    bursts = [t.limits.burst for t in loaded.scenario.targets.values() if t.limits.any_set()]
    return min((b or 1.0) for b in bursts) if bursts else None


def _sample_rows(loaded: LoadedScenario, limit: int = 200) -> list[dict | None]:
    """The first ``limit`` parsable input rows (token counts and sizes are averaged over them)."""
    path = loaded.resolve(loaded.scenario.input.path)
    if path is None or not path.exists():
        return [None]
    rows: list[dict | None] = []
    for item in read_items(path, loaded.scenario.input.format, loaded.scenario.input.id):
        if item.row is not None:
            rows.append(item.row)
            if len(rows) >= limit:
                break
    return rows or [None]


def _average_calls(loaded: LoadedScenario, rows: list[dict | None]) -> list[PlannedCall]:
    """Each call's prompt tokens and request bytes averaged over the sample rows."""
    per_row = [_planned_calls(loaded, row) for row in rows]
    first = per_row[0]
    out = []
    for i, call in enumerate(first):
        update: dict[str, Any] = {}
        for fld in ("prompt_tokens", "request_bytes"):
            values = [calls[i].__dict__[fld] for calls in per_row if calls[i].__dict__[fld] is not None]
            if values:
                update[fld] = round(sum(values) / len(values))
        out.append(call.model_copy(update=update))
    return out


def planned_duration(loaded: LoadedScenario, workers: int, items: int) -> float | None:
    """The model's duration for a run (profile seconds), or None where it cannot predict: a plan
    is a nicety for a run's metrics, never a reason for the run to fail."""
    try:
        return CapacityModel(loaded).predict(workers, items).duration_s
    except Exception:  # noqa: BLE001
        return None
