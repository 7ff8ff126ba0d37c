"""Scenarios: what a batch run does, as a validated YAML file.

A scenario names the input (CSV/JSONL, streamed), the targets (a provider profile each, mock
or real), the steps of one item (templated calls to the targets, or an async Python function),
the workers, client-side limits, retry policy, timeout and output columns. See the README's
"Scenario format" for a commented example.
"""

from __future__ import annotations


import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mock_servers.overrides import apply_override, split_key
from mock_servers.profile import Profile, load_profile_data, shipped_profiles, validate_profile
from mock_servers.yamlfile import read_mapping

from harness.claims_spec import Claims
from harness.errors import ScenarioError

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ClientLimits(_Model):
    """Client-side limits for one target, in profile time (per real second/minute)."""

    requests_per_second: float | None = Field(None, gt=0)
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    input_tokens_per_minute: float | None = Field(None, gt=0)
    output_tokens_per_minute: float | None = Field(None, gt=0)
    burst: float | None = Field(None, gt=0, description="requests that may go at once after idleness")
    learn: bool = Field(True, description="learn limits the scenario leaves out from response headers")

    def any_set(self) -> bool:
        return any(
            v is not None
            for v in (self.requests_per_second, self.requests_per_minute, self.tokens_per_minute,
                      self.input_tokens_per_minute, self.output_tokens_per_minute)
        )


class Target(_Model):
    """One API the steps call: a provider profile, served by the mock or reached for real."""

    profile: str = Field(description="a shipped profile name (openai, anthropic, ...) or a YAML path")
    base_url: str | None = Field(None, description="the real API's base URL, used with --target real")
    mock_url: str | None = Field(None, description="a running mock's base URL for this provider; else one is started")
    api_key_env: str | None = Field(None, description="environment variable holding the real API key")
    headers: dict[str, str] = Field(default_factory=dict, description="static headers sent on every call")
    limits: ClientLimits = ClientLimits()

    @field_validator("api_key_env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        if v is not None and not _ENV_NAME.match(v):
            raise ValueError(f"must be an environment variable name (letters, digits, _), not {v!r}")
        return v


class Step(_Model):
    """One call of an item: a request template over ``row``, ``item`` and earlier ``steps``."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    target: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: str
    query: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(None, alias="json", description="JSON body template")
    keep: dict[str, str] = Field(default_factory=dict, description="output field -> template over `response`")

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError(f"must start with '/', got {v!r}")
        return v


class PlannedCall(_Model):
    """One call an item makes, for the planner, when ``function`` hides the steps from it."""

    target: str
    endpoint: str | None = Field(None, description="the profile endpoint (REST, SP-API) it calls")
    model: str | None = Field(None, description="LLM model (OpenAI, Anthropic)")
    max_tokens: int | None = Field(None, ge=1)
    prompt_tokens: int | None = Field(None, ge=0, description="estimated prompt tokens per call")
    request_bytes: int | None = Field(None, ge=0)
    response_bytes: int | None = Field(None, ge=0)


class InputSpec(_Model):
    path: str | None = None
    format: Literal["csv", "jsonl"] | None = None
    id: str | None = Field(None, description="column holding the item id; default the line number")


class OutputSpec(_Model):
    path: str | None = None
    format: Literal["csv", "jsonl"] | None = None
    columns: list[str] | None = None


class RetrySpec(_Model):
    max_attempts: int = Field(6, ge=1, le=100)
    base_delay: float = Field(0.5, ge=0)
    max_delay: float = Field(30.0, gt=0)
    jitter: Literal["full", "equal", "none"] = "full"


class Scenario(_Model):
    name: str
    description: str = ""
    input: InputSpec = InputSpec()
    output: OutputSpec = OutputSpec()
    targets: dict[str, Target]
    steps: list[Step] = Field(default_factory=list)
    function: str | None = Field(None, description="module:function, an async function(item, call) -> dict")
    workers: int = Field(5, ge=1, le=100_000)
    adaptive: bool = Field(True, description="back off concurrency on 429/529 and recover (AIMD)")
    timeout: float = Field(60.0, gt=0, description="seconds per request")
    retry: RetrySpec = RetrySpec()
    items: int | None = Field(None, ge=0, description="planned item count, for reports")
    claims: Claims = Field(default_factory=Claims, description="the source document's claims (reports)")
    plan: list[PlannedCall] = Field(default_factory=list, description="an item's calls, for the planner "
                                    "(needed with `function`; derived from `steps` otherwise)")
    mock: dict[str, Any] = Field(default_factory=dict, description="--set overrides for the mock, PROVIDER.FIELD: VALUE")

    @model_validator(mode="after")
    def _check(self) -> "Scenario":
        if not self.targets:
            raise ValueError("name at least one target")
        if bool(self.steps) == bool(self.function):
            raise ValueError("give either 'steps' or 'function' (exactly one)")
        if self.function is not None and ":" not in self.function:
            raise ValueError(f"function must be 'module:function', got {self.function!r}")
        for i, call in enumerate(self.plan):
            if call.target not in self.targets:
                raise ValueError(f"plan.{i}.target: {call.target!r} is not one of the targets ({', '.join(self.targets)})")
        seen: set[str] = set()
        for i, step in enumerate(self.steps):
            if step.target not in self.targets:
                raise ValueError(f"steps.{i}.target: {step.target!r} is not one of the targets ({', '.join(self.targets)})")
            if step.name in seen:
                raise ValueError(f"steps.{i}.name: {step.name!r} is used twice")
            seen.add(step.name)
        return self


class LoadedScenario:
    """A scenario with its profiles resolved (relative paths against the scenario's folder)."""

    def __init__(self, scenario: Scenario, path: Path | None, profiles: dict[str, Profile],
                 profile_sources: dict[str, str]) -> None:
        self.scenario = scenario
        self.path = path
        self.profiles = profiles  # target name -> profile
        self.profile_sources = profile_sources  # target name -> shipped name or file path

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    def resolve(self, relative: str | None) -> Path | None:
        if relative is None:
            return None
        p = Path(relative)
        return p if p.is_absolute() else self.base_dir / p


def load_scenario(path: Path | str, overrides: dict[str, Any] | None = None,
                  extra_sets: dict[str, Any] | None = None) -> LoadedScenario:
    """Read and validate a scenario file; errors name the field, the value and the fix."""
    path = Path(path)
    data = read_mapping(path, "scenario", ScenarioError)
    if overrides:
        data.update(overrides)
    return scenario_from_data(data, path, extra_sets)


def scenario_from_data(data: dict[str, Any], path: Path | None = None,
                       extra_sets: dict[str, Any] | None = None) -> LoadedScenario:
    """Validate ``data``; ``extra_sets`` are more profile overrides (``harness plan --set``)."""
    source = str(path) if path else "scenario"
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{source}: invalid scenario:\n" + _describe(exc)) from None
    base = path.parent if path else Path.cwd()
    shipped = shipped_profiles()
    profiles: dict[str, Profile] = {}
    sources: dict[str, str] = {}
    for name, target in scenario.targets.items():
        ref = target.profile
        if ref in shipped:
            file = shipped[ref]
            sources[name] = ref
        else:
            file = Path(ref) if Path(ref).is_absolute() else base / ref
            if not file.exists():
                raise ScenarioError(
                    f"{source}: targets.{name}.profile: {ref!r} is neither a shipped profile "
                    f"({', '.join(shipped)}) nor a file"
                )
            sources[name] = str(file)
        try:
            data = load_profile_data(file)
            # the scenario's `mock:` overrides change the profile the planner reads too, so a
            # prediction and a measurement always come from the same numbers
            for key, value in {**scenario.mock, **(extra_sets or {})}.items():
                provider, field = split_key(key)
                if provider == data.get("name"):
                    apply_override(data, field, value)
            profiles[name] = validate_profile(data, str(file))
        except Exception as exc:  # ProfileError carries the field already
            raise ScenarioError(f"{source}: targets.{name}.profile: {exc}") from None
    return LoadedScenario(scenario, path, profiles, sources)


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(scenario)"
        value = err.get("input")
        shown = "" if isinstance(value, (dict, list)) or value is None else f" (got {value!r})"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"  {loc}: {msg}{shown}")
    return "\n".join(lines)
