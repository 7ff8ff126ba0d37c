"""Provider profiles: one YAML file describes one API as a client sees it.

The mock serves a profile, the runner paces by it and the planner predicts from it, so the
schema here is the contract between the three. Every duration is in seconds and every limit is
"per minute" (or per second where the field name says so) in *profile* time; `time_scale`
(see :mod:`mock_servers.timescale`) converts both to wall-clock time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ProfileError
from .latency import Z99, LLMLatency, lognormal_sigma  # noqa: F401 - Z99, lognormal_sigma re-exported

ProviderKind = Literal["openai", "anthropic", "spapi", "keepa", "rest"]


# Bounds on rates and durations: beyond them a value is a typo or an attack (rpm 1e-300 made a
# 300-digit Retry-After; hang_seconds 1e300 a connection held forever), not a rehearsal.
_MIN_PER_MINUTE, _MAX_RATE = 1e-3, 1e12
_MAX_SECONDS = 86_400.0  # a day


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Latency(_Model):
    """Lognormal latency given by its median and p99 (seconds).

    For LLM profiles (``tokens_per_second`` set) median and p99 are those of a whole
    non-streaming call with the profile's median output length; the call is modelled as
    ``ttft + output_tokens / tokens_per_second`` with only the TTFT random. ``ttft`` (the
    median time to first token) is derived from the median when not given.
    """

    median: float = Field(0.0, ge=0, le=_MAX_SECONDS)
    p99: float | None = Field(None, ge=0, le=_MAX_SECONDS)
    ttft: float | None = Field(None, ge=0)
    tokens_per_second: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> "Latency":
        if self.p99 is not None and self.p99 < self.median:
            raise ValueError(f"p99 ({self.p99}) must be >= median ({self.median})")
        return self

    @property
    def spread_p99(self) -> float:
        return self.median if self.p99 is None else self.p99


class TokenDistribution(_Model):
    """Lognormal distribution of a token count (median, p99)."""

    median: int = Field(150, ge=1)
    p99: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> "TokenDistribution":
        if self.p99 is not None and self.p99 < self.median:
            raise ValueError(f"p99 ({self.p99}) must be >= median ({self.median})")
        return self


class Limits(_Model):
    """Server-side token buckets. Per-minute buckets hold one minute's worth at most."""

    requests_per_minute: float | None = Field(None, ge=_MIN_PER_MINUTE, le=_MAX_RATE)
    tokens_per_minute: float | None = Field(None, ge=_MIN_PER_MINUTE, le=_MAX_RATE)
    input_tokens_per_minute: float | None = Field(None, ge=_MIN_PER_MINUTE, le=_MAX_RATE)
    output_tokens_per_minute: float | None = Field(None, ge=_MIN_PER_MINUTE, le=_MAX_RATE)
    requests_per_second: float | None = Field(None, ge=_MIN_PER_MINUTE / 60, le=_MAX_RATE)
    burst: float | None = Field(None, gt=0, le=_MAX_RATE, description="bucket size for requests_per_second")
    batch_enqueued_tokens: float | None = Field(
        None, gt=0, description="prompt tokens of unfinished batches per model (OpenAI's batch queue limit)"
    )


class Capacity(_Model):
    """What the server can work on at once: past ``max_in_flight`` requests queue (latency
    grows), past ``max_queue`` waiting ones, or after ``queue_timeout`` in the queue, the
    provider's overload error is returned (503, or 529 for Anthropic)."""

    max_in_flight: int | None = Field(None, ge=1)
    max_queue: int = Field(1000, ge=0)
    queue_timeout: float = Field(30.0, gt=0, le=_MAX_SECONDS)


class Faults(_Model):
    """Probabilities (0..1) of injected faults per request, changeable while running."""

    error_500: float = Field(0.0, ge=0, le=1)
    error_503: float = Field(0.0, ge=0, le=1)
    error_529: float = Field(0.0, ge=0, le=1)
    insufficient_quota: float = Field(0.0, ge=0, le=1)
    hang: float = Field(0.0, ge=0, le=1)
    reset: float = Field(0.0, ge=0, le=1)
    malformed: float = Field(0.0, ge=0, le=1)
    stream_error: float = Field(0.0, ge=0, le=1)
    hang_seconds: float = Field(600.0, gt=0, le=_MAX_SECONDS,
                                description="how long a hung request holds the connection (a day at most)")

    @model_validator(mode="after")
    def _check(self) -> "Faults":
        total = sum(getattr(self, k) for k in FAULT_KINDS)
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities add up to {total:.3f}, more than 1")
        return self


FAULT_KINDS = (
    "error_500",
    "error_503",
    "error_529",
    "insufficient_quota",
    "hang",
    "reset",
    "malformed",
    "stream_error",
)


class Prices(_Model):
    """Dollars; per million tokens for LLMs, per request for the rest."""

    input_per_million: float = Field(0.0, ge=0)
    output_per_million: float = Field(0.0, ge=0)
    per_request: float = Field(0.0, ge=0)


class ModelSpec(_Model):
    """An LLM model's own settings; fields left out take the profile's."""

    latency: dict[str, Any] | None = None
    limits: dict[str, Any] | None = None
    prices: dict[str, Any] | None = None
    output_tokens: dict[str, Any] | None = None
    context_window: int = Field(200_000, ge=1)
    embedding_dimensions: int | None = Field(None, ge=1, description="an embedding model: its vector length")
    max_output_tokens: int | None = Field(
        None, ge=1, description="the largest max_tokens the real model accepts (strict mode refuses more)"
    )
    reasoning: bool = Field(
        False, description="a reasoning model: max_completion_tokens only, default temperature only, reasoning_effort"
    )
    reasoning_share: float = Field(
        0.0, ge=0, lt=1,
        description="part of the output tokens spent reasoning (billed and paced as output, not shown as text)",
    )


class RateLimitedResponse(_Model):
    """A REST API's own rate-limit answer; ``{retry_after}`` in strings is filled in."""

    status: int = Field(429, ge=400, le=599)
    body: Any = None


class Endpoint(_Model):
    """One operation of a REST-like API (REST profiles and SP-API)."""

    name: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str
    response_bytes: int = Field(512, ge=0)
    request_bytes: int = Field(0, ge=0, description="typical request body, for planning")
    content_type: str = "application/json"
    latency: Latency | None = None
    rate: float | None = Field(None, gt=0, description="requests per second (SP-API style)")
    burst: float | None = Field(None, gt=0)
    cost: int = Field(1, ge=0, description="Keepa tokens per item")
    response: Any = Field(None, description="REST: the answer body, a JSON example whose strings may be "
                                            "templates (see mock_servers/response_template.py); default "
                                            "{id, endpoint, status, params, request, padding}")

    @model_validator(mode="after")
    def _check(self) -> "Endpoint":
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/': {self.path!r}")
        if self.response is not None:
            from .response_template import compile_response

            compile_response(self.response, f"endpoints.{self.name}.response")  # syntax errors now
        return self


class BatchSettings(_Model):
    """The provider's Batch API: turnaround (lognormal, profile seconds), window, discount, limits."""

    turnaround: Latency = Latency(median=1800.0, p99=14400.0)
    window_seconds: float = Field(86400.0, gt=0, description="the 24 h completion window; later is expired")
    discount: float = Field(0.5, ge=0, le=1, description="batch price = (1 - discount) x the normal price")
    max_requests: int = Field(50_000, ge=1, description="requests per batch")
    max_bytes: int = Field(200 * 1024**2, ge=1, description="bytes of one batch's input")
    max_queue_requests: int | None = Field(
        None, ge=1, description="batch requests of one workspace (API key) not yet processed, over all its batches "
                                "(Anthropic's processing queue); a batch that would pass it is a 429"
    )


class Auth(_Model):
    """How a client proves who it is; ``none`` accepts anonymous calls."""

    kind: Literal["bearer", "header", "query", "none"] = "bearer"
    name: str = "Authorization"
    invalid_prefix: str = Field(
        "invalid", description="keys starting with this are refused as wrong, to test 401 handling"
    )


class KeepaTokens(_Model):
    refill_rate: int = Field(20, ge=1, description="tokens added per minute")
    initial: int | None = Field(None, description="starting balance; default a full hour")
    max_hours: float = Field(1.0, gt=0, description="tokens older than this expire (cap)")


RESERVED_MOUNTS = frozenset({"admin", "metrics", "healthz"})


class Profile(_Model):
    """One provider as seen by a client."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: ProviderKind
    description: str = ""
    prefix: str | None = None
    auth: Auth = Auth()
    latency: Latency = Latency()
    limits: Limits = Limits()
    capacity: Capacity = Capacity()
    faults: Faults = Faults()
    prices: Prices = Prices()
    output_tokens: TokenDistribution = TokenDistribution()
    default_max_tokens: int = Field(4096, ge=1)
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    endpoints: list[Endpoint] = Field(default_factory=list)
    rate_limited: RateLimitedResponse = RateLimitedResponse()
    keepa: KeepaTokens = KeepaTokens()
    strict: bool = Field(True, description="refuse what the real API refuses; false accepts the old leniency")
    max_request_bytes: int | None = Field(
        None, ge=1, description="largest request body the real API takes (413 past it)"
    )
    batch: BatchSettings = BatchSettings()
    remaining_tokens_rounding: int = Field(
        1, ge=1, description="token *-remaining headers are rounded to this (Anthropic: the nearest thousand)"
    )

    @property
    def mount(self) -> str:
        return self.prefix if self.prefix is not None else f"/{self.name}"

    @model_validator(mode="after")
    def _check(self) -> "Profile":
        first = self.mount.strip("/").split("/", 1)[0]
        if first in RESERVED_MOUNTS:
            raise ValueError(f"name {self.name!r} (mount {self.mount}) is reserved: the mock serves /{first} itself; "
                             "choose another name, or a prefix")
        if self.kind in ("openai", "anthropic") and not self.models:
            raise ValueError(f"an {self.kind} profile needs at least one entry under 'models'")
        if self.kind in ("rest", "spapi") and not self.endpoints:
            raise ValueError(f"a {self.kind} profile needs at least one entry under 'endpoints'")
        for name in self.models:
            settings = self.model_settings(name)  # validate every model's overrides now
            if self.kind in ("openai", "anthropic"):
                _check_llm_latency(name, settings)
        return self

    def model_settings(self, model: str) -> "ModelSettings":
        """The effective latency, limits, prices and output length for ``model``."""
        spec = self.models[model]
        merged: dict[str, Any] = {}
        for section in ("latency", "limits", "prices", "output_tokens"):
            try:
                merged[section] = _merge(getattr(self, section), getattr(spec, section))
            except ValidationError as exc:
                raise ValueError(f"models.{model}.{section}{_first_error(exc)}") from None
        return ModelSettings(**merged)


class ModelSettings(BaseModel):
    latency: Latency
    limits: Limits
    prices: Prices
    output_tokens: TokenDistribution


def _merge(base: _Model, override: dict[str, Any] | None) -> Any:
    if not override:
        return base
    return type(base).model_validate({**base.model_dump(exclude_unset=False), **override})


def _check_llm_latency(model: str, settings: "ModelSettings") -> None:
    """An LLM model's latency must leave room for generating its median output."""
    try:
        LLMLatency(settings.latency, settings.output_tokens)
    except ValueError as exc:
        raise ValueError(f"models.{model}: {exc}") from None


def _first_error(exc: ValidationError) -> str:
    """``.field: message (got value)`` for the first error, to follow a section's path."""
    err = exc.errors()[0]
    loc = "".join(f".{p}" for p in err["loc"])
    value = err.get("input")
    shown = "" if isinstance(value, (dict, list)) else f" (got {value!r})"
    return f"{loc}: {err['msg']}{shown}"


SHIPPED_DIR = Path(__file__).with_name("profiles")


def shipped_profiles() -> dict[str, Path]:
    """Names and paths of the profiles that ship with the package."""
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.yaml"))}


def load_profile_data(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ProfileError(f"profile file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a YAML mapping, got {type(data).__name__}")
    return data


def validate_profile(data: dict[str, Any], source: str) -> Profile:
    """Validate ``data`` as a profile, naming the field and value on error."""
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(profile)"
            value = err.get("input")
            shown = "" if isinstance(value, (dict, list)) else f" (got {value!r})"
            lines.append(f"  {loc}: {err['msg']}{shown}")
        raise ProfileError(f"{source}: invalid profile:\n" + "\n".join(lines)) from None
