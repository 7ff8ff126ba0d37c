"""What an Anthropic message holds: text, a ``tool_use`` block, or JSON for ``output_config.format``.

``tool_choice`` ``any`` or ``tool`` forces a call; ``auto`` (the default with tools) calls the
first tool while the last user turn carries no ``tool_result`` (so agent loops end). The
tool's ``input`` is valid against its ``input_schema``; JSON text is valid against the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..schema_instance import instance
from ..text import completion_text, estimate_tokens
from .base import new_id


@dataclass
class Content:
    """The content blocks of one answer, its stop reason and output tokens."""

    blocks: list[dict[str, Any]]
    stop_reason: str
    output_tokens: int


def chosen_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name")]
    if not tools:
        return None
    choice = body.get("tool_choice") or {"type": "auto"}
    kind = choice.get("type") if isinstance(choice, dict) else "auto"
    if kind == "none":
        return None
    if kind == "tool":
        return next((t for t in tools if t["name"] == choice.get("name")), tools[0])
    if kind == "any":
        return tools[0]
    msgs = body.get("messages") or []
    last = msgs[-1] if msgs else {}
    content = last.get("content") if isinstance(last, dict) else None
    answered = isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    return None if answered or (isinstance(last, dict) and last.get("role") != "user") else tools[0]


def json_format(body: dict[str, Any]) -> dict[str, Any] | None:
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return fmt.get("schema") or {"type": "object"}
    return None


def make_content(body: dict[str, Any], n: int, cut: bool) -> Content:
    tool = chosen_tool(body)
    if tool is not None:
        args = instance(tool.get("input_schema") or {"type": "object"})
        block = {"type": "tool_use", "id": new_id("toolu_"), "name": tool["name"], "input": args}
        return Content([block], "tool_use", estimate_tokens(orjson.dumps(args).decode()) + 8)
    schema = json_format(body)
    if schema is not None:
        text = orjson.dumps(instance(schema)).decode()
        return Content([{"type": "text", "text": text}], "end_turn", estimate_tokens(text))
    return Content([{"type": "text", "text": completion_text(n)}], "max_tokens" if cut else "end_turn", n)


def _message(model: str, content: Content, input_tokens: int) -> dict[str, Any]:
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content.blocks,
        "stop_reason": content.stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                  "output_tokens": content.output_tokens, "service_tier": "standard"},
    }
