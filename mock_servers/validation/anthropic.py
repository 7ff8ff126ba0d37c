"""What api.anthropic.com refuses on ``/v1/messages`` and ``/v1/messages/count_tokens``.

Anthropic validates with pydantic-style messages (``field: Extra inputs are not permitted``)
and answers 400 ``invalid_request_error`` (a body past 32 MB is refused before this, by
:mod:`mock_servers.guards`).
"""

from __future__ import annotations

from typing import Any

from ..profile import ModelSpec
from . import Invalid

MESSAGE_PARAMS = frozenset({
    "cache_control", "container", "context_management", "inference_geo", "max_tokens", "mcp_servers", "messages",
    "metadata", "model", "output_config", "service_tier", "stop_sequences", "stream", "system", "temperature",
    "thinking", "tool_choice", "tools", "top_k", "top_p",
})
COUNT_PARAMS = frozenset({"messages", "model", "system", "thinking", "tool_choice", "tools", "cache_control",
                          "context_management", "mcp_servers", "output_config"})
BATCH_PARAMS = MESSAGE_PARAMS - {"stream"}
TOOL_CHOICE_TYPES = ("auto", "any", "tool", "none")


def _bad(message: str) -> Invalid:
    return Invalid(400, message)


def unknown_fields(body: dict[str, Any], known: frozenset[str]) -> Invalid | None:
    extra = body.keys() - known
    if extra:
        return _bad(f"{sorted(extra)[0]}: Extra inputs are not permitted")
    return None


def messages(msgs: list[Any]) -> Invalid | None:
    last = len(msgs) - 1
    for i, msg in enumerate(msgs):
        if not isinstance(msg, dict):
            return _bad(f"messages.{i}: Input should be a valid dictionary")
        role = msg.get("role")
        if role == "system":
            return _bad('messages: Unexpected role "system". The Messages API accepts a top-level `system` '
                        'parameter, not "system" as an input message role.')
        if role is None:
            return _bad(f"messages.{i}.role: Field required")
        if role not in ("user", "assistant"):
            return _bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if "content" not in msg:
            return _bad(f"messages.{i}.content: Field required")
        content = msg["content"]
        if isinstance(content, str):
            if not content and not (i == last and role == "assistant"):
                return _bad(f"messages.{i}: all messages must have non-empty content except for the optional "
                            "final assistant message")
        elif isinstance(content, list):
            if not content and not (i == last and role == "assistant"):
                return _bad(f"messages.{i}: all messages must have non-empty content except for the optional "
                            "final assistant message")
            for j, block in enumerate(content):
                if isinstance(block, dict) and block.get("type") == "text" and not block.get("text"):
                    return _bad("messages: text content blocks must be non-empty")
        else:
            return _bad(f"messages.{i}.content: Input should be a valid list")
    return None


def tools(body: dict[str, Any]) -> Invalid | None:
    choice = body.get("tool_choice")
    tool_list = body.get("tools")
    if choice is not None:
        if not isinstance(choice, dict) or choice.get("type") not in TOOL_CHOICE_TYPES:
            return _bad("tool_choice: Input tag found using 'type' does not match any of the expected tags: "
                        "'auto', 'any', 'tool', 'none'")
        if choice["type"] in ("any", "tool") and not tool_list:
            return _bad("tool_choice: tool_choice may only be specified while providing tools")
        if choice["type"] == "tool":
            names = {t.get("name") for t in tool_list or [] if isinstance(t, dict)}
            if choice.get("name") not in names:
                return _bad(f"Tool '{choice.get('name')}' not found in provided tools")
    for i, tool in enumerate(tool_list or []):
        if not isinstance(tool, dict) or not tool.get("name"):
            return _bad(f"tools.{i}.name: Field required")
        if "type" not in tool and "input_schema" not in tool:
            return _bad(f"tools.{i}.custom.input_schema: Field required")
    return None


def sampling(body: dict[str, Any]) -> Invalid | None:
    temp = body.get("temperature")
    if temp is not None:
        if isinstance(temp, bool) or not isinstance(temp, (int, float)):
            return _bad("temperature: Input should be a valid number")
        if temp > 1:
            return _bad("temperature: Input should be less than or equal to 1")
        if temp < 0:
            return _bad("temperature: Input should be greater than or equal to 0")
    return None


def max_tokens(value: int, model: str, spec: ModelSpec) -> Invalid | None:
    cap = spec.max_output_tokens
    if cap is not None and value > cap:
        return _bad(f"max_tokens: {value} > {cap}, which is the maximum allowed number of output tokens for {model}")
    return None


def prompt_length(input_tokens: int, spec: ModelSpec) -> Invalid | None:
    if input_tokens > spec.context_window:
        return _bad(f"prompt is too long: {input_tokens} tokens > {spec.context_window} maximum")
    return None


def message_request(body: dict[str, Any], model: str, spec: ModelSpec, input_tokens: int,
                    known: frozenset[str] = MESSAGE_PARAMS) -> Invalid | None:
    """Every strict check of a Messages request (max_tokens presence and type are checked before)."""
    return (unknown_fields(body, known) or messages(body["messages"]) or sampling(body) or tools(body)
            or max_tokens(body["max_tokens"], model, spec) or prompt_length(input_tokens, spec))


def count_request(body: dict[str, Any], spec: ModelSpec, input_tokens: int) -> Invalid | None:
    return unknown_fields(body, COUNT_PARAMS) or messages(body["messages"]) or tools(body) \
        or prompt_length(input_tokens, spec)
