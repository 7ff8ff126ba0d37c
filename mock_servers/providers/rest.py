"""Any REST API from a profile alone: CardGenius, Google Drive downloads, seed 004's research
and e-mail APIs, and users' own partner APIs.

Each endpoint gets the profile's latency (or its own), a body of its ``response_bytes``, and
the limits: profile-wide requests per minute/second per client, and per-endpoint rate/burst.
A refused request gets the profile's own ``rate_limited`` status and body.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..bucket import BucketSet
from ..durations import retry_after_seconds
from ..latency import LogNormal
from ..payload import padded_json, pdf_bytes
from ..profile import Endpoint
from ..response_template import ResponseTemplateError, compile_response
from ..response_template import context as response_context
from .base import Provider, new_id, parse_json

DEFAULT_RATE_LIMITED = {"error": {"code": "rate_limited", "message": "Too many requests. Retry after {retry_after} seconds."}}


class RestProvider(Provider):
    overload_status = 503

    def configure(self, profile) -> None:
        super().configure(profile)
        self.endpoint_latency: dict[str, LogNormal] = {
            ep.name: self.latency_model(ep.latency) for ep in profile.endpoints if ep.latency is not None
        }
        self.responses = {ep.name: compile_response(ep.response, f"endpoints.{ep.name}.response")
                          for ep in profile.endpoints if ep.response is not None}

    def routes(self) -> list[web.RouteDef]:
        return [self.route(ep.method, ep.path, ep.name, self._handler(ep.name), fast=True) for ep in self.profile.endpoints]

    def endpoint(self, name: str) -> Endpoint:
        for ep in self.profile.endpoints:
            if ep.name == name:
                return ep
        raise KeyError(name)

    def error(self, status: int, kind: str, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
        return self.json(status, {"error": {"code": kind, "message": message}}, headers)

    def client_key(self, request: web.Request) -> str | web.Response:
        auth = self.profile.auth
        if auth.kind == "none":
            return request.remote or "anonymous"
        if auth.kind == "bearer":
            value = request.headers.get(auth.name, "")
            key = value[7:].strip() if value.lower().startswith("bearer ") else ""
        elif auth.kind == "header":
            key = request.headers.get(auth.name, "").strip()
        else:
            key = request.query.get(auth.name, "").strip()
        if not key:
            return self.error(401, "unauthorized", f"Missing credentials: send them in {self._where()}.")
        if key.startswith(auth.invalid_prefix):
            return self.error(401, "unauthorized", "Invalid credentials.")
        return key

    def _where(self) -> str:
        auth = self.profile.auth
        return {"bearer": f"the {auth.name} header as 'Bearer KEY'", "header": f"the {auth.name} header",
                "query": f"the '{auth.name}' query parameter"}.get(auth.kind, "the request")

    def _shared_buckets(self, key: str, ep: Endpoint) -> BucketSet:
        # profile-wide buckets are shared by every endpoint of one client; endpoint buckets are its own
        limits = self.profile.limits
        shared = self.buckets_for(key, lambda: {
            name: b for name, b in (
                ("requests", self.per_minute_bucket(limits.requests_per_minute)),
                ("requests_per_second", self.per_second_bucket(limits.requests_per_second, limits.burst)),
            ) if b is not None
        })
        own = self.buckets_for((key, ep.name), lambda: {
            name: b for name, b in (("endpoint", self.per_second_bucket(ep.rate, ep.burst)),) if b is not None
        })
        return BucketSet({**shared.buckets, **own.buckets})

    def rate_limited(self, dim: str, wait: float) -> web.Response:
        self.count_rate_limited(dim)
        retry = retry_after_seconds(wait, self.ctx.scaled)
        spec = self.profile.rate_limited
        body = _fill(spec.body if spec.body is not None else DEFAULT_RATE_LIMITED, retry)
        return self.json(spec.status, body, {"Retry-After": retry})

    def _handler(self, name: str):
        async def handle(request: web.Request) -> web.StreamResponse:
            ep = self.endpoint(name)
            key = self.client_key(request)
            if isinstance(key, web.Response):
                return key
            raw = await request.read() if request.can_read_body else b""
            received: Any = None
            if raw and request.content_type == "application/json":
                try:
                    received = parse_json(raw)
                except ValueError:
                    return self.error(400, "bad_request", "The request body is not valid JSON.")
            buckets = self._shared_buckets(key, ep)
            refused = buckets.try_take({dim: 1 for dim in buckets.buckets})
            if refused is not None:
                return self.rate_limited(*refused)
            headers = self.limit_headers(buckets, ep)

            async def work(fault: str | None) -> web.StreamResponse:
                sampler = self.endpoint_latency.get(ep.name, self.latency)
                await self.sleep_profile(sampler.sample())
                if fault in ("error_500", "error_503", "error_529", "stream_error", "insufficient_quota"):
                    status = 500 if fault in ("error_500", "stream_error") else (402 if fault == "insufficient_quota" else 503)
                    return self.error(status, fault, "Injected fault.", headers=headers)
                return self.body(request, ep, received, headers, fault == "malformed")

            return await self.serve(request, work)

        return handle

    def limit_headers(self, buckets: BucketSet, ep: Endpoint) -> dict[str, str]:
        headers = {"X-Request-Id": new_id()}
        bucket = buckets.buckets.get("requests")
        if bucket is not None:
            headers["X-RateLimit-Limit"] = str(int(bucket.capacity))
            headers["X-RateLimit-Remaining"] = str(max(0, int(bucket.level())))
            headers["X-RateLimit-Reset"] = f"{bucket.reset_seconds():.3f}"
        return headers

    def body(self, request: web.Request, ep: Endpoint, received: Any, headers: dict[str, str],
             malformed: bool) -> web.Response:
        if ep.content_type == "application/pdf":
            data = pdf_bytes(ep.response_bytes)
            return web.Response(body=data[: len(data) // 2] if malformed else data, content_type=ep.content_type,
                                headers=headers)
        render = self.responses.get(ep.name)
        if render is not None:  # the profile's own body shape
            try:
                value = render(response_context(
                    self.ctx.rng, request_id=headers["X-Request-Id"], endpoint=ep.name, body=received,
                    params=dict(request.match_info), query=dict(request.query)))
            except ResponseTemplateError as exc:
                return self.error(500, "mock_template_error", f"the profile's response template failed: {exc}",
                                  headers=headers)
            raw = orjson.dumps(value)
            return web.Response(body=raw[: len(raw) // 2] if malformed else raw, content_type="application/json",
                                headers=headers)
        doc: dict[str, Any] = {"id": headers["X-Request-Id"], "endpoint": ep.name, "status": "ok"}
        if request.match_info:
            doc["params"] = dict(request.match_info)
        if isinstance(received, dict) and len(orjson.dumps(received)) <= 1024:
            doc["request"] = received
        raw = padded_json(doc, ep.response_bytes)
        return web.Response(body=raw[: len(raw) // 2] if malformed else raw, content_type="application/json",
                            headers=headers)


def _fill(template: Any, retry_after: str) -> Any:
    if isinstance(template, str):
        return template.replace("{retry_after}", retry_after)
    if isinstance(template, dict):
        return {k: _fill(v, retry_after) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, retry_after) for v in template]
    return template
