"""The OpenAI mock: ``/v1/chat/completions`` (plain and SSE) and ``/v1/models``.

Limits are RPM and TPM token buckets per API key and model. A request is charged at admission
for its prompt estimate plus ``max_tokens`` (OpenAI's own rule), and every answer carries the
``x-ratelimit-*`` headers; a 429 carries ``retry-after``/``retry-after-ms`` and OpenAI's body.
"""

from __future__ import annotations

import math
import time
from typing import Any


import orjson
from aiohttp import web

from ..durations import go_duration, retry_after_seconds
from ..text import token_pieces
from ..validation import Invalid
from ..validation import openai as strict
from ..rules import LLMRequest
from .base import ConnectionResetByMock, parse_json, new_id
from .llm import LLMProvider, ModelRuntime
from .openai_batches import OpenAIBatches
from .openai_output import Choice, _completion, _usage, make_choice, pieces
from .openai_responses import create_embeddings, create_response

ORG = "org-mock"
RATE_LIMITS_URL = "https://platform.openai.com/account/rate-limits"
_DIMENSIONS = (("requests", "requests_per_minute", "RPM"), ("tokens", "tokens_per_minute", "TPM"))
_UNIT = {"requests": "requests per min", "tokens": "tokens per min"}
CLOUDFLARE_413 = (b"<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
                  b"<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
                  b"</body>\r\n</html>\r\n")


class OpenAIProvider(LLMProvider):
    overload_status = 503

    def routes(self) -> list[web.RouteDef]:
        return [
            self.route("POST", "/v1/chat/completions", "chat.completions", self.chat_completions, fast=True),
            self.route("POST", "/v1/responses", "responses", lambda request: create_response(self, request), fast=True),
            self.route("POST", "/v1/embeddings", "embeddings", lambda request: create_embeddings(self, request), fast=True),
            self.route("GET", "/v1/models", "models.list", self.list_models, fast=True),
            self.route("GET", "/v1/models/{model}", "models.retrieve", self.retrieve_model),
            *self.batch_api.routes(),
        ]

    batch_api_class = OpenAIBatches

    # -- errors ---------------------------------------------------------------------------
    def request_too_large(self, size: int, limit: int) -> web.Response:
        """OpenAI's edge (Cloudflare) answers a body past the limit itself, with its HTML page;
        the SDK raises ``APIStatusError`` (413) whose body is that text (openai/codex#2908)."""
        return web.Response(status=413, body=CLOUDFLARE_413, content_type="text/html")

    def method_not_allowed(self, method: str, path: str, allowed: list[str]) -> web.Response:
        """OpenAI routes on method and path together: a wrong method is the same 404 "Invalid
        URL (GET /v1/chat/completions)" as an unknown path (docs/provider-fidelity.md §10)."""
        return self.error(404, "not_found", f"Invalid URL ({method} {path})")

    def error(
        self,
        status: int,
        kind: str,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        if type is None:
            type = "server_error" if status >= 500 else "invalid_request_error"
        body = {"error": {"message": message, "type": type, "param": param, "code": code}}
        hdrs = self._common_headers()
        if headers:
            hdrs.update(headers)
        return self.json(status, body, hdrs)

    def overloaded(self) -> web.Response:
        return self.error(503, "overloaded", "The server is overloaded or not ready yet.")

    def unknown_model(self, model: str) -> web.Response:
        return self.error(
            404, "not_found", f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )

    def invalid(self, bad: Invalid) -> web.Response:
        """A strict-validation refusal in OpenAI's error body."""
        return self.error(bad.status, "invalid", bad.message, type=bad.type, param=bad.param, code=bad.code)

    def _common_headers(self) -> dict[str, str]:
        return {"x-request-id": new_id("req_"), "openai-organization": "user-mock", "openai-version": "2020-10-01"}

    # -- auth -----------------------------------------------------------------------------
    def api_key(self, request: web.Request) -> str | web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return self.error(
                401, "auth",
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
                "username) if you're accessing the API from your browser and are prompted for a username and "
                "password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
            )
        if key.startswith(self.profile.auth.invalid_prefix):
            masked = key[:3] + "*" * 4 + key[-4:] if len(key) > 8 else "*" * len(key)
            return self.error(
                401, "auth",
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        return key

    # -- models ---------------------------------------------------------------------------
    async def list_models(self, request: web.Request) -> web.StreamResponse:
        key = self.api_key(request)
        if isinstance(key, web.Response):
            return key
        data = [_model_object(name) for name in self.models]
        return self.json(200, {"object": "list", "data": data}, self._common_headers())

    def model_object(self, name: str) -> dict[str, Any]:
        return _model_object(name)

    def answer_headers(self) -> dict[str, str]:
        return self._common_headers()

    # -- chat completions -----------------------------------------------------------------
    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        key = self.api_key(request)
        if isinstance(key, web.Response):
            return key
        try:
            body = parse_json(await request.read())
        except ValueError:
            return self.error(
                400, "bad_request",
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
                "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
                "If you have trouble figuring out how to fix this, please contact us through our help center at "
                "help.openai.com.)",
            )
        checked = self._validate(body)
        if isinstance(checked, web.Response):
            return checked
        model, messages, max_tokens, stream, include_usage = checked

        asked = self.rules.llm_request(self.profile, body)  # validated: its max_tokens is _validate's
        prompt_tokens = asked.prompt_tokens
        if self.profile.strict:
            bad = strict.chat(body, model.spec, prompt_tokens)
            if bad is not None:
                return self.invalid(bad)
        admitted = self.admit(key, model, self.cost(asked))
        if isinstance(admitted, web.Response):
            return admitted
        headers = admitted
        share = model.spec.reasoning_share

        async def work(fault: str | None) -> web.StreamResponse:
            ttft, n, cut = self.plan_call(model, max_tokens)
            choices = [make_choice(body, n, cut, share)]
            for _ in range(asked.choices - 1):  # each extra choice is its own sample, billed as returned
                _, n_i, cut_i = self.plan_call(model, max_tokens)
                choices.append(make_choice(body, n_i, cut_i, share))
            longest = max(c.completion_tokens for c in choices)
            if fault in ("error_500", "error_503", "error_529", "insufficient_quota") or (fault == "stream_error" and not stream):
                await self.sleep_wall(ttft)
                return self._fault_response(fault, headers)
            if stream:
                return await self._stream(request, model, prompt_tokens, choices, ttft, include_usage, headers, fault)
            await self.sleep_wall(ttft + self.generation_wall_seconds(model, longest))
            completion = sum(c.completion_tokens for c in choices)
            self.count_tokens("input", prompt_tokens)
            self.count_tokens("output", completion)
            payload = _completion(model.name, choices, prompt_tokens)
            headers["openai-processing-ms"] = str(int((ttft + self.generation_wall_seconds(model, longest)) * 1000))
            if fault == "malformed":
                return self.malformed(200, payload, headers)
            return self.json(200, payload, headers)

        return await self.serve(request, work)

    def _validate(self, body: Any) -> tuple[ModelRuntime, list[Any], int, bool, bool] | web.Response:
        if not isinstance(body, dict):
            return self.error(400, "bad_request", "Invalid request body: expected a JSON object.")
        name = body.get("model")
        if not name:
            return self.error(400, "bad_request", "you must provide a model parameter")
        messages = body.get("messages")
        if messages is None:
            return self.error(
                400, "bad_request", "Missing required parameter: 'messages'.",
                param="messages", code="missing_required_parameter",
            )
        if not isinstance(messages, list):
            return self.error(
                400, "bad_request", f"Invalid type for 'messages': expected an array, but got {_json_type(messages)} instead.",
                param="messages", code="invalid_type",
            )
        if not messages:
            return self.error(
                400, "bad_request",
                "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                param="messages", code="empty_array",
            )
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                return self.error(
                    400, "bad_request",
                    f"Invalid type for 'messages[{i}]': expected an object, but got {_json_type(msg)} instead.",
                    param=f"messages[{i}]", code="invalid_type",
                )
        model = self.models.get(str(name))
        if model is None:
            return self.unknown_model(str(name))
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        if max_tokens is None:
            max_tokens = self.profile.default_max_tokens
        elif not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            param = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
            return self.error(
                400, "bad_request",
                f"Invalid '{param}': integer below minimum value. Expected a value >= 1, but got {max_tokens!r} instead.",
                param=param, code="integer_below_min_value",
            )
        stream = bool(body.get("stream"))
        opts = body.get("stream_options")
        include_usage = bool(stream and isinstance(opts, dict) and opts.get("include_usage"))
        return model, messages, max_tokens, stream, include_usage

    # -- rate limits ----------------------------------------------------------------------
    def cost(self, asked: LLMRequest) -> dict[str, int]:
        """The request's units per bucket, by the provider rule (prompt + max_tokens x n to TPM)."""
        units = self.rules.admission_units(asked)
        return {dim: int(units[field]) for dim, field, _ in _DIMENSIONS}

    def admit(self, key: str, model: ModelRuntime, cost: dict[str, int]) -> dict[str, str] | web.Response:
        """Take ``cost`` from the key's per-model RPM/TPM buckets (shared by every endpoint):
        the answer's headers, or OpenAI's 429."""
        limits = model.settings.limits
        buckets = self.buckets_for(
            self.rules.bucket_key(key, model.name),
            lambda: {
                name: b for name, b in (
                    ("requests", self.per_minute_bucket(limits.requests_per_minute)),
                    ("tokens", self.per_minute_bucket(limits.tokens_per_minute)),
                ) if b is not None
            },
        )
        too_large = buckets.buckets.get("tokens")
        if too_large is not None and cost["tokens"] > too_large.capacity:
            self.count_rate_limited("tokens")
            return self.error(
                429, "rate_limited",
                f"Request too large for {model.name} in organization {ORG} on tokens per min (TPM): "
                f"Limit {int(too_large.capacity)}, Requested {cost['tokens']}. The input or output tokens must be "
                f"reduced in order to run successfully. Visit {RATE_LIMITS_URL} to learn more.",
                type="tokens", code="rate_limit_exceeded", headers=self._limit_headers(buckets),
            )
        refused = buckets.try_take(cost)
        if refused is not None:
            return self._rate_limited(model, buckets, refused, cost)
        return self._limit_headers(buckets)

    def _limit_headers(self, buckets) -> dict[str, str]:
        headers = self._common_headers()
        for dim, bucket in buckets.buckets.items():
            headers[f"x-ratelimit-limit-{dim}"] = str(int(bucket.capacity))
            headers[f"x-ratelimit-remaining-{dim}"] = str(max(0, int(bucket.level())))
            headers[f"x-ratelimit-reset-{dim}"] = go_duration(bucket.reset_seconds())
        return headers

    def _rate_limited(self, model: ModelRuntime, buckets, refused: tuple[str, float], cost: dict[str, int]) -> web.Response:
        dim, wait = refused
        self.count_rate_limited(dim)
        bucket = buckets.buckets[dim]
        used = max(0, math.ceil(bucket.capacity - bucket.level()))
        abbrev = "RPM" if dim == "requests" else "TPM"
        message = (
            f"Rate limit reached for {model.name} in organization {ORG} on {_UNIT[dim]} ({abbrev}): "
            f"Limit {int(bucket.capacity)}, Used {used}, Requested {cost[dim]}. "
            f"Please try again in {_try_again(wait)}. Visit {RATE_LIMITS_URL} to learn more."
        )
        headers = self._limit_headers(buckets)
        headers["retry-after"] = retry_after_seconds(wait, self.ctx.scaled)
        headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
        return self.error(429, "rate_limited", message, type=dim, code="rate_limit_exceeded", headers=headers)

    def _fault_response(self, fault: str | None, headers: dict[str, str]) -> web.Response:
        if fault == "insufficient_quota":
            return self.error(
                429, "quota",
                "You exceeded your current quota, please check your plan and billing details. For more information "
                "on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                type="insufficient_quota", code="insufficient_quota", headers=headers,
            )
        if fault in ("error_503", "error_529"):
            return self.error(503, "overloaded", "The server is overloaded or not ready yet.", headers=headers)
        return self.error(
            500, "server_error",
            "The server had an error while processing your request. Sorry about that!", headers=headers,
        )

    # -- streaming ------------------------------------------------------------------------
    async def _stream(
        self,
        request: web.Request,
        model: ModelRuntime,
        prompt_tokens: int,
        choices: list[Choice],
        ttft: float,
        include_usage: bool,
        headers: dict[str, str],
        fault: str | None,
    ) -> web.StreamResponse:
        await self.sleep_wall(ttft)
        resp = web.StreamResponse(status=200, headers=headers)
        resp.content_type = "text/event-stream"
        resp.charset = "utf-8"
        await resp.prepare(request)
        cid = new_id("chatcmpl-")
        head = orjson.dumps(
            {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model.name,
             "service_tier": "default", "system_fingerprint": "fp_mock"}
        )[:-1]
        usage_tail = b',"usage":null}\n\n' if include_usage else b"}\n\n"

        def chunk(delta: dict[str, Any], finish: str | None, index: int = 0) -> bytes:
            choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            return b"data: " + head + b',"choices":[' + orjson.dumps(choice) + b"]" + usage_tail

        try:
            for index, choice in enumerate(choices):
                n = choice.completion_tokens - choice.reasoning_tokens
                fail_at = n // 2 if fault == "stream_error" and index == 0 else -1
                await resp.write(chunk({"role": "assistant", "content": "" if not choice.tool_calls else None,
                                        "refusal": None}, None, index))
                if choice.reasoning_tokens:  # a reasoning model thinks before its first visible token
                    await self.sleep_wall(self.generation_wall_seconds(model, choice.reasoning_tokens))
                if choice.tool_calls:
                    call = choice.tool_calls[0]
                    parts = pieces(call["function"]["arguments"])
                    await resp.write(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                                            "function": {"name": call["function"]["name"],
                                                                         "arguments": ""}}]}, None, index))
                    deltas = [{"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in parts]
                elif choice.finish != "length" and choice.text is not None and choice.text[:1] in "{[":
                    deltas = [{"content": p} for p in pieces(choice.text)]
                else:
                    deltas = [{"content": p} for p in token_pieces(n)]
                async for due in self.paced(model, len(deltas)):
                    if fail_at >= 0 and due.stop > fail_at:
                        err = {"error": {"message": "The server had an error while processing your request. Sorry about that!",
                                         "type": "server_error", "param": None, "code": None}}
                        await resp.write(b"data: " + orjson.dumps(err) + b"\n\n")
                        await resp.write_eof()
                        return resp
                    await resp.write(b"".join(chunk(deltas[i], None, index) for i in due))
                await resp.write(chunk({}, choice.finish, index))
            completion = sum(c.completion_tokens for c in choices)
            if include_usage:
                usage = _usage(prompt_tokens, completion, sum(c.reasoning_tokens for c in choices))
                await resp.write(b"data: " + head + b',"choices":[],"usage":' + orjson.dumps(usage) + b"}\n\n")
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
        except (ConnectionResetError, ConnectionResetByMock):
            pass  # the client went away mid-stream; nothing more to send
        self.count_tokens("input", prompt_tokens)
        self.count_tokens("output", sum(c.completion_tokens for c in choices))
        return resp


def _model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "openai"}


def _try_again(seconds: float) -> str:
    """OpenAI's "Please try again in 84ms / 2.028s / 6m0s"."""
    return go_duration(max(seconds, 0.001))


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", int: "an integer", float: "a number",
             bool: "a boolean"}
    return names.get(type(value), "null")
