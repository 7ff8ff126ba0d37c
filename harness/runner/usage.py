"""Tokens and dollars: estimates before a call (for the client-side limiter) and usage after
it (from the response), priced with the profile's table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_servers.profile import Profile
from mock_servers.text import estimate_message_tokens


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


def limiter_cost(profile: Profile, body: Any) -> dict[str, float]:
    """Units a request takes from each limiter dimension, by the provider's own admission rule:
    OpenAI charges prompt estimate + max_tokens to TPM; Anthropic charges input tokens to ITPM
    and max_tokens to OTPM (the unused part is refunded after the call)."""
    cost: dict[str, float] = {"requests_per_second": 1, "requests_per_minute": 1}
    if profile.kind not in ("openai", "anthropic") or not isinstance(body, dict):
        return cost
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    if profile.kind == "openai":
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens")) or profile.default_max_tokens
        cost["tokens_per_minute"] = estimate_message_tokens(messages) + int(max_tokens)
    else:
        cost["input_tokens_per_minute"] = estimate_message_tokens(messages, body.get("system"))
        cost["output_tokens_per_minute"] = int(body.get("max_tokens") or 0)
        cost["tokens_per_minute"] = cost["input_tokens_per_minute"]
    return cost


def usage_of(profile: Profile, response: Any) -> Usage:
    """Token usage reported in a response body (zero for APIs that report none)."""
    if not isinstance(response, dict):
        return Usage()
    usage = response.get("usage")
    if not isinstance(usage, dict):
        return Usage()
    if profile.kind == "anthropic":
        return Usage(_int(usage.get("input_tokens")) + _int(usage.get("cache_creation_input_tokens")),
                     _int(usage.get("output_tokens")))
    return Usage(_int(usage.get("prompt_tokens", usage.get("input_tokens"))),
                 _int(usage.get("completion_tokens", usage.get("output_tokens"))))


def price_of(profile: Profile, model: str | None, usage: Usage) -> float:
    """Dollars for one call: tokens at the model's prices, plus the per-request price."""
    prices = profile.model_settings(model).prices if model and model in profile.models else profile.prices
    return (usage.input_tokens * prices.input_per_million + usage.output_tokens * prices.output_per_million) / 1e6 \
        + prices.per_request


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0
