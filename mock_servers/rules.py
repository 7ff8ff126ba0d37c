"""Provider rules: every provider-specific question about a profile, answered in one place.

The profile (:mod:`mock_servers.profile`) is data; the rules that read it live here, one object
per provider kind (keyed like ``PROVIDER_CLASSES``): what a request costs at admission per limit
dimension, the usage in a response, its price, default headers and credentials, the bucket key,
retry hints in a body, the provider's error message, and the server-side limits a planner must
respect. The mock, the runner, the planner and the claims all call these, so none of them
branches on the kind. Limit dimensions are named as the profile's ``Limits`` fields are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Hashable, Mapping, Sequence

import orjson

from .profile import Endpoint, Limits, Prices, Profile
from .text import estimate_message_tokens, estimate_tokens

REQUESTS = ("requests_per_second", "requests_per_minute")


@dataclass(slots=True)
class Usage:
    """Tokens a response reports (zero for APIs that report none)."""

    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """What an LLM request asks for, as the admission rule reads it."""

    model: str | None
    prompt_tokens: int
    max_tokens: int
    choices: int = 1


@dataclass(frozen=True, slots=True)
class PlannedUse:
    """One call of an item as the planner sees it: attempts per item, endpoint (or model), and
    the units it takes from each limit dimension per attempt, sustained (after refunds)."""

    attempts: float
    endpoint: str | None
    units: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class ServerLimit:
    """A server-side bucket: ``per_minute`` units refill, ``burst`` units at once, and the
    ``units`` one item takes from it. ``dimension`` names it as a client's limiter and the
    limit headers do (``tokens_per_minute``, ...; empty when no header states it)."""

    label: str
    per_minute: float
    units: float
    burst: float
    dimension: str = ""


class ProviderRules:
    """What every provider shares; subclasses change what differs for theirs."""

    kind: ClassVar[str]
    llm: ClassVar[bool] = False            # calls a model: prompt and output tokens, per-model settings
    per_operation: ClassVar[bool] = False  # requests_per_second is each operation's own bucket (SP-API)
    default_headers: ClassVar[Mapping[str, str]] = {}
    refunded: ClassVar[tuple[str, ...]] = ()  # dimensions charged a maximum, the unused part given back
    sized_by_body: ClassVar[bool] = True   # a request's size is its JSON body (a REST API's: its endpoint's)

    # -- a request ---------------------------------------------------------------------------
    def llm_request(self, profile: Profile, body: Any) -> LLMRequest | None:
        """Model, prompt estimate and max_tokens of an LLM request body (None for other APIs)."""
        return None

    def admission_units(self, request: LLMRequest | None) -> dict[str, float]:
        """Units a request takes from each limit dimension when it is admitted."""
        return {"requests_per_second": 1, "requests_per_minute": 1}

    def admission(self, profile: Profile, body: Any) -> dict[str, float]:
        """:meth:`admission_units` of a request body (the runner's limiter cost)."""
        return self.admission_units(self.llm_request(profile, body))

    def sustained_units(self, request: LLMRequest | None, output_tokens: float = 0.0) -> dict[str, float]:
        """Units per request once refunds are made (what a planner's sustained rate divides)."""
        units = self.admission_units(request)
        for dim in self.refunded:
            if dim in units:
                units[dim] = output_tokens
        return units

    def bucket_key(self, client: str, operation: str | None = None) -> Hashable:
        """Which bucket a request draws from: one per client key (per model or operation where
        the provider says so)."""
        return client

    def credentials(self, profile: Profile, key: str) -> tuple[dict[str, str], dict[str, str]]:
        """(headers, query) carrying ``key`` the way the profile's ``auth`` says."""
        auth = profile.auth
        return _AUTH[auth.kind](auth.name, key)

    # -- a response ---------------------------------------------------------------------------
    def usage(self, body: Any) -> Usage:
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            return Usage()
        return Usage(_int(usage.get("prompt_tokens", usage.get("input_tokens"))),
                     _int(usage.get("completion_tokens", usage.get("output_tokens"))))

    def retry_hint(self, body: Any) -> float | None:
        """Seconds to wait that a 429's body gives (headers are read by the client itself)."""
        return None

    def error_message(self, body: Any) -> str | None:
        """The provider's own error message in a parsed error body, if it has one."""
        if not isinstance(body, dict):
            return None
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"][:300]
        if isinstance(err, str):
            return err[:300]
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", errors[0]))[:300]
        if isinstance(body.get("message"), str):
            return body["message"][:300]
        return None

    # -- prices --------------------------------------------------------------------------------
    def prices(self, profile: Profile, model: str | None) -> Prices:
        """The model's prices where the profile has the model, else the profile's."""
        return profile.model_settings(model).prices if model and model in profile.models else profile.prices

    def price(self, profile: Profile, model: str | None, usage: Usage) -> float:
        """Dollars for one call: tokens at the model's prices, plus the per-request price."""
        p = self.prices(profile, model)
        return (usage.input_tokens * p.input_per_million + usage.output_tokens * p.output_per_million) / 1e6 \
            + p.per_request

    # -- planning ------------------------------------------------------------------------------
    def limits(self, profile: Profile, model: str | None) -> Limits:
        return profile.model_settings(model).limits if model and model in profile.models else profile.limits

    def server_limits(self, profile: Profile, calls: Sequence[PlannedUse]) -> list[ServerLimit]:
        """The server's buckets one item of these calls draws from."""
        lim = self.limits(profile, calls[0].endpoint if calls else None)
        n = sum(c.attempts for c in calls)
        out = [ServerLimit("requests/min", lim.requests_per_minute, n, lim.requests_per_minute or 0,
                           "requests_per_minute")] \
            if lim.requests_per_minute else []
        out += self.token_limits(lim, calls)
        if lim.requests_per_second:
            out.append(ServerLimit("requests/s", lim.requests_per_second * 60, n, lim.burst or 1.0))  # no header says it
        return out

    def token_limits(self, lim: Limits, calls: Sequence[PlannedUse]) -> list[ServerLimit]:
        return []

    def endpoint_cost(self, profile: Profile, endpoint: str | None) -> int:
        """Tokens one call of ``endpoint`` spends from a token balance (Keepa)."""
        return 1

    # -- request size ----------------------------------------------------------------------------
    def request_size_limit(self, profile: Profile, path: str) -> int | None:
        """Largest request body the real API takes on ``path`` (below the mount), None for none
        documented; a lenient (``strict: false``) profile has none."""
        return profile.max_request_bytes if profile.strict else None

    def smallest_request_size_limit(self, profile: Profile) -> int | None:
        """The lowest of this profile's size limits: bodies below it need no per-path look-up."""
        return self.request_size_limit(profile, "/")


def _units(calls: Sequence[PlannedUse], dim: str) -> float:
    return sum(c.attempts * c.units.get(dim, 0.0) for c in calls)


def _per_minute(label: str, per_minute: float | None, units: float, dimension: str) -> list[ServerLimit]:
    return [ServerLimit(label, per_minute, units, per_minute, dimension)] if per_minute else []


class OpenAIRules(ProviderRules):
    """Prompt estimate + max_tokens (times ``n`` choices) count toward TPM at admission."""

    kind = "openai"
    llm = True

    def llm_request(self, profile: Profile, body: Any) -> LLMRequest | None:
        if not isinstance(body, dict):
            return None
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        return LLMRequest(_model(body), self.prompt_tokens(body),
                          _positive(max_tokens) or profile.default_max_tokens, _positive(body.get("n")) or 1)

    def prompt_tokens(self, body: dict[str, Any]) -> int:
        """Messages and tool definitions (tools count as prompt tokens, as for the real API)."""
        messages = body.get("messages") if isinstance(body.get("messages"), list) else []
        return estimate_message_tokens(messages) + _tools_tokens(body)

    def admission_units(self, request: LLMRequest | None) -> dict[str, float]:
        units = super().admission_units(request)
        if request is not None:
            units["tokens_per_minute"] = request.prompt_tokens + request.max_tokens * request.choices
        return units

    def bucket_key(self, client: str, operation: str | None = None) -> Hashable:
        return (client, operation)  # per API key and model

    def token_limits(self, lim: Limits, calls: Sequence[PlannedUse]) -> list[ServerLimit]:
        return _per_minute("tokens/min", lim.tokens_per_minute, _units(calls, "tokens_per_minute"), "tokens_per_minute")


BATCHES_PATH = "/v1/messages/batches"


class AnthropicRules(ProviderRules):
    """Input tokens count toward ITPM, ``max_tokens`` toward OTPM at admission (the unused part
    is refunded after the call); TPM, where a profile gives it, reads input tokens."""

    kind = "anthropic"
    llm = True
    default_headers = {"anthropic-version": "2023-06-01"}
    refunded = ("output_tokens_per_minute",)

    def llm_request(self, profile: Profile, body: Any) -> LLMRequest | None:
        if not isinstance(body, dict):
            return None
        return LLMRequest(_model(body), self.prompt_tokens(body), _positive(body.get("max_tokens")) or 0)

    def prompt_tokens(self, body: dict[str, Any]) -> int:
        """Messages, system and tool definitions, as Anthropic counts input tokens."""
        messages = body.get("messages") if isinstance(body.get("messages"), list) else []
        return estimate_message_tokens(messages, body.get("system")) + _tools_tokens(body)

    def admission_units(self, request: LLMRequest | None) -> dict[str, float]:
        units = super().admission_units(request)
        if request is not None:
            units["input_tokens_per_minute"] = request.prompt_tokens
            units["output_tokens_per_minute"] = request.max_tokens
            units["tokens_per_minute"] = request.prompt_tokens
        return units

    def bucket_key(self, client: str, operation: str | None = None) -> Hashable:
        return (client, operation)  # per API key and model

    def request_size_limit(self, profile: Profile, path: str) -> int | None:
        """32 MB for Messages and count_tokens, 256 MB (the batch's ``max_bytes``) for Message
        Batches (platform.claude.com/docs/en/api/overview#request-size-limits)."""
        if not profile.strict:
            return None
        if path.startswith(BATCHES_PATH):
            return profile.batch.max_bytes
        return profile.max_request_bytes

    def smallest_request_size_limit(self, profile: Profile) -> int | None:
        if not profile.strict:
            return None
        limits = [v for v in (profile.max_request_bytes, profile.batch.max_bytes) if v is not None]
        return min(limits) if limits else None

    def usage(self, body: Any) -> Usage:
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            return Usage()
        return Usage(_int(usage.get("input_tokens")) + _int(usage.get("cache_creation_input_tokens")),
                     _int(usage.get("output_tokens")))

    def token_limits(self, lim: Limits, calls: Sequence[PlannedUse]) -> list[ServerLimit]:
        return (_per_minute("input tokens/min", lim.input_tokens_per_minute or lim.tokens_per_minute,
                            _units(calls, "input_tokens_per_minute"), "input_tokens_per_minute")
                + _per_minute("output tokens/min", lim.output_tokens_per_minute,
                              _units(calls, "output_tokens_per_minute"), "output_tokens_per_minute"))


class SPAPIRules(ProviderRules):
    """Each operation is its own bucket (rate, burst) per access token."""

    kind = "spapi"
    per_operation = True

    def bucket_key(self, client: str, operation: str | None = None) -> Hashable:
        return (client, operation)

    def server_limits(self, profile: Profile, calls: Sequence[PlannedUse]) -> list[ServerLimit]:
        out = []
        for c in calls:
            ep = _endpoint(profile, c.endpoint)
            if ep is not None and ep.rate:
                out.append(ServerLimit(f"{ep.name} {ep.rate:g}/s burst {ep.burst or 1:g}", ep.rate * 60,
                                       c.attempts, ep.burst or 1.0, "requests_per_second"))
        return out


FINDER = "query"  # Keepa's Product Finder endpoint


class KeepaRules(ProviderRules):
    """A token balance per key that refills every minute; the body says when (``refillIn``)."""

    kind = "keepa"

    def retry_hint(self, body: Any) -> float | None:
        if isinstance(body, dict) and isinstance(body.get("refillIn"), (int, float)):
            return max(body["refillIn"], 1) / 1000.0
        return None

    def error_message(self, body: Any) -> str | None:
        message = super().error_message(body)
        if message is None and isinstance(body, dict) and "tokensLeft" in body:
            return f"Keepa tokens exhausted (tokensLeft {body.get('tokensLeft')})"
        return message

    def endpoint_cost(self, profile: Profile, endpoint: str | None) -> int:
        ep = _endpoint(profile, endpoint)
        cost = ep.cost if ep is not None else 1
        if ep is not None and ep.name == FINDER:
            cost += 1  # the Product Finder's base, plus 1 per 100 ASINs of its default page (50)
        return cost

    def server_limits(self, profile: Profile, calls: Sequence[PlannedUse]) -> list[ServerLimit]:
        cost = sum(c.attempts * self.endpoint_cost(profile, c.endpoint) for c in calls)
        k = profile.keepa
        initial = k.initial if k.initial is not None else k.refill_rate * 60 * k.max_hours
        return [ServerLimit(f"token refill {k.refill_rate}/min", k.refill_rate, cost, initial)]


class RestRules(ProviderRules):
    """A partner's REST API: its endpoints' sizes and limits are the profile's."""

    kind = "rest"
    sized_by_body = False


PROVIDER_RULES: dict[str, ProviderRules] = {
    r.kind: r for r in (OpenAIRules(), AnthropicRules(), SPAPIRules(), KeepaRules(), RestRules())
}


def rules_for(profile: Profile) -> ProviderRules:
    return PROVIDER_RULES[profile.kind]


def _endpoint(profile: Profile, name: str | None) -> Endpoint | None:
    """The endpoint ``name``; with no name, the profile's first."""
    for ep in profile.endpoints:
        if ep.name == name:
            return ep
    return profile.endpoints[0] if (name is None and profile.endpoints) else None


def _model(body: dict[str, Any]) -> str | None:
    return body.get("model") if isinstance(body.get("model"), str) else None


def _positive(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def _tools_tokens(body: dict[str, Any]) -> int:
    tools = body.get("tools")
    return estimate_tokens(orjson.dumps(tools).decode()) if tools else 0


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


_AUTH = {
    "bearer": lambda name, key: ({name: f"Bearer {key}"}, {}),
    "header": lambda name, key: ({name: key}, {}),
    "query": lambda name, key: ({}, {name: key}),
    "none": lambda name, key: ({}, {}),
}
