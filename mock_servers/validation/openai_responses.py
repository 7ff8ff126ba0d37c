"""What api.openai.com refuses on ``/v1/responses`` and ``/v1/embeddings``."""

from __future__ import annotations

from typing import Any

from ..profile import ModelSpec
from . import Invalid
from .openai import EFFORTS, integer, number_range, unrecognized

RESPONSE_PARAMS = frozenset({
    "background", "conversation", "include", "input", "instructions", "max_output_tokens", "max_tool_calls",
    "metadata", "model", "parallel_tool_calls", "previous_response_id", "prompt", "prompt_cache_key",
    "prompt_cache_retention", "reasoning", "safety_identifier", "service_tier", "store", "stream", "stream_options",
    "temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p", "truncation", "user", "context_management",
})
EMBEDDING_PARAMS = frozenset({"dimensions", "encoding_format", "input", "model", "user"})
MAX_EMBEDDING_INPUTS = 2048


def responses(body: dict[str, Any], spec: ModelSpec, input_tokens: int) -> Invalid | None:
    bad = unrecognized(body, RESPONSE_PARAMS)
    if bad is not None:
        return bad
    if spec.embedding_dimensions is not None:
        return Invalid(400, f"The model '{body['model']}' is not supported with the Responses API.", "model", None)
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if spec.reasoning:
        temp = body.get("temperature")
        if temp is not None and temp != 1:
            return Invalid(400, "Unsupported parameter: 'temperature' is not supported with this model.",
                           "temperature", "unsupported_parameter")
        if body.get("top_p") is not None:
            return Invalid(400, "Unsupported parameter: 'top_p' is not supported with this model.", "top_p",
                           "unsupported_parameter")
        if effort is not None and effort not in EFFORTS:
            return Invalid(400, f"Invalid value: {effort!r}. Supported values are: 'minimal', 'low', 'medium', and "
                                "'high'.", "reasoning.effort", "invalid_value")
    elif effort is not None:
        return Invalid(400, "Unsupported parameter: 'reasoning.effort' is not supported with this model.",
                       "reasoning.effort", "unsupported_parameter")
    bad = number_range(body, "temperature", 0, 2) or number_range(body, "top_p", 0, 1)
    if bad is not None:
        return bad
    cap = body.get("max_output_tokens")
    if cap is not None:
        bad = integer(cap, "max_output_tokens", 16)
        if bad is not None:
            return bad
        if spec.max_output_tokens is not None and cap > spec.max_output_tokens:
            return Invalid(400, f"Invalid 'max_output_tokens': integer above maximum value. Expected a value <= "
                                f"{spec.max_output_tokens}, but got {cap} instead.", "max_output_tokens",
                           "integer_above_max_value")
    if input_tokens + (cap or 0) > spec.context_window:
        return Invalid(400, "Your input exceeds the context window of this model. Please adjust your input and try "
                            "again.", "input", "context_length_exceeded")
    tools = body.get("tools")
    if body.get("tool_choice") not in (None, "auto", "none") and not tools:
        return Invalid(400, "Tool choice 'required' must be specified with 'tools' parameter.", "tool_choice", None)
    for i, tool in enumerate(tools or []):
        if not isinstance(tool, dict) or (tool.get("type") == "function" and not tool.get("name")):
            return Invalid(400, f"Missing required parameter: 'tools[{i}].name'.", f"tools[{i}].name",
                           "missing_required_parameter")
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and not fmt.get("name"):
        return Invalid(400, "Missing required parameter: 'text.format.name'.", "text.format.name",
                       "missing_required_parameter")
    return None


def embeddings(body: dict[str, Any], spec: ModelSpec, model: str) -> Invalid | None:
    bad = unrecognized(body, EMBEDDING_PARAMS)
    if bad is not None:
        return bad
    if "input" not in body:
        return Invalid(400, "Missing required parameter: 'input'.", "input", "missing_required_parameter")
    if spec.embedding_dimensions is None:
        return Invalid(400, f"This model does not support embeddings: {model}.", "model", None)  # UNCONFIRMED wording
    raw = body["input"]
    items = raw if isinstance(raw, list) else [raw]
    if not items or (isinstance(raw, str) and not raw):
        return Invalid(400, "'$.input' is invalid. Please check the API reference: "
                            "https://platform.openai.com/docs/api-reference.", None, None)
    if len(items) > MAX_EMBEDDING_INPUTS:
        return Invalid(400, f"Invalid 'input': array too long. Expected an array with maximum length "
                            f"{MAX_EMBEDDING_INPUTS}, but got an array with length {len(items)} instead.", "input",
                       "array_above_max_length")
    for item in items:
        if not isinstance(item, (str, list)) or item == "":
            return Invalid(400, "'$.input' is invalid. Please check the API reference: "
                                "https://platform.openai.com/docs/api-reference.", None, None)
    dims = body.get("dimensions")
    if dims is not None:
        bad = integer(dims, "dimensions", 1, spec.embedding_dimensions)
        if bad is not None:
            return bad
    fmt = body.get("encoding_format")
    if fmt is not None and fmt not in ("float", "base64"):
        return Invalid(400, f"Invalid value: {fmt!r}. Supported values are: 'float' and 'base64'.",
                       "encoding_format", "invalid_value")
    return None
