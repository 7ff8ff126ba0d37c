"""The Keepa mock: a token balance per key, refilled every minute, that may go negative.

A request runs while the balance is positive and costs its tokens even if that drives the
balance below zero; with a balance of zero or less the answer is 429. Every body carries the
envelope ``tokensLeft``, ``refillIn`` (ms), ``refillRate`` (per minute), ``tokensConsumed``.
Both time-valued fields are in wall-clock time under a compressed time scale: the keepa client
waits ``refillIn`` plus ``-tokensLeft / refillRate`` minutes, so a profile-time rate would make
it wait 1/time_scale times too long.
"""

from __future__ import annotations

import math
import time
from typing import Any, Mapping

import orjson
from aiohttp import web

from ..profile import KeepaTokens
from ..timescale import TimeScale
from . import keepa_content, keepa_finder
from .base import Provider

MAX_ASINS = 100
DOMAINS = (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12)  # com, co.uk, de, fr, co.jp, ca, it, es, in, com.mx, com.br


class KeepaBalance:
    """Discrete per-minute refills of ``refill_rate`` tokens, capped at ``max_hours`` worth."""

    def __init__(self, spec: KeepaTokens, scale: TimeScale, clock=time.monotonic) -> None:
        self.rate = spec.refill_rate
        self.wall_rate = _whole_if_exact(scale.per_second(spec.refill_rate))  # tokens per wall-clock minute
        self.cap = int(spec.refill_rate * 60 * spec.max_hours)
        self.period = scale.seconds(60.0)
        self._clock = clock
        self.tokens = spec.initial if spec.initial is not None else self.cap
        self._epoch = clock()
        self._refills = 0

    def _refill(self, now: float | None = None) -> None:
        due = int(((self._clock() if now is None else now) - self._epoch) / self.period)
        if due > self._refills:
            self.tokens = min(self.cap, self.tokens + (due - self._refills) * self.rate)
            self._refills = due

    def refill_in_ms(self) -> int:
        # one clock reading: read twice, a refill falling due in between made this 0 ms
        now = self._clock()
        self._refill(now)
        nxt = self._epoch + (self._refills + 1) * self.period
        return max(1, math.ceil((nxt - now) * 1000))

    def try_spend(self, cost: int) -> bool:
        self._refill()
        if self.tokens <= 0:
            return False
        self.tokens -= cost
        return True


class KeepaProvider(Provider):
    def configure(self, profile) -> None:
        super().configure(profile)
        self.balances: dict[str, KeepaBalance] = {}

    def reset_limits(self) -> None:
        super().reset_limits()
        self.balances.clear()

    def routes(self) -> list[web.RouteDef]:
        # the keepa client calls "/product/?..." and "/token/?...": both spellings are served
        return [
            self.route("GET", "/product", "product", self.product, fast=True),
            self.route("GET", "/product/", "product", self.product, fast=True),
            self.route("GET", "/token", "token", self.token, fast=True),
            self.route("GET", "/token/", "token", self.token, fast=True),
            *(self.route(m, path, "query", self.query, fast=m == "GET") for m in ("GET", "POST") for path in ("/query", "/query/")),
        ]

    def answer(self, request: web.Request, status: int, body: dict[str, Any], products: bytes = b"") -> web.Response:
        """Keepa answers gzip-compressed when the client accepts it (every client does); the
        products' JSON comes ready-made (see :func:`keepa_content.product_json`)."""
        raw = orjson.dumps(body)
        if products:
            raw = raw[:-1] + b',"products":[' + products + b"]}"
        headers = {}
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            raw = keepa_content.gzip_fast(raw)
            headers["Content-Encoding"] = "gzip"
        return web.Response(status=status, body=raw, content_type="application/json", headers=headers)

    def envelope(self, balance: KeepaBalance | None, consumed: int, started: float) -> dict[str, Any]:
        return {
            "timestamp": int(self.ctx.wall_clock() * 1000),
            "tokensLeft": balance.tokens if balance else 0,
            "refillIn": balance.refill_in_ms() if balance else 0,
            "refillRate": balance.wall_rate if balance else 0,
            "tokenFlowReduction": 0.0,
            "tokensConsumed": consumed,
            "processingTimeInMs": int((time.monotonic() - started) * 1000),
        }

    def error(self, status: int, kind: str, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
        body = self.envelope(None, 0, time.monotonic())
        body["error"] = {"type": kind, "message": message, "details": None}
        return self.json(status, body, headers)

    def method_not_allowed(self, method: str, path: str, allowed: list[str]) -> web.Response:
        return self.error(405, "METHOD_NOT_ALLOWED", f"Method {method} is not allowed for {path}.",
                          headers={"Allow": ", ".join(allowed)})

    def _balance(self, request: web.Request, form: Mapping[str, Any] | None = None) -> KeepaBalance | web.Response:
        key = str(request.query.get("key") or (form or {}).get("key") or "").strip()
        if not key or key.startswith(self.profile.auth.invalid_prefix):
            return self.error(400, "REQUEST_REJECTED", "Invalid or missing access key (key parameter).")
        bal = self.balances.get(key)
        if bal is None:
            bal = self.balances[key] = KeepaBalance(self.profile.keepa, self.ctx.time_scale, self.ctx.clock)
        return bal

    async def token(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        bal = self._balance(request)
        if isinstance(bal, web.Response):
            return bal
        return self.answer(request, 200, self.envelope(bal, 0, started))

    async def product(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        bal = self._balance(request)
        if isinstance(bal, web.Response):
            return bal
        asins = [a for a in request.query.get("asin", "").split(",") if a] or \
                [c for c in request.query.get("code", "").split(",") if c]
        if not asins:
            return self.error(400, "REQUEST_REJECTED", "Missing parameter: asin or code.")
        if len(asins) > MAX_ASINS:
            return self.error(400, "REQUEST_REJECTED", f"At most {MAX_ASINS} ASINs per request ({len(asins)} given).")
        domain = _domain(request)
        if domain is None:
            return self.error(400, "REQUEST_REJECTED", f"Invalid domain: {request.query.get('domain')!r}.")
        offers = request.query.get("offers")
        if offers is not None and (not offers.isdigit() or not 20 <= int(offers) <= 100):
            return self.error(400, "REQUEST_REJECTED", "The offers parameter must be between 20 and 100.")
        cost = self.rules.endpoint_cost(self.profile, "product") * keepa_content.cost(request.query, len(asins))
        if not bal.try_spend(cost):
            self.count_rate_limited("tokens")
            return self.answer(request, 429, self.envelope(bal, 0, started))

        async def work(fault: str | None) -> web.StreamResponse:
            await self.sleep_profile(self.latency.sample())
            if fault in ("error_500", "error_503", "error_529", "stream_error", "insufficient_quota"):
                body = self.envelope(bal, cost, started)
                body["error"] = {"type": "INTERNAL_SERVER_ERROR", "message": "Injected fault.", "details": None}
                return self.json(500 if fault in ("error_500", "stream_error") else 503, body)
            body = self.envelope(bal, cost, started)
            products = b",".join(keepa_content.product_json(a, domain, request.query) for a in asins)
            if fault == "malformed":
                return self.malformed(200, {**body, "products": orjson.loads(b"[" + products + b"]")})
            return self.answer(request, 200, body, products)

        return await self.serve(request, work)


    async def query(self, request: web.Request) -> web.StreamResponse:
        """The Product Finder (:mod:`keepa_finder`): charged 10 + 1 per 100 ASINs it returns."""
        started = time.monotonic()
        form: Mapping[str, Any] = {}
        selection: str | None = request.query.get("selection")
        if request.method == "POST":
            if request.content_type == "application/x-www-form-urlencoded":
                form = await request.post()
                selection = str(form["selection"]) if "selection" in form else selection
            else:
                selection = (await request.read()).decode("utf-8", "replace") or selection
        bal = self._balance(request, form)
        if isinstance(bal, web.Response):
            return bal
        domain = _domain(request, form)
        if domain is None:
            return self.error(400, "REQUEST_REJECTED", f"Invalid domain: {request.query.get('domain')!r}.")
        try:
            finder = keepa_finder.parse(selection, request.query.get("stats") or form.get("stats"))
        except keepa_finder.FinderError as exc:
            return self.error(400, "REQUEST_REJECTED", str(exc))
        if not bal.try_spend(0):  # the balance is checked now; what it costs is known once answered
            self.count_rate_limited("tokens")
            return self.answer(request, 429, self.envelope(bal, 0, started))
        asins, total = keepa_finder.results(finder, domain)
        base = next((e.cost for e in self.profile.endpoints if e.name == "query"), keepa_finder.BASE_COST)
        cost = keepa_finder.cost(len(asins), base)
        bal.tokens -= cost

        async def work(fault: str | None) -> web.StreamResponse:
            await self.sleep_profile(self.latency.sample())
            body = self.envelope(bal, cost, started)
            if fault in ("error_500", "error_503", "error_529", "stream_error", "insufficient_quota"):
                body["error"] = {"type": "INTERNAL_SERVER_ERROR", "message": "Injected fault.", "details": None}
                return self.json(500 if fault in ("error_500", "stream_error") else 503, body)
            body["asinList"] = asins
            body["totalResults"] = total
            if fault == "malformed":
                return self.malformed(200, body)
            return self.answer(request, 200, body)

        return await self.serve(request, work)


def _whole_if_exact(rate: float) -> int | float:
    """Keepa sends ``refillRate`` as an integer; a scaled rate stays one when it is whole."""
    return int(rate) if float(rate).is_integer() else round(rate, 6)


def _domain(request: web.Request, form: Mapping[str, Any] | None = None) -> int | None:
    """The ``domain`` parameter (default 1, amazon.com), or None if it names no Keepa domain."""
    raw = str(request.query.get("domain") or (form or {}).get("domain") or "1")
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) in DOMAINS else None
