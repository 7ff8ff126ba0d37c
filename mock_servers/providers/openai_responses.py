"""OpenAI ``POST /v1/responses`` (plain and streamed) and ``POST /v1/embeddings``.

They share the chat endpoint's per-model RPM/TPM buckets (OpenAI's limits are per model), its
latency model and strict validation. A Responses answer holds a ``reasoning`` item for
reasoning models, then a ``message`` (text, or JSON valid against ``text.format``) or a
``function_call`` whose arguments are valid against the tool's schema; the stream sends the
documented event types with ``sequence_number``. Embeddings return one vector per input, of the
model's (or the requested) dimensions, with ``usage``.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
import time
from typing import TYPE_CHECKING, Any, Callable

import orjson
from aiohttp import web

from ..rules import LLMRequest
from ..schema_instance import instance
from ..text import completion_text, content_text, estimate_tokens, token_pieces
from ..validation import openai_responses as strict
from .base import ConnectionResetByMock, new_id, parse_json
from .openai_batches import ANSWERS, Answer

if TYPE_CHECKING:
    from .llm import ModelRuntime
    from .openai import OpenAIProvider

INVALID_JSON = ("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
                "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)")


def input_tokens(body: dict[str, Any]) -> int:
    """Instructions, input items and tool definitions, at ~4 characters per token."""
    total = estimate_tokens(body.get("instructions") or "") if isinstance(body.get("instructions"), str) else 0
    raw = body.get("input")
    if isinstance(raw, str):
        total += estimate_tokens(raw) + 3
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict):
                text = content_text(item.get("content")) or str(item.get("output") or item.get("arguments") or "")
                total += estimate_tokens(text) + 3
    if body.get("tools"):
        total += estimate_tokens(orjson.dumps(body["tools"]).decode())
    return max(total, 1)


def _tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"]
    if not tools:
        return None
    choice = body.get("tool_choice", "auto")
    if choice == "none":
        return None
    if isinstance(choice, dict):
        return next((t for t in tools if t.get("name") == choice.get("name")), tools[0])
    if choice == "required":
        return tools[0]
    raw = body.get("input")
    last = raw[-1] if isinstance(raw, list) and raw else raw
    if isinstance(last, dict) and last.get("type") in ("function_call_output", "function_call"):
        return None
    return tools[0]


def _text_json(body: dict[str, Any]) -> str | None:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        return orjson.dumps(instance(fmt.get("schema") or {"type": "object"})).decode()
    if fmt.get("type") == "json_object":
        return orjson.dumps({"answer": completion_text(8)}).decode()
    return None


def build(body: dict[str, Any], model: "ModelRuntime", n: int, cut: bool, prompt: int) -> dict[str, Any]:
    """The Response object for ``n`` sampled output tokens."""
    reasoning = int(n * model.spec.reasoning_share) if model.spec.reasoning else 0
    output: list[dict[str, Any]] = []
    if model.spec.reasoning:
        output.append({"id": new_id("rs_"), "type": "reasoning", "summary": []})
    tool = _tool(body)
    status, incomplete = "completed", None
    if tool is not None:
        args = orjson.dumps(instance(tool.get("parameters") or {"type": "object", "properties": {}})).decode()
        output.append({"id": new_id("fc_"), "type": "function_call", "status": "completed", "arguments": args,
                       "call_id": new_id("call_"), "name": tool["name"]})
        visible = estimate_tokens(args) + 4
    else:
        text = _text_json(body)
        if text is None:
            visible = n - reasoning
            text = completion_text(visible)
            if cut:
                status, incomplete = "incomplete", {"reason": "max_output_tokens"}
        else:
            visible = estimate_tokens(text)
        output.append({"id": new_id("msg_"), "type": "message", "status": status, "role": "assistant",
                       "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]})
    out_tokens = visible + reasoning
    return {
        "id": new_id("resp_"), "object": "response", "created_at": int(time.time()), "status": status,
        "background": False, "error": None, "incomplete_details": incomplete,
        "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
        "model": model.name, "output": output, "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": (body.get("reasoning") or {}).get("effort", "medium"), "summary": None}
        if model.spec.reasoning else {"effort": None, "summary": None},
        "service_tier": "default", "store": body.get("store", True), "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}}, "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [], "top_p": body.get("top_p", 1.0), "truncation": "disabled",
        "usage": {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                  "output_tokens": out_tokens, "output_tokens_details": {"reasoning_tokens": reasoning},
                  "total_tokens": prompt + out_tokens},
        "user": body.get("user"), "metadata": body.get("metadata") or {},
    }


def _checked(provider: "OpenAIProvider", body: Any) -> tuple["ModelRuntime", int, int] | web.Response:
    if not isinstance(body, dict):
        return provider.error(400, "bad_request", "Invalid request body: expected a JSON object.")
    if not body.get("model"):
        return provider.error(400, "bad_request", "Missing required parameter: 'model'.", param="model",
                              code="missing_required_parameter")
    model = provider.models.get(str(body["model"]))
    if model is None:
        return provider.unknown_model(str(body["model"]))
    prompt = input_tokens(body)
    if provider.profile.strict:
        bad = strict.responses(body, model.spec, prompt)
        if bad is not None:
            return provider.invalid(bad)
    cap = body.get("max_output_tokens")
    max_out = cap if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else provider.profile.default_max_tokens
    return model, prompt, max_out


async def _checked_request(provider: "OpenAIProvider", request: web.Request,
                           check: Callable[["OpenAIProvider", Any], Any]) -> tuple[str, Any, Any] | web.Response:
    """The caller's key, the parsed JSON body and what ``check`` makes of it, or the 401/400 to answer."""
    key = provider.api_key(request)
    if isinstance(key, web.Response):
        return key
    try:
        body = parse_json(await request.read())
    except ValueError:
        return provider.error(400, "bad_request", INVALID_JSON)
    checked = check(provider, body)
    return checked if isinstance(checked, web.Response) else (key, body, checked)


async def create_response(provider: "OpenAIProvider", request: web.Request) -> web.StreamResponse:
    asked = await _checked_request(provider, request, _checked)
    if isinstance(asked, web.Response):
        return asked
    key, body, (model, prompt, max_out) = asked
    admitted = provider.admit(key, model, provider.cost(LLMRequest(model.name, prompt, max_out)))
    if isinstance(admitted, web.Response):
        return admitted
    headers = admitted
    stream = bool(body.get("stream"))

    async def work(fault: str | None) -> web.StreamResponse:
        ttft, n, cut = provider.plan_call(model, max_out)
        payload = build(body, model, n, cut, prompt)
        shown = payload["usage"]["output_tokens"]
        if fault in ("error_500", "error_503", "error_529", "insufficient_quota") or (fault == "stream_error" and not stream):
            await provider.sleep_wall(ttft)
            return provider._fault_response(fault, headers)
        provider.count_tokens("input", prompt)
        provider.count_tokens("output", shown)
        if stream:
            return await _stream(provider, request, model, payload, ttft, headers)
        await provider.sleep_wall(ttft + provider.generation_wall_seconds(model, shown))
        if fault == "malformed":
            return provider.malformed(200, payload, headers)
        return provider.json(200, payload, headers)

    return await provider.serve(request, work)


async def _stream(provider: "OpenAIProvider", request: web.Request, model: "ModelRuntime", final: dict[str, Any],
                  ttft: float, headers: dict[str, str]) -> web.StreamResponse:
    resp = web.StreamResponse(status=200, headers=headers)
    resp.content_type = "text/event-stream"
    resp.charset = "utf-8"
    await resp.prepare(request)
    seq = 0

    def event(kind: str, data: dict[str, Any]) -> bytes:
        nonlocal seq
        data = {"type": kind, "sequence_number": seq, **data}
        seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    start = {**final, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
    try:
        await resp.write(event("response.created", {"response": start}) + event("response.in_progress", {"response": start}))
        await provider.sleep_wall(ttft)
        reasoning = final["usage"]["output_tokens_details"]["reasoning_tokens"]
        if reasoning:  # a reasoning model thinks before its first visible token
            await provider.sleep_wall(provider.generation_wall_seconds(model, reasoning))
        for index, item in enumerate(final["output"]):
            if item["type"] == "reasoning":
                await resp.write(event("response.output_item.added", {"output_index": index, "item": item})
                                 + event("response.output_item.done", {"output_index": index, "item": item}))
            elif item["type"] == "function_call":
                args = item["arguments"]
                await resp.write(event("response.output_item.added", {"output_index": index,
                                                                       "item": {**item, "status": "in_progress",
                                                                                "arguments": ""}}))
                parts = [args[i:i + 8] for i in range(0, len(args), 8)] or [""]
                async for due in provider.paced(model, len(parts)):
                    await resp.write(b"".join(event("response.function_call_arguments.delta", {
                        "item_id": item["id"], "output_index": index, "delta": parts[i]}) for i in due))
                await resp.write(event("response.function_call_arguments.done", {
                    "item_id": item["id"], "output_index": index, "arguments": args, "name": item["name"]})
                    + event("response.output_item.done", {"output_index": index, "item": item}))
            else:
                text = item["content"][0]["text"]
                parts = [text[i:i + 8] for i in range(0, len(text), 8)] if text.startswith(("{", "[")) \
                    else token_pieces(len(text.split()))
                await resp.write(event("response.output_item.added", {"output_index": index, "item": {
                    **item, "status": "in_progress", "content": []}})
                    + event("response.content_part.added", {"item_id": item["id"], "output_index": index,
                                                            "content_index": 0, "part": {
                                                                "type": "output_text", "text": "", "annotations": []}}))
                async for due in provider.paced(model, len(parts)):
                    await resp.write(b"".join(event("response.output_text.delta", {
                        "item_id": item["id"], "output_index": index, "content_index": 0, "delta": parts[i],
                        "logprobs": []}) for i in due))
                await resp.write(
                    event("response.output_text.done", {"item_id": item["id"], "output_index": index,
                                                        "content_index": 0, "text": text, "logprobs": []})
                    + event("response.content_part.done", {"item_id": item["id"], "output_index": index,
                                                           "content_index": 0, "part": item["content"][0]})
                    + event("response.output_item.done", {"output_index": index, "item": item}))
        done = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        await resp.write(event(done, {"response": final}))
        await resp.write_eof()
    except (ConnectionResetError, ConnectionResetByMock):
        pass
    return resp


def response_answer(provider: "OpenAIProvider", body: dict[str, Any]) -> Answer:
    checked = _checked(provider, body)
    if isinstance(checked, web.Response):
        return checked.status, orjson.loads(checked.body), {}  # type: ignore[arg-type]
    model, prompt, max_out = checked
    n, cut = model.latency.sample_output_tokens(max_out)
    payload = build(body, model, n, cut, prompt)
    u = payload["usage"]
    return 200, payload, {"input_tokens": prompt, "output_tokens": u["output_tokens"],
                          "reasoning_tokens": u["output_tokens_details"]["reasoning_tokens"]}


# -- embeddings -----------------------------------------------------------------------------------

def _vector(text: str, dims: int) -> list[float]:
    """A deterministic unit vector for ``text`` (the same input embeds the same way)."""
    seed = hashlib.blake2b(text.encode(), digest_size=8).digest()
    x = int.from_bytes(seed, "big") or 1
    out = []
    for _ in range(dims):
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        out.append((x / 0xFFFFFFFFFFFFFFFF) * 2 - 1)
    norm = math.sqrt(sum(v * v for v in out)) or 1.0
    return [round(v / norm, 6) for v in out]


def _embed(body: dict[str, Any], model: "ModelRuntime") -> tuple[dict[str, Any], int]:
    raw = body["input"]
    items = raw if isinstance(raw, list) and raw and not isinstance(raw[0], int) else [raw]
    dims = body.get("dimensions") or model.spec.embedding_dimensions or 1536
    data, tokens = [], 0
    for i, item in enumerate(items):
        text = item if isinstance(item, str) else " ".join(map(str, item))
        tokens += len(item) if isinstance(item, list) else estimate_tokens(text)
        vec = _vector(text, dims)
        if body.get("encoding_format") == "base64":
            emb: Any = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode()
        else:
            emb = vec
        data.append({"object": "embedding", "index": i, "embedding": emb})
    return {"object": "list", "data": data, "model": model.name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}, tokens


def _embedding_checked(provider: "OpenAIProvider", body: Any) -> "ModelRuntime | web.Response":
    if not isinstance(body, dict):
        return provider.error(400, "bad_request", "Invalid request body: expected a JSON object.")
    if not body.get("model"):
        return provider.error(400, "bad_request", "you must provide a model parameter")
    model = provider.models.get(str(body["model"]))
    if model is None:
        return provider.unknown_model(str(body["model"]))
    if provider.profile.strict:
        bad = strict.embeddings(body, model.spec, model.name)
        if bad is not None:
            return provider.invalid(bad)
    elif "input" not in body:
        return provider.error(400, "bad_request", "Missing required parameter: 'input'.", param="input",
                              code="missing_required_parameter")
    return model


async def create_embeddings(provider: "OpenAIProvider", request: web.Request) -> web.StreamResponse:
    asked = await _checked_request(provider, request, _embedding_checked)
    if isinstance(asked, web.Response):
        return asked
    key, body, model = asked
    payload, tokens = _embed(body, model)
    admitted = provider.admit(key, model, provider.cost(LLMRequest(model.name, tokens, 0)))
    if isinstance(admitted, web.Response):
        return admitted
    headers = admitted

    async def work(fault: str | None) -> web.StreamResponse:
        ttft = provider.ctx.time_scale.seconds(model.latency.ttft.sample())
        await provider.sleep_wall(ttft)
        if fault in ("error_500", "error_503", "error_529", "insufficient_quota", "stream_error"):
            return provider._fault_response(fault, headers)
        provider.count_tokens("input", tokens)
        if fault == "malformed":
            return provider.malformed(200, payload, headers)
        return provider.json(200, payload, headers)

    return await provider.serve(request, work)


def embedding_answer(provider: "OpenAIProvider", body: dict[str, Any]) -> Answer:
    model = _embedding_checked(provider, body)
    if isinstance(model, web.Response):
        return model.status, orjson.loads(model.body), {}  # type: ignore[arg-type]
    payload, tokens = _embed(body, model)
    return 200, payload, {"input_tokens": tokens}


ANSWERS["/v1/responses"] = response_answer
ANSWERS["/v1/embeddings"] = embedding_answer
