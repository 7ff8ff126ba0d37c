"""The Amazon SP-API mock: per-operation token buckets (rate, burst) and the LWA token endpoint.

Each operation of the profile is a bucket per access token, refilled at its rate up to its
burst. Answers carry ``x-amzn-RequestId`` and ``x-amzn-RateLimit-Limit``; there is no
remaining/reset/Retry-After header, as on the real API. Errors are ``{"errors":[...]}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

import orjson

from ..profile import Endpoint
from ..validation import spapi as strict
from . import spapi_batch as batch
from . import spapi_content as content
from .base import Provider

MARKETPLACE = "ATVPDKIKX0DER"
_CODES = {400: "InvalidInput", 403: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed", 413: "RequestEntityTooLarge", 429: "QuotaExceeded",
          500: "InternalFailure", 503: "ServiceUnavailable"}
_MESSAGES = {
    429: "You exceeded your quota for the requested resource.",
    500: "We encountered an internal error. Please try again.",
    503: "Service is temporarily unavailable. Please try again.",
}


class SPAPIProvider(Provider):
    overload_status = 503

    def routes(self) -> list[web.RouteDef]:
        routes = [self.route("POST", "/auth/o2/token", "lwa.token", self.lwa_token)]
        routes += [self.route(ep.method, ep.path, ep.name, self._handler(ep.name), fast=True) for ep in self.profile.endpoints]
        return routes

    def error(self, status: int, kind: str, message: str = "", *, headers: dict[str, str] | None = None,
              code: str | None = None) -> web.Response:
        hdrs = {"x-amzn-RequestId": str(uuid.uuid4())}
        if headers:
            hdrs.update(headers)
        body = {"errors": [{"code": code or _CODES.get(status, "InternalFailure"),
                            "message": message or _MESSAGES.get(status, "Injected fault."), "details": ""}]}
        return self.json(status, body, hdrs)

    def overloaded(self) -> web.Response:
        return self.error(503, "overloaded")

    async def lwa_token(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        grant = form.get("grant_type")
        if grant not in ("refresh_token", "client_credentials", "authorization_code"):
            return self.json(400, {"error_description": "The request has an invalid parameter : grant_type",
                                   "error": "invalid_request"})
        if not form.get("client_id") or not form.get("client_secret"):
            return self.json(401, {"error_description": "Client authentication failed", "error": "invalid_client"})
        if grant == "refresh_token":
            token = str(form.get("refresh_token") or "")
            if not token or token.startswith(self.profile.auth.invalid_prefix):
                return self.json(400, {"error_description": "The request has an invalid grant parameter : refresh_token",
                                       "error": "invalid_grant"})
        body: dict[str, Any] = {"access_token": "Atza|" + uuid.uuid4().hex, "token_type": "bearer",
                                "expires_in": 3600}
        if grant == "refresh_token":
            body["refresh_token"] = form["refresh_token"]
        return self.json(200, body)

    def _handler(self, name: str):
        ep = next(e for e in self.profile.endpoints if e.name == name)

        async def handle(request: web.Request) -> web.StreamResponse:
            op = self._endpoint(name) or ep
            token = request.headers.get("x-amz-access-token", "").strip()
            if not token or token.startswith(self.profile.auth.invalid_prefix):
                return self.error(403, "auth", "Access to requested resource is denied.")
            body: Any = None
            if op.method in ("POST", "PUT", "PATCH"):
                try:
                    body = await request.json()
                except ValueError:
                    return self.error(400, "bad_request", "Request body is not valid JSON.")
            buckets = self.buckets_for(self.rules.bucket_key(token, op.name), lambda: {
                "operation": b for b in (self.per_second_bucket(op.rate, op.burst),) if b is not None
            })
            headers = {"x-amzn-RequestId": str(uuid.uuid4())}
            if op.rate is not None:
                headers["x-amzn-RateLimit-Limit"] = f"{op.rate:g}" if op.rate % 1 else f"{op.rate:.1f}"
            refused = buckets.try_take({"operation": 1})
            if refused is not None:
                self.count_rate_limited(op.name)
                return self.error(429, "rate_limited", headers=headers)
            if self.profile.strict:  # after throttling: the usage plan is enforced before the operation runs
                bad = (batch.check(body) if op.name == "getItemOffersBatch"
                       else strict.check(op.name, request.match_info, request.query))
                if bad is not None:
                    return self.error(bad.status, "invalid", bad.message, code=bad.code, headers=headers)

            async def work(fault: str | None) -> web.StreamResponse:
                await self.sleep_profile((self.latency_model(op.latency) if op.latency else self.latency).sample())
                if fault in ("error_500", "stream_error", "insufficient_quota"):
                    return self.error(500, fault, headers=headers)
                if fault in ("error_503", "error_529"):
                    return self.error(503, fault, headers=headers)
                raw = orjson.dumps(_payload(op, request, body, self.profile.strict))
                return web.Response(body=raw[: len(raw) // 2] if fault == "malformed" else raw,
                                    content_type="application/json", headers=headers)

            return await self.serve(request, work)

        return handle

    def _endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in self.profile.endpoints if e.name == name), None)


def _payload(op: Endpoint, request: web.Request, body: Any, checked: bool) -> dict[str, Any]:
    """The operation's body, in its real shape; its size follows from what was asked."""
    q = request.query
    asin = request.match_info.get("asin") or request.match_info.get("Asin") or "B000MOCK00"
    market = (q.get("marketplaceIds") or q.get("MarketplaceId") or MARKETPLACE).split(",")[0]
    if op.name == "getCatalogItem":
        return content.catalog_item(asin, market, content.included_data(q))
    if op.name == "searchCatalogItems":
        return content.search(q, market)
    if op.name == "getItemOffers":
        return content.item_offers(asin, market, q.get("ItemCondition", "New"))
    if op.name in ("getPricing", "getCompetitivePricing"):
        asins = [a for a in (q.get("Asins") or q.get("Skus") or asin).split(",") if a][:20]
        return content.pricing(asins, market, op.name == "getCompetitivePricing")
    if op.name == "getMyFeesEstimateForASIN":
        return content.fees(asin, market)
    if op.name == "getItemOffersBatch":
        return batch.responses(body, checked)
    return {"payload": {"operation": op.name}}
