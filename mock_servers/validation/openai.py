"""What api.openai.com refuses on ``/v1/chat/completions`` (and the shared parts of Responses).

The checks for a well-formed request are a set difference and a few dict lookups, so the
non-streaming hot path stays cheap. Messages are the real ones (see docs/provider-fidelity.md).
"""

from __future__ import annotations

from typing import Any

from ..profile import ModelSpec
from . import Invalid, json_type

CHAT_PARAMS = frozenset({
    "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
    "max_completion_tokens", "max_tokens", "messages", "metadata", "modalities", "model", "n",
    "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_retention",
    "reasoning_effort", "response_format", "safety_identifier", "seed", "service_tier", "stop", "store",
    "stream", "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user",
    "verbosity", "web_search_options",
})
ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_ROLES_TEXT = "'system', 'assistant', 'user', 'function', 'tool', and 'developer'"
PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")
_PARTS_TEXT = "'text', 'image_url', 'input_audio', 'refusal', 'audio', and 'file'"
EFFORTS = ("minimal", "low", "medium", "high")
_EFFORTS_TEXT = "'minimal', 'low', 'medium', and 'high'"
# parameters reasoning models refuse outright (besides max_tokens, which has its own hint)
REASONING_UNSUPPORTED = ("top_p", "logprobs", "top_logprobs", "logit_bias")
NOT_CHAT_MODEL = (
    "This is not a chat model and thus not supported in the v1/chat/completions endpoint. "
    "Did you mean to use v1/completions?"
)


def unrecognized(body: dict[str, Any], known: frozenset[str]) -> Invalid | None:
    extra = body.keys() - known
    if not extra:
        return None
    return Invalid(400, f"Unrecognized request argument supplied: {', '.join(sorted(extra))}")


def number_range(body: dict[str, Any], name: str, low: float, high: float) -> Invalid | None:
    """OpenAI's "Invalid 'temperature': decimal above maximum value ..." family."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return Invalid(400, f"Invalid type for '{name}': expected a decimal, but got {json_type(value)} instead.",
                       name, "invalid_type")
    if value > high:
        return Invalid(400, f"Invalid '{name}': decimal above maximum value. Expected a value <= {high:g}, "
                            f"but got {value:g} instead.", name, "decimal_above_max_value")
    if value < low:
        return Invalid(400, f"Invalid '{name}': decimal below minimum value. Expected a value >= {low:g}, "
                            f"but got {value:g} instead.", name, "decimal_below_min_value")
    return None


def integer(value: Any, name: str, low: int, high: int | None = None) -> Invalid | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return Invalid(400, f"Invalid type for '{name}': expected an integer, but got {json_type(value)} instead.",
                       name, "invalid_type")
    if value < low:
        return Invalid(400, f"Invalid '{name}': integer below minimum value. Expected a value >= {low}, "
                            f"but got {value} instead.", name, "integer_below_min_value")
    if high is not None and value > high:
        return Invalid(400, f"Invalid '{name}': integer above maximum value. Expected a value <= {high}, "
                            f"but got {value} instead.", name, "integer_above_max_value")
    return None


def reasoning_params(body: dict[str, Any], spec: ModelSpec, effort_key: str = "reasoning_effort") -> Invalid | None:
    """Reasoning models: max_completion_tokens only, the default temperature only, reasoning_effort;
    other models refuse reasoning_effort."""
    if spec.reasoning:
        if "max_tokens" in body and body["max_tokens"] is not None:
            return Invalid(400, "Unsupported parameter: 'max_tokens' is not supported with this model. "
                                "Use 'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")
        temp = body.get("temperature")
        if temp is not None and temp != 1:
            shown = f"{temp:g}" if isinstance(temp, (int, float)) and not isinstance(temp, bool) else repr(temp)
            return Invalid(400, f"Unsupported value: 'temperature' does not support {shown} with this model. "
                                "Only the default (1) value is supported.", "temperature", "unsupported_value")
        for name in REASONING_UNSUPPORTED:
            if body.get(name) not in (None, False):
                return Invalid(400, f"Unsupported parameter: '{name}' is not supported with this model.",
                               name, "unsupported_parameter")
        effort = body.get(effort_key)
        if effort is not None and effort not in EFFORTS:
            return Invalid(400, f"Invalid value: {effort!r}. Supported values are: {_EFFORTS_TEXT}.",
                           effort_key, "invalid_value")
    elif body.get(effort_key) is not None:
        return Invalid(400, f"Unsupported parameter: '{effort_key}' is not supported with this model.",
                       effort_key, "unsupported_parameter")
    return None


def output_cap(value: int, name: str, spec: ModelSpec) -> Invalid | None:
    cap = spec.max_output_tokens
    if cap is not None and value > cap:
        return Invalid(400, f"{name} is too large: {value}. This model supports at most {cap} completion tokens, "
                            f"whereas you provided {value}.", name, None)
    return None


def context_window(prompt_tokens: int, max_tokens: int | None, spec: ModelSpec) -> Invalid | None:
    window = spec.context_window
    asked = prompt_tokens + (max_tokens or 0)
    if asked <= window:
        return None
    if max_tokens:
        msg = (f"This model's maximum context length is {window} tokens. However, you requested {asked} tokens "
               f"({prompt_tokens} in the messages, {max_tokens} in the completion). Please reduce the length of "
               "the messages or completion.")
    else:
        msg = (f"This model's maximum context length is {window} tokens. However, your messages resulted in "
               f"{prompt_tokens} tokens. Please reduce the length of the messages.")
    return Invalid(400, msg, "messages", "context_length_exceeded")


def messages(msgs: list[Any]) -> Invalid | None:
    """Roles, content presence and types, and tool messages answering a tool call."""
    tool_calls_seen = False
    for i, msg in enumerate(msgs):
        role = msg.get("role")
        if role is None:
            return Invalid(400, f"Missing required parameter: 'messages[{i}].role'.", f"messages[{i}].role",
                           "missing_required_parameter")
        if role not in ROLES:
            return Invalid(400, f"Invalid value: {role!r}. Supported values are: {_ROLES_TEXT}.",
                           f"messages[{i}].role", "invalid_value")
        content = msg.get("content")
        if content is None:
            if role == "assistant" and (msg.get("tool_calls") or msg.get("function_call") or msg.get("refusal")):
                pass
            else:
                return Invalid(400, f"Missing required parameter: 'messages[{i}].content'.",
                               f"messages[{i}].content", "missing_required_parameter")
        elif isinstance(content, list):
            for j, part in enumerate(content):
                kind = part.get("type") if isinstance(part, dict) else None
                if kind not in PART_TYPES:
                    return Invalid(400, f"Invalid value: {kind!r}. Supported values are: {_PARTS_TEXT}.",
                                   f"messages[{i}].content[{j}].type", "invalid_value")
        elif not isinstance(content, str):
            return Invalid(400, f"Invalid type for 'messages[{i}].content': expected one of a string or array of "
                                f"objects, but got {json_type(content)} instead.", f"messages[{i}].content",
                           "invalid_type")
        if role == "assistant" and msg.get("tool_calls"):
            tool_calls_seen = True
        elif role == "tool" and not tool_calls_seen:
            return Invalid(400, "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                                "message with 'tool_calls'.", f"messages.[{i}].role", None)
    return None


def tools_and_format(body: dict[str, Any], msgs: list[Any]) -> Invalid | None:
    tools = body.get("tools")
    if body.get("tool_choice") is not None and not tools:
        return Invalid(400, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
                            "specified.", "tool_choice", None)
    if tools is not None:
        if not isinstance(tools, list):
            return Invalid(400, f"Invalid type for 'tools': expected an array, but got {json_type(tools)} instead.",
                           "tools", "invalid_type")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("function"), dict) \
                    or not tool["function"].get("name"):
                return Invalid(400, f"Missing required parameter: 'tools[{i}].function'.", f"tools[{i}].function",
                               "missing_required_parameter")
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        kind = fmt.get("type")
        if kind == "json_object":
            if not any("json" in _text(m.get("content")).lower() for m in msgs):
                return Invalid(400, "'messages' must contain the word 'json' in some form, to use 'response_format' "
                                    "of type 'json_object'.", "messages", None)
        elif kind == "json_schema":
            js = fmt.get("json_schema")
            if not isinstance(js, dict) or not js.get("name"):
                return Invalid(400, "Missing required parameter: 'response_format.json_schema.name'.",
                               "response_format.json_schema.name", "missing_required_parameter")
        elif kind != "text":
            return Invalid(400, f"Invalid value: {kind!r}. Supported values are: 'text', 'json_object', and "
                                "'json_schema'.", "response_format.type", "invalid_value")
    if body.get("stream_options") is not None and not body.get("stream"):
        return Invalid(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                       "stream_options", None)
    return None


_RANGES = (("temperature", 0, 2), ("top_p", 0, 1), ("presence_penalty", -2, 2), ("frequency_penalty", -2, 2))
_FORMAT_KEYS = frozenset({"tools", "tool_choice", "response_format", "stream_options"})


def chat(body: dict[str, Any], spec: ModelSpec, prompt_tokens: int) -> Invalid | None:
    """Every strict check of a chat completion request, in the real API's order.

    A well-formed request costs a set comparison and a few lookups: each group of checks runs
    only when a parameter it concerns is there."""
    keys = body.keys()
    if not keys <= CHAT_PARAMS:
        return unrecognized(body, CHAT_PARAMS)
    if spec.embedding_dimensions is not None:
        return Invalid(404, NOT_CHAT_MODEL, "model", None)
    bad = messages(body["messages"])
    if bad is None and (spec.reasoning or "reasoning_effort" in keys):
        bad = reasoning_params(body, spec)
    if bad is None:
        for name, low, high in _RANGES:
            if name in keys:
                bad = number_range(body, name, low, high)
                if bad is not None:
                    break
    if bad is None and body.get("n") is not None:
        bad = integer(body["n"], "n", 1, 128)
    if bad is None:
        name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
        value = body.get(name)
        if value is not None:
            bad = integer(value, name, 1) or output_cap(value, name, spec)
        if bad is None and prompt_tokens + (value or 0) > spec.context_window:
            bad = context_window(prompt_tokens, value, spec)
    if bad is None and not keys.isdisjoint(_FORMAT_KEYS):
        bad = tools_and_format(body, body["messages"])
    return bad


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""
