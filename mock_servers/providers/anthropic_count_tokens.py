"""Anthropic ``POST /v1/messages/count_tokens``: the input tokens a Messages request would use.

It is free but rate-limited on its own (requests per minute, separate from Messages), as the
docs say; the limit and latency come from the profile's ``messages.count_tokens`` endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from ..durations import retry_after_seconds
from ..latency import LogNormal
from ..validation import anthropic as strict
from .base import new_id, parse_json

if TYPE_CHECKING:
    from .anthropic import AnthropicProvider

ENDPOINT = "messages.count_tokens"


async def count_tokens(provider: "AnthropicProvider", request: web.Request) -> web.StreamResponse:
    key = provider.api_key(request)
    if isinstance(key, web.Response):
        return key
    if not request.headers.get("anthropic-version"):
        return provider.error(400, "bad_request", "anthropic-version: header is required")
    try:
        body = parse_json(await request.read())
    except ValueError as exc:
        return provider.error(400, "bad_request", f"The request body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        return provider.error(400, "bad_request", "There was an issue with your request body: expected an object")
    for name in ("model", "messages"):
        if name not in body:
            return provider.error(400, "bad_request", f"{name}: Field required")
    if not isinstance(body["messages"], list):
        return provider.error(400, "bad_request", "messages: Input should be a valid list")
    model = provider.models.get(str(body["model"]))
    if model is None:
        return provider.unknown_model(str(body["model"]))
    tokens = provider.rules.prompt_tokens(body)
    if provider.profile.strict:
        bad = strict.count_request(body, model.spec, tokens)
        if bad is not None:
            return provider.invalid(bad)
    ep = next((e for e in provider.profile.endpoints if e.name == ENDPOINT), None)
    headers = {"request-id": new_id("req_")}
    if ep is not None and ep.rate is not None:
        buckets = provider.buckets_for((key, ENDPOINT), lambda: {
            "requests": b for b in (provider.per_second_bucket(ep.rate, ep.burst),) if b is not None})
        refused = buckets.try_take({"requests": 1})
        if refused is not None:
            provider.count_rate_limited(ENDPOINT)
            return provider.error(
                429, "rate_limited",
                f"This request would exceed your organization's rate limit of {round(ep.rate * 60)} requests per "
                "minute for token counting. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
                headers={"retry-after": retry_after_seconds(refused[1], provider.ctx.scaled)})
    latency = ep.latency if ep is not None and ep.latency is not None else None

    async def work(fault: str | None) -> web.StreamResponse:
        if latency is not None:
            await provider.sleep_profile(LogNormal(latency.median, latency.p99, provider.ctx.rng).sample())
        if fault in ("error_500", "error_503", "error_529"):
            return provider._fault_response(fault, headers)
        return provider.json(200, {"input_tokens": tokens}, headers)

    return await provider.serve(request, work)
