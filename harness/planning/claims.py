"""Verdicts on a source document's claims: each number of a seed's ``claims:`` section against
the capacity model (the arithmetic), with the measurement of a sweep shown next to it.

A claim **holds** when it, or its ``[min, max]`` range, lies within ``TOLERANCE`` (15%) of the
model's value: a number ``c`` holds against a model value ``m`` when ``|c - m| <= 0.15 m``; a
range holds when ``m`` is no further than ``0.15 m`` outside it. 15% because the documents'
figures are rounded ("~2 min", "~13 req/s") and their stated latencies are averages of a
spread; anything further off is a different rate, not a rounding. Otherwise the claim is
**contradicted**, and the verdict writes out the arithmetic that says so, e.g.
"20 workers / 2.70 s per item = 7.41 req/s, not 13 req/s (13 would need 35 workers)".

The model, not the measurement, decides: the measurement is evidence that the model is right
(the sweep reports its error separately), the arithmetic is the reference (docs/seeds.md).

Limits a document quotes (``limit_*`` statements) are checked against the document's own
speed table: every row's claimed rate, times the units each item takes from that limit, must
fit under it (under the low end of a quoted range: "usually 90,000-200,000" has to hold for an
account at 90,000).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from mock_servers.rules import LLMRequest, Usage, rules_for

from harness.claims_spec import ClaimRow, Claims, ClaimStatement
from harness.format import fmt_bps, fmt_bytes, fmt_duration, fmt_num, fmt_one, fmt_value
from harness.planning.planner import CapacityModel, Prediction
from harness.scenario import LoadedScenario

TOLERANCE = 0.15

HOLDS = "holds"
CONTRADICTED = "contradicted"
NOT_CHECKED = "not checked"

TABLE_FIELDS = ("duration_s", "throughput_per_min", "speedup", "faster_pct")


@dataclass
class Verdict:
    """One claim, the model's (and, where measured, the sweep's) value, and the verdict."""

    id: str
    kind: str
    source: str  # "table" or "statement"
    workers: int | None
    items: int | None
    claimed: Any
    model: float | None
    measured: float | None
    unit: str
    status: str
    arithmetic: str
    quote: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def claimed_text(self) -> str:
        return fmt_value(self.claimed, self.unit)


# -- comparison ----------------------------------------------------------------------------
def bounds(v: Any) -> tuple[float, float]:
    if isinstance(v, (list, tuple)):
        return float(min(v)), float(max(v))
    return float(v), float(v)


def within(claimed: Any, reference: float, tolerance: float = TOLERANCE) -> bool:
    """The claim (a number or a [min, max] range) is within ``tolerance`` of ``reference``."""
    lo, hi = bounds(claimed)
    slack = tolerance * abs(reference)
    if reference == 0:
        return lo <= 0 <= hi
    return lo - slack <= reference <= hi + slack


def nearest(claimed: Any, reference: float) -> float:
    """The end of a claimed range closest to the reference (the number itself otherwise)."""
    lo, hi = bounds(claimed)
    return min(max(reference, lo), hi)


# -- the checker ---------------------------------------------------------------------------
class ClaimChecker:
    """Verdicts for one scenario's claims; ``result`` (a sweep) adds measured values."""

    def __init__(self, loaded: LoadedScenario, result: Any = None, model: CapacityModel | None = None,
                 tolerance: float = TOLERANCE) -> None:
        self.loaded = loaded
        self.claims: Claims = loaded.scenario.claims
        self.model = model or CapacityModel(loaded)
        self.result = result
        self.tol = tolerance
        self.items = int(self.claims.items or loaded.scenario.items or (result.items if result else 0) or 0)
        self.table: list[ClaimRow] = self.claims.table
        base = [r.workers for r in self.table if r.speedup == 1]
        self.table_base = base[0] if base else 1
        self._cache: dict[tuple[int, int], Prediction] = {}
        self.n_req = self.model.requests_per_item()
        self.req_bytes, self.resp_bytes = self.model.bytes_per_item()

    def predict(self, workers: int, items: int | None = None) -> Prediction:
        key = (workers, items or self.items)
        if key not in self._cache:
            self._cache[key] = self.model.predict(workers, key[1])
        return self._cache[key]

    def measured(self, workers: int | None, items: int | None):
        if self.result is None or workers is None or (items and items != self.result.items):
            return None
        p = self.result.point(workers)
        return p.measured if p is not None else None

    # -- explanations of the model's rate --------------------------------------------------
    def _binding(self, pred: Prediction):
        return pred.binding if pred.binding.limit != "concurrency" else None

    def rate_text(self, pred: Prediction, per: str = "item") -> str:
        """Why the model goes at its rate: the workers over the item time, or the limit."""
        w, t = pred.workers, pred.item_time_s
        c = self._binding(pred)
        mult = self.n_req if per == "request" else 1.0
        unit = "req/s" if per == "request" else "items/s"
        calls = f" x {fmt_num(self.n_req)} requests" if per == "request" and abs(self.n_req - 1) > 1e-9 else ""
        if c is None:
            return f"{_plural(w, 'worker')} / {t:.2f} s per item{calls} = {fmt_num(w / t * mult)} {unit}"
        free = w / t * mult
        return (f"{c.name} allows {c.note} = {fmt_num(c.rate * mult)} {unit} "
                f"(the {_plural(w, 'worker')} alone would do {w} / {t:.2f} s{calls} = {fmt_num(free)} {unit})")

    def need_text(self, pred: Prediction, rate_needed: float, unit: str = "items/s", per_item: float = 1.0) -> str:
        """What a claimed rate (items/s) would need: workers at the model's item time, and the
        limit it would exceed."""
        t = pred.item_time_s
        if rate_needed < pred.items_per_s:
            # the claim is slower than the arithmetic: say what item time it implies
            return (f" ({fmt_one(rate_needed * per_item, unit)} implies {pred.workers / rate_needed:.1f} s per item "
                    f"with {_plural(pred.workers, 'worker')})") if rate_needed > 0 else ""
        workers_needed = max(1, round(rate_needed * t))
        parts = [f"{workers_needed} workers at {t:.2f} s per item"]
        c = self._binding(pred)
        if c is not None and rate_needed > c.rate:
            parts.append(f"{rate_needed / c.rate:.1f}x the {c.name} limit")
        elif rate_needed * t > pred.workers * (1 + self.tol):
            parts.append(f"or {pred.workers / rate_needed:.2f} s per item at {pred.workers} workers")
        return " (" + fmt_one(rate_needed * per_item, unit) + " would need " + ", ".join(parts) + ")"

    # -- entry point -------------------------------------------------------------------------
    def check(self) -> list[Verdict]:
        out: list[Verdict] = []
        for row in self.table:
            for fld in TABLE_FIELDS:
                if getattr(row, fld) is not None:
                    out.append(self._check(f"table-w{row.workers}-{fld}", fld, "table", row, getattr(row, fld)))
        for st in self.claims.statements:
            out.append(self._check(st.id, st.kind, "statement", st, st.value))
        return out

    def _check(self, cid: str, kind: str, source: str, claim: ClaimRow | ClaimStatement, value: Any) -> Verdict:
        statement = claim if isinstance(claim, ClaimStatement) else None
        items = statement.items if statement is not None and statement.items is not None else self.items
        note = statement.note if statement is not None else None
        v = Verdict(cid, kind, source, claim.workers, items, value, None, None, "", NOT_CHECKED, "", claim.quote)
        if not isinstance(value, (int, float, list, tuple)) or isinstance(value, bool):
            v.arithmetic = note or "not a figure"
            return v
        fn = getattr(self, "_k_" + kind, None)
        if kind.startswith("limit_"):
            fn = self._k_limit
        if fn is None:
            v.arithmetic = (note or kind) + ": not a figure the model predicts"
            return v
        try:
            fn(v, claim)
        except _NeedWorkers:
            v.status = NOT_CHECKED
            v.arithmetic = (note or "") + " (a setting: no worker count to predict at)"
        return v

    def _judge(self, v: Verdict, model_value: float, unit: str, why: str, why_not: str = "") -> None:
        v.model, v.unit = model_value, unit
        if within(v.claimed, model_value, self.tol):
            v.status = HOLDS
            v.arithmetic = why
            lo, hi = bounds(v.claimed)
            if lo != hi and model_value > 0:
                far = max((lo, hi), key=lambda e: max(e / model_value, model_value / e) if e > 0 else math.inf)
                r = far / model_value
                if far > 0 and (r > 1 + self.tol or r < 1 / (1 + self.tol)):
                    v.arithmetic += f"; the range's other end, {fmt_one(far, unit)}, is {r:.2g}x that"
        else:
            v.status = CONTRADICTED
            v.arithmetic = f"{why}, not {fmt_value(v.claimed, unit)}{why_not}"

    # -- kinds -----------------------------------------------------------------------------
    def _w(self, v: Verdict) -> int:
        if v.workers is None:
            raise _NeedWorkers
        return v.workers

    def _k_duration_s(self, v: Verdict, claim: ClaimRow | ClaimStatement) -> None:
        w, n = self._w(v), v.items
        p = self.predict(w, n)
        m = self.measured(w, n)
        v.measured = m.duration_s if m else None
        near = nearest(v.claimed, p.duration_s)
        need = self.need_text(p, n / near if near > 0 else math.inf)
        lead = "at most" if self._binding(p) is not None else ""
        why = f"{self.rate_text(p)}, so {fmt_num(n)} items take {'at least ' if lead else ''}{fmt_duration(p.duration_s)}"
        self._judge(v, p.duration_s, "s", why, need)

    def _throughput(self, v: Verdict, per: float, unit: str) -> None:
        w, n = self._w(v), v.items
        p = self.predict(w, n)
        m = self.measured(w, n)
        v.measured = m.items_per_s * per if m else None
        model = p.items_per_s * per
        why = self.rate_text(p) + (f" = {fmt_num(model)}/min" if per == 60 else "")
        near = nearest(v.claimed, model) / per
        self._judge(v, model, unit, why, self.need_text(p, near, unit, per))

    def _k_throughput_per_min(self, v: Verdict, claim: ClaimRow | ClaimStatement) -> None:
        self._throughput(v, 60.0, "items/min")

    def _k_throughput_per_s(self, v: Verdict, claim: ClaimRow | ClaimStatement) -> None:
        self._throughput(v, 1.0, "items/s")

    def _requests(self, v: Verdict, per: float, unit: str) -> None:
        w, n = self._w(v), v.items
        p = self.predict(w, n)
        m = self.measured(w, n)
        if m:
            v.measured = float(m.summary.get("requests_per_second_real") or 0.0) * per or None
        model = p.requests_per_s * per
        why = self.rate_text(p, "request") + (f" = {fmt_num(model)}/min" if per == 60 else "")
        near = nearest(v.claimed, model) / per / self.n_req
        self._judge(v, model, unit, why, self.need_text(p, near, unit, per * self.n_req))

    def _k_requests_per_second(self, v: Verdict, claim: ClaimRow | ClaimStatement) -> None:
        self._requests(v, 1.0, "req/s")

    def _k_requests_per_minute(self, v: Verdict, claim: ClaimRow | ClaimStatement) -> None:
        self._requests(v, 60.0, "req/min")

    def _baseline(self, v: Verdict) -> int:
        table_workers = {r.workers for r in self.table}
        return self.table_base if (v.workers in table_workers or v.source == "table") else 1

    def _k_speedup(self, v: Verdict, claim: ClaimRow | ClaimStatement) -> None:
        w, n = self._w(v), v.items
        b = self._baseline(v)
        pb, pw = self.predict(b, n), self.predict(w, n)
        model = pb.duration_s / pw.duration_s
        mb, mw = self.measured(b, n), self.measured(w, n)
        v.measured = mb.duration_s / mw.duration_s if (mb and mw) else None
        why = (f"speed-up vs {b} worker{'s' if b > 1 else ''}: {fmt_num(n)} items, "
               f"{fmt_duration(pb.duration_s)} with {b} / {fmt_duration(pw.duration_s)} with {w} = {model:.1f}x")
        extra = ""
        if pw.items_per_s * pw.item_time_s >= w * 0.98 and pb.items_per_s * pb.item_time_s >= b * 0.98:
            extra = f" ({w} / {b} workers at a constant {pw.item_time_s:.2f} s per item give at most {w / b:.0f}x)"
        self._judge(v, model, "x", why, extra)

    def _k_faster_pct(self, v: Verdict, claim: ClaimRow | ClaimStatement) -> None:
        w, n = self._w(v), v.items
        b = self._baseline(v)
        pb, pw = self.predict(b, n), self.predict(w, n)
        model = 100.0 * (1.0 - pw.duration_s / pb.duration_s)
        mb, mw = self.measured(b, n), self.measured(w, n)
        v.measured = 100.0 * (1.0 - mw.duration_s / mb.duration_s) if (mb and mw) else None
        why = (f"vs {b} worker{'s' if b > 1 else ''}: 1 - {fmt_duration(pw.duration_s)} / "
               f"{fmt_duration(pb.duration_s)} = {model:.0f}% faster")
        self._judge(v, model, "%", why)

    def _k_concurrency(self, v: Verdict, claim: ClaimRow | ClaimStatement) -> None:
        w, n = self._w(v), v.items
        p = self.predict(w, n)
        why = f"{fmt_num(p.items_per_s)} items/s x {p.item_time_s:.2f} s per item = {fmt_num(p.concurrency)} in flight" \
            f" (at most {w})"
        self._judge(v, p.concurrency, "in flight", why)

    def _k_latency_s(self, v: Verdict, claim: ClaimStatement) -> None:
        target = claim.target
        calls = [c for c in self.model.calls if target is None or c.target == target]
        if not calls:
            v.arithmetic = f"no calls to {target!r} in the scenario"
            return
        model = sum(c.latency_mean for c in calls) if target else self.model.item_time()
        parts = " + ".join(f"{c.latency_mean:.2f} s ({c.target} {c.endpoint})" for c in calls)
        why = f"mean time per {'call' if target else 'item'}: {parts}" + (f" = {model:.2f} s" if len(calls) > 1 else "")
        m = self.measured(v.workers, None) if v.workers else None
        if m and not target:
            v.measured = m.summary.get("latency_real_seconds", {}).get("p50")
        self._judge(v, model, "s", why)

    def _k_bandwidth_out_bps(self, v: Verdict, claim: ClaimRow | ClaimStatement) -> None:
        self._bandwidth(v, self.req_bytes, "out")

    def _k_bandwidth_in_bps(self, v: Verdict, claim: ClaimRow | ClaimStatement) -> None:
        self._bandwidth(v, self.resp_bytes, "in")

    def _bandwidth(self, v: Verdict, bytes_per_item: float, way: str) -> None:
        w, n = self._w(v), v.items
        p = self.predict(w, n)
        model = p.bandwidth_out_bps if way == "out" else p.bandwidth_in_bps
        per_req = bytes_per_item / self.n_req if self.n_req else 0.0
        why = f"{fmt_num(p.requests_per_s)} req/s x {fmt_num(per_req)} B x 8 = {fmt_bps(model)}"
        near = nearest(v.claimed, model)
        need = f" ({fmt_bps(near)} would need {fmt_num(near / 8 / per_req)} req/s)" if per_req else ""
        self._judge(v, model, "bps", why, need)

    def _k_daily_bytes(self, v: Verdict, claim: ClaimStatement) -> None:
        w = self._w(v)
        p = self.predict(w, self.items)
        per_req = (self.req_bytes + self.resp_bytes) / self.n_req if self.n_req else 0.0
        model = p.requests_per_s * 86400 * per_req
        why = f"{fmt_num(p.requests_per_s)} req/s x 86,400 s x {fmt_num(per_req)} B = {fmt_bytes(model)}/day"
        extra = ""
        batch = v.items * (self.req_bytes + self.resp_bytes)
        if claim.items and within(v.claimed, batch, self.tol):
            extra = (f"; {fmt_value(v.claimed, 'bytes/day').removesuffix('/day')} is the whole batch: "
                     f"{fmt_num(v.items)} items x {fmt_num(self.req_bytes + self.resp_bytes)} B = {fmt_bytes(batch)}, "
                     f"not a daily volume")
        self._judge(v, model, "bytes/day", why, extra)

    def _k_total_requests(self, v: Verdict, claim: ClaimRow | ClaimStatement) -> None:
        model = v.items * self.n_req
        why = f"{fmt_num(v.items)} items x {fmt_num(self.n_req)} request{'s' if self.n_req != 1 else ''} = {fmt_num(model)}"
        self._judge(v, model, "requests", why)

    def _item_cost(self, model_name: str | None = None) -> tuple[float, str]:
        """Dollars per item; with ``model_name``, the same tokens priced at that model."""
        total, parts = 0.0, []
        for a, c in zip(self.model.attempts, self.model.calls):
            profile = self.loaded.profiles[c.target]
            rules = rules_for(profile)
            if model_name and rules.llm:
                usage = Usage(int(c.prompt_tokens), int(round(c.output_tokens_mean)))
                d = rules.price(profile, model_name, usage) * a
                parts.append(f"{fmt_num(c.prompt_tokens)} in + {fmt_num(c.output_tokens_mean)} out at {model_name}")
            else:
                d = c.dollars * a
                if c.prompt_tokens:
                    parts.append(f"{fmt_num(c.prompt_tokens)} in + {fmt_num(c.output_tokens_mean)} out tokens")
            total += d
        return total, ", ".join(parts)

    def _k_cost_total(self, v: Verdict, claim: ClaimStatement) -> None:
        tokens = claim.tokens
        if tokens is not None:
            call = next((c for c in self.model.calls if c.prompt_tokens), None)
            if call is None:
                v.arithmetic = "no LLM call to price the tokens with"
                return
            profile = self.loaded.profiles[call.target]
            rules = rules_for(profile)
            model = rules.price(profile, call.endpoint, Usage(int(tokens[0]), int(tokens[1])))
            prices = rules.prices(profile, call.endpoint)
            why = (f"{fmt_num(tokens[0])} input x ${prices.input_per_million:g}/M + {fmt_num(tokens[1])} output x "
                   f"${prices.output_per_million:g}/M = ${model:.2f}")
            self._judge(v, model, "$", why)
            return
        per, how = self._item_cost(claim.model)
        model = per * v.items
        why = f"{fmt_num(v.items)} items x ${per:.4f} ({how}) = ${model:,.2f}" if how else \
            f"{fmt_num(v.items)} items x ${per:.4f} = ${model:,.2f}"
        self._judge(v, model, "$", why)

    def _k_cost_per_item(self, v: Verdict, claim: ClaimStatement) -> None:
        per, how = self._item_cost(claim.model)
        self._judge(v, per, "$", f"${per:.4f} per item ({how})" if how else f"${per:.4f} per item")

    # -- quoted limits against the document's own table ---------------------------------------
    _LIMIT_UNITS = {
        "limit_requests_per_minute": ("requests", 60.0, "requests/minute"),
        "limit_requests_per_second": ("requests", 1.0, "requests/s"),
        "limit_tokens_per_minute": ("tokens", 60.0, "tokens/minute"),
        "limit_input_tokens_per_minute": ("input tokens", 60.0, "input tokens/minute"),
        "limit_output_tokens_per_minute": ("output tokens", 60.0, "output tokens/minute"),
    }

    def _units_per_item(self, kind: str, target: str | None) -> float:
        what = self._LIMIT_UNITS[kind][0]
        total = 0.0
        for a, c in zip(self.model.attempts, self.model.calls):
            if target is not None and c.target != target:
                continue
            if what == "requests":
                total += a
            elif what == "tokens":
                rules = rules_for(self.loaded.profiles[c.target])
                request = LLMRequest(c.endpoint, int(c.prompt_tokens), int(c.max_tokens)) if rules.llm else None
                total += a * rules.sustained_units(request, c.output_tokens_mean).get("tokens_per_minute", 0.0)
            elif what == "input tokens":
                total += a * c.prompt_tokens
            else:
                total += a * c.output_tokens_mean
        return total

    def _k_limit(self, v: Verdict, claim: ClaimStatement) -> None:
        if v.kind not in self._LIMIT_UNITS:
            v.arithmetic = f"{v.kind}: unknown limit kind"
            return
        what, period, label = self._LIMIT_UNITS[v.kind]
        target = claim.target
        units = self._units_per_item(v.kind, target)
        lo, hi = bounds(v.claimed)
        v.unit, v.model = label, None
        if units <= 0:
            v.arithmetic = f"no {what} to {target or 'any target'} per item"
            return
        rows = [r for r in self.table if v.workers is None or r.workers == v.workers]
        worst = None  # (ratio to the limit, row, items/s claimed)
        for r in rows:
            x = None
            if r.duration_s is not None:
                x = self.items / bounds(r.duration_s)[1]  # the slowest end: the most lenient reading
            elif r.throughput_per_min is not None:
                x = bounds(r.throughput_per_min)[0] / 60.0
            if x is None:
                continue
            ratio = x * units * period / lo
            if worst is None or ratio > worst[0]:
                worst = (ratio, r, x)
        on = f"{fmt_num(units)} {what if units != 1 else what.removesuffix('s')} per item" + (f" to {target}" if target else "")
        rng = f" (the low end of {fmt_value(v.claimed, '')})" if lo != hi else ""
        if worst is None:
            v.arithmetic = "no row of the document's table to check the limit against"
            return
        ratio, r, x = worst
        used = x * units * period
        v.model = used
        w = r.workers
        cap_items = lo / period / units  # items/s the limit allows
        t_min = self.items / cap_items
        claimed_d = r.duration_s
        claimed_t = fmt_value(claimed_d, "s") if claimed_d is not None else fmt_value(r.throughput_per_min, "items/min")
        base = (f"{_plural(w, 'worker')} against a limit of {fmt_num(lo)} {label}{rng}: at most "
                f"{fmt_num(lo / period)} {what}/s = {fmt_num(lo)}/{'min' if period == 60 else 's'}, "
                f"at {on} {fmt_num(cap_items)} items/s")
        if ratio <= 1 + self.tol:
            v.status = HOLDS
            v.arithmetic = (f"the table's fastest row ({_plural(w, 'worker')}, {claimed_t}) needs {fmt_num(used / period)} "
                            f"{what}/s at {on}, within the limit of {fmt_num(lo / period)}/s")
            return
        v.status = CONTRADICTED
        v.arithmetic = (f"{base}, so {fmt_num(self.items)} items take at least {fmt_duration(t_min)}, not {claimed_t} "
                        f"({claimed_t} needs {fmt_num(used / period)} {what}/s, {ratio:.1f}x the limit")
        if hi != lo:
            over_hi = used / hi
            v.arithmetic += (f"; {over_hi:.1f}x even the high end, {fmt_num(hi)}" if over_hi > 1 + self.tol
                             else f"; it fits only near the high end, {fmt_num(hi)}")
        v.arithmetic += ")"


def _plural(n: float, word: str) -> str:
    return f"{fmt_num(n)} {word}{'' if n == 1 else 's'}"


class _NeedWorkers(Exception):
    pass


def check_claims(loaded: LoadedScenario, result: Any = None, model: CapacityModel | None = None,
                 tolerance: float = TOLERANCE) -> list[Verdict]:
    """Every claim of the scenario's ``claims:`` section with its verdict."""
    return ClaimChecker(loaded, result, model, tolerance).check()


def summarize(verdicts: list[Verdict]) -> dict[str, int]:
    out = {HOLDS: 0, CONTRADICTED: 0, NOT_CHECKED: 0}
    for v in verdicts:
        out[v.status] = out.get(v.status, 0) + 1
    return out
