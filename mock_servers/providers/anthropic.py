"""The Anthropic mock: ``/v1/messages`` (plain and streaming events) and ``/v1/models``.

Limits are RPM, input-tokens-per-minute and output-tokens-per-minute buckets per key and
model. Input tokens are charged at admission; output tokens are charged ``max_tokens`` at
admission and the unused part is given back when the call ends, as Anthropic documents.
Answers carry ``anthropic-ratelimit-*`` headers with RFC 3339 reset instants.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..bucket import BucketSet
from ..durations import retry_after_seconds, rfc3339
from ..rules import PROVIDER_RULES, LLMRequest
from ..text import token_pieces
from ..validation import Invalid
from ..validation import anthropic as strict
from .anthropic_batches import AnthropicBatches
from .anthropic_count_tokens import count_tokens
from .anthropic_output import Content, _message, make_content
from .base import ConnectionResetByMock, new_id, parse_json
from .llm import LLMProvider, ModelRuntime

ORGANIZATION_ID = "0dccdde6-f924-4f1b-bb3b-92ef846e0a5b"  # a UUID, as the real header carries
_HEADER_DIMS = {"requests": "requests", "input_tokens": "input-tokens", "output_tokens": "output-tokens"}
_LIMIT_TEXT = {"requests": "requests per minute", "input_tokens": "input tokens per minute",
               "output_tokens": "output tokens per minute"}


class AnthropicProvider(LLMProvider):
    overload_status = 529

    def routes(self) -> list[web.RouteDef]:
        return [
            self.route("POST", "/v1/messages", "messages", self.messages, fast=True),
            self.route("POST", "/v1/messages/count_tokens", "messages.count_tokens",
                       lambda request: count_tokens(self, request), fast=True),
            self.route("GET", "/v1/models", "models.list", self.list_models, fast=True),
            self.route("GET", "/v1/models/{model}", "models.retrieve", self.retrieve_model),
            *self.batch_api.routes(),
        ]

    batch_api_class = AnthropicBatches

    _TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
              404: "not_found_error", 405: "invalid_request_error", 413: "request_too_large", 429: "rate_limit_error",
              500: "api_error", 503: "api_error", 529: "overloaded_error"}

    def error(self, status: int, kind: str, message: str, *, headers: dict[str, str] | None = None,
              type: str | None = None) -> web.Response:
        rid = new_id("req_")
        body = {"type": "error", "error": {"type": type or self._TYPES.get(status, "api_error"), "message": message},
                "request_id": rid}
        hdrs = {"request-id": rid}
        if headers:
            hdrs.update(headers)
        return self.json(status, body, hdrs)

    def overloaded(self) -> web.Response:
        return self.error(529, "overloaded", "Overloaded")

    def invalid(self, bad: Invalid) -> web.Response:
        """A strict-validation refusal in Anthropic's error body."""
        return self.error(bad.status, "invalid", bad.message, type=bad.type)

    def request_too_large(self, size: int, limit: int) -> web.Response:
        """Cloudflare answers past the limit, before the API: no ``request_id``, no ``type: error``
        envelope (the body the SDK shows, anthropic-sdk-python#938)."""
        body = {"error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}}
        return self.json(413, body)

    def unknown_model(self, model: str) -> web.Response:
        return self.error(404, "not_found", f"model: {model}")

    def api_key(self, request: web.Request) -> str | web.Response:
        key = request.headers.get("x-api-key", "").strip()
        if not key:
            auth = request.headers.get("Authorization", "")
            if auth.lower().startswith("bearer "):
                key = auth[7:].strip()
        if not key:
            return self.error(401, "auth", "x-api-key header is required")
        if key.startswith(self.profile.auth.invalid_prefix):
            return self.error(401, "auth", "invalid x-api-key")
        return key

    async def list_models(self, request: web.Request) -> web.StreamResponse:
        key = self.api_key(request)
        if isinstance(key, web.Response):
            return key
        data = [_model_object(n) for n in self.models]
        body = {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None}
        return self.json(200, body, {"request-id": new_id("req_")})

    def model_object(self, name: str) -> dict[str, Any]:
        return _model_object(name)

    def answer_headers(self) -> dict[str, str]:
        return {"request-id": new_id("req_")}

    # -- messages -------------------------------------------------------------------------
    async def messages(self, request: web.Request) -> web.StreamResponse:
        key = self.api_key(request)
        if isinstance(key, web.Response):
            return key
        if not request.headers.get("anthropic-version"):
            return self.error(400, "bad_request", "anthropic-version: header is required")
        try:
            body = parse_json(await request.read())
        except ValueError as exc:
            return self.error(400, "bad_request", f"The request body is not valid JSON: {exc}")
        checked = self._validate(body)
        if isinstance(checked, web.Response):
            return checked
        model, max_tokens, stream = checked
        input_tokens = input_token_estimate(body)
        if self.profile.strict:
            bad = strict.message_request(body, model.name, model.spec, input_tokens)
            if bad is not None:
                return self.invalid(bad)
        limits = model.settings.limits
        buckets = self.buckets_for(
            self.rules.bucket_key(key, model.name),
            lambda: {
                name: b for name, b in (
                    ("requests", self.per_minute_bucket(limits.requests_per_minute)),
                    ("input_tokens", self.per_minute_bucket(limits.input_tokens_per_minute or limits.tokens_per_minute)),
                    ("output_tokens", self.per_minute_bucket(limits.output_tokens_per_minute)),
                ) if b is not None
            },
        )
        units = self.rules.admission_units(LLMRequest(model.name, input_tokens, max_tokens))
        cost = {"requests": 1, "input_tokens": int(units["input_tokens_per_minute"]),
                "output_tokens": int(units["output_tokens_per_minute"])}
        for dim, amount in cost.items():
            bucket = buckets.buckets.get(dim)
            if bucket is not None and amount > bucket.capacity:
                self.count_rate_limited(dim)
                return self.error(
                    429, "rate_limited",
                    f"This request would exceed your organization's rate limit of {int(bucket.capacity):,} "
                    f"{_LIMIT_TEXT[dim]} on its own ({amount:,} requested). Please reduce the prompt length or the "
                    "maximum tokens requested.",
                    headers=self._limit_headers(buckets),
                )
        refused = buckets.try_take(cost)
        if refused is not None:
            return self._rate_limited(model, buckets, refused)
        headers = self._limit_headers(buckets)

        async def work(fault: str | None) -> web.StreamResponse:
            ttft, n, cut = self.plan_call(model, max_tokens)
            content = make_content(body, n, cut)
            n = min(content.output_tokens, max_tokens)
            try:
                return await self._answer(request, model, input_tokens, content, ttft, headers, fault, stream)
            finally:
                out = buckets.buckets.get("output_tokens")
                if out is not None:  # charged max_tokens at admission; the unused part comes back at the end
                    out.give_back(max_tokens - (0 if fault else n))

        return await self.serve(request, work)

    async def _answer(self, request: web.Request, model: ModelRuntime, input_tokens: int, content: Content,
                      ttft: float, headers: dict[str, str], fault: str | None, stream: bool) -> web.StreamResponse:
        if fault in ("error_500", "error_503", "error_529", "insufficient_quota") or (fault == "stream_error" and not stream):
            await self.sleep_wall(ttft)
            return self._fault_response(fault, headers)
        if stream:
            return await self._stream(request, model, input_tokens, content, ttft, headers, fault)
        n = content.output_tokens
        await self.sleep_wall(ttft + self.generation_wall_seconds(model, n))
        self.count_tokens("input", input_tokens)
        self.count_tokens("output", n)
        payload = _message(model.name, content, input_tokens)
        headers = {**headers, "request-id": new_id("req_")}  # on every answer, as the real API sends it
        if fault == "malformed":
            return self.malformed(200, payload, headers)
        return self.json(200, payload, headers)

    def _validate(self, body: Any) -> tuple[ModelRuntime, int, bool] | web.Response:
        if not isinstance(body, dict):
            return self.error(400, "bad_request", "There was an issue with your request body: expected an object")
        for field in ("model", "max_tokens", "messages"):
            if field not in body:
                return self.error(400, "bad_request", f"{field}: Field required")
        max_tokens = body["max_tokens"]
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            return self.error(400, "bad_request", "max_tokens: Input should be greater than or equal to 1")
        messages = body["messages"]
        if not isinstance(messages, list):
            return self.error(400, "bad_request", "messages: Input should be a valid list")
        if not messages:
            return self.error(400, "bad_request", "messages: at least one message is required")
        model = self.models.get(str(body["model"]))
        if model is None:
            return self.unknown_model(str(body["model"]))
        return model, max_tokens, bool(body.get("stream"))

    # -- rate limits ----------------------------------------------------------------------
    def _limit_headers(self, buckets: BucketSet) -> dict[str, str]:
        now = self.ctx.wall_clock()
        frac = self.ctx.scaled
        headers: dict[str, str] = {"anthropic-organization-id": ORGANIZATION_ID}
        token_dims = []
        step = self.profile.remaining_tokens_rounding
        for dim, bucket in buckets.buckets.items():
            name = _HEADER_DIMS[dim]
            remaining = max(0, int(bucket.level()))
            if dim != "requests" and step > 1:
                remaining = min(int(bucket.capacity), int(round(remaining / step)) * step)  # docs: nearest thousand
            reset = now + bucket.reset_seconds()
            headers[f"anthropic-ratelimit-{name}-limit"] = str(int(bucket.capacity))
            headers[f"anthropic-ratelimit-{name}-remaining"] = str(remaining)
            headers[f"anthropic-ratelimit-{name}-reset"] = rfc3339(reset, frac)
            if dim != "requests":
                token_dims.append((remaining, name))
        if token_dims:
            # "tokens" headers show the most restrictive token limit in effect
            _, name = min(token_dims)
            for part in ("limit", "remaining", "reset"):
                headers[f"anthropic-ratelimit-tokens-{part}"] = headers[f"anthropic-ratelimit-{name}-{part}"]
        return headers

    def _rate_limited(self, model: ModelRuntime, buckets: BucketSet, refused: tuple[str, float]) -> web.Response:
        dim, wait = refused
        self.count_rate_limited(dim)
        bucket = buckets.buckets[dim]
        headers = self._limit_headers(buckets)
        headers["retry-after"] = retry_after_seconds(wait, self.ctx.scaled)
        message = (
            f"This request would exceed the rate limit for your organization (org-mock) of "
            f"{int(bucket.capacity):,} {_LIMIT_TEXT[dim]}. For details, refer to: "
            "https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. "
            "Please reduce the prompt length or the maximum tokens requested, or try again later. You may also "
            "contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."
        )
        return self.error(429, "rate_limited", message, headers=headers)

    def _fault_response(self, fault: str | None, headers: dict[str, str]) -> web.Response:
        if fault in ("error_529", "error_503"):
            return self.error(529, "overloaded", "Overloaded", headers=headers)
        if fault == "insufficient_quota":
            return self.error(
                400, "quota", "Your credit balance is too low to access the Anthropic API. Please go to Plans & "
                "Billing to upgrade or purchase credits.", headers=headers,
            )
        return self.error(500, "server_error", "Internal server error", headers=headers)

    # -- streaming ------------------------------------------------------------------------
    async def _stream(self, request: web.Request, model: ModelRuntime, input_tokens: int, content: Content,
                      ttft: float, headers: dict[str, str], fault: str | None) -> web.StreamResponse:
        n = content.output_tokens
        resp = web.StreamResponse(status=200, headers={**headers, "request-id": new_id("req_"),
                                                       "Cache-Control": "no-cache"})
        resp.content_type = "text/event-stream"
        resp.charset = "utf-8"
        await resp.prepare(request)
        usage = {"input_tokens": input_tokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                 "output_tokens": 1, "service_tier": "standard"}
        start = {"type": "message_start", "message": {
            "id": new_id("msg_"), "type": "message", "role": "assistant", "model": model.name, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage}}

        def event(name: str, data: dict[str, Any]) -> bytes:
            return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

        delta_head = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":'
        fail_at = n // 2 if fault == "stream_error" else -1
        try:
            await resp.write(event("message_start", start))
            await self.sleep_wall(ttft)
            block = content.blocks[0]
            if block["type"] == "tool_use":
                start_block: dict[str, Any] = {**block, "input": {}}
                raw = orjson.dumps(block["input"]).decode()
                deltas = [{"type": "input_json_delta", "partial_json": raw[i:i + 8]} for i in range(0, len(raw), 8)]
            else:
                start_block = {"type": "text", "text": ""}
                text = block["text"]
                parts = token_pieces(n) if content.stop_reason != "end_turn" or not text.startswith(("{", "[")) \
                    else [text[i:i + 8] for i in range(0, len(text), 8)]
                deltas = [{"type": "text_delta", "text": p} for p in parts]
            await resp.write(
                event("content_block_start", {"type": "content_block_start", "index": 0,
                                              "content_block": start_block})
                + event("ping", {"type": "ping"})
            )
            async for due in self.paced(model, len(deltas)):
                if fail_at >= 0 and due.stop > fail_at:
                    await resp.write(event("error", {"type": "error", "error": {"type": "overloaded_error",
                                                                                "message": "Overloaded"}}))
                    await resp.write_eof()
                    return resp
                await resp.write(b"".join(_delta_frame(delta_head, deltas[i]) for i in due))
            await resp.write(
                event("content_block_stop", {"type": "content_block_stop", "index": 0})
                + event("message_delta", {"type": "message_delta",
                                          "delta": {"stop_reason": content.stop_reason,
                                                    "stop_sequence": None},
                                          "usage": {"output_tokens": n}})
                + event("message_stop", {"type": "message_stop"})
            )
            await resp.write_eof()
        except (ConnectionResetError, ConnectionResetByMock):
            pass
        self.count_tokens("input", input_tokens)
        self.count_tokens("output", n)
        return resp


def _delta_frame(text_head: bytes, delta: dict[str, Any]) -> bytes:
    if delta["type"] == "text_delta":  # the common case, framed without a full dumps
        return text_head + orjson.dumps(delta["text"]) + b"}}\n\n"
    return (b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":'
            + orjson.dumps(delta) + b"}\n\n")


def input_token_estimate(body: dict[str, Any]) -> int:
    """Messages, system and tool definitions, as Anthropic counts input tokens (the rule's)."""
    return PROVIDER_RULES["anthropic"].prompt_tokens(body)


def _model_object(name: str) -> dict[str, Any]:
    return {"type": "model", "id": name, "display_name": name, "created_at": "2025-01-01T00:00:00Z"}

