"""What an OpenAI chat answer holds: text, a tool call, or JSON for ``response_format``, per choice.

A tool call is made when the request forces one (``tool_choice: "required"`` or a named
function) or, with ``auto``, when the last message is the user's (after a tool result the model
answers in text, so agent loops end); its arguments are valid against the tool's schema. JSON
content is valid against ``json_schema``. Reasoning models spend ``reasoning_share`` of their
output tokens reasoning: billed as completion tokens, not shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..schema_instance import instance
from ..text import completion_text, estimate_tokens
from .base import new_id


@dataclass
class Choice:
    """One choice: visible text or tool calls, finish reason and token counts."""

    text: str | None
    finish: str
    completion_tokens: int
    reasoning_tokens: int = 0
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool the model calls, or None for a text answer."""
    tools = body.get("tools")
    if not tools:
        return None
    choice = body.get("tool_choice", "auto")
    functions = [t for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    if not functions or choice == "none":
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return next((t["function"] for t in functions if t["function"].get("name") == name), functions[0]["function"])
    if choice == "required":
        return functions[0]["function"]
    msgs = body.get("messages") or []
    last = msgs[-1] if msgs else {}
    return functions[0]["function"] if isinstance(last, dict) and last.get("role") == "user" else None


def json_content(body: dict[str, Any]) -> str | None:
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {"type": "object"}
        return orjson.dumps(instance(schema)).decode()
    if fmt.get("type") == "json_object":
        return orjson.dumps({"answer": completion_text(8)}).decode()
    return None


def make_choice(body: dict[str, Any], sampled: int, cut: bool, reasoning_share: float) -> Choice:
    """A choice from ``sampled`` output tokens (reasoning included)."""
    reasoning = int(sampled * reasoning_share)
    if "tools" not in body and "response_format" not in body:  # the common case, first
        visible = sampled - reasoning
        return Choice(completion_text(visible), "length" if cut else "stop", sampled, reasoning)
    tool = forced_tool(body)
    if tool is not None:
        args = orjson.dumps(instance(tool.get("parameters") or {"type": "object", "properties": {}})).decode()
        call = {"id": new_id("call_"), "type": "function", "function": {"name": tool["name"], "arguments": args}}
        return Choice(None, "tool_calls", estimate_tokens(args) + reasoning + 4, reasoning, [call])
    content = json_content(body)
    if content is not None:
        return Choice(content, "stop", estimate_tokens(content) + reasoning, reasoning)
    visible = sampled - reasoning
    return Choice(completion_text(visible), "length" if cut else "stop", sampled, reasoning)


def message(choice: Choice) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": choice.text, "refusal": None, "annotations": []}
    if choice.tool_calls:
        msg["tool_calls"] = choice.tool_calls
    return msg


def pieces(text: str, size: int = 8) -> list[str]:
    """A JSON string cut into stream deltas."""
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _usage(prompt: int, completion: int, reasoning: int = 0) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        },
    }


def _completion(model: str, choices: list[Choice], prompt: int) -> dict[str, Any]:
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": i, "message": message(c), "logprobs": None, "finish_reason": c.finish}
            for i, c in enumerate(choices)
        ],
        "usage": _usage(prompt, sum(c.completion_tokens for c in choices), sum(c.reasoning_tokens for c in choices)),
        "service_tier": "default",
        "system_fingerprint": "fp_mock",
    }
