"""What the OpenAI and Anthropic mocks share: per-model settings and token pacing."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, ClassVar

from aiohttp import web

from ..latency import LLMLatency
from ..profile import ModelSettings, ModelSpec, Profile
from .base import Provider


@dataclass
class ModelRuntime:
    """A model's effective settings and its latency sampler."""

    name: str
    settings: ModelSettings
    latency: LLMLatency
    spec: ModelSpec = field(default_factory=ModelSpec)


class LLMProvider(Provider):
    def configure(self, profile: Profile) -> None:
        super().configure(profile)
        self.models: dict[str, ModelRuntime] = {}
        for name in profile.models:
            settings = profile.model_settings(name)
            self.models[name] = ModelRuntime(
                name, settings, LLMLatency(settings.latency, settings.output_tokens, self.ctx.rng), profile.models[name]
            )

    def latency_model(self, latency):  # type: ignore[override]
        return None  # LLM latency is per model (see ModelRuntime)

    def plan_call(self, model: ModelRuntime, max_tokens: int) -> tuple[float, int, bool]:
        """Wall-clock TTFT, output tokens and whether max_tokens cut the output."""
        ttft = self.ctx.time_scale.seconds(model.latency.ttft.sample())
        n, cut = model.latency.sample_output_tokens(max_tokens)
        return ttft, n, cut

    def generation_wall_seconds(self, model: ModelRuntime, n: int) -> float:
        return self.ctx.time_scale.seconds(model.latency.generation_seconds(n))

    async def paced(self, model: ModelRuntime, n: int) -> AsyncIterator[range]:
        """Yield ranges of token indexes as they fall due: token i at ``i / tokens_per_second``
        after the first, on an absolute schedule so sleeps never add up to drift."""
        rate = self.ctx.time_scale.per_second(model.latency.tokens_per_second)
        start = time.monotonic()
        sent = 0
        while sent < n:
            due = min(n, int((time.monotonic() - start) * rate) + 1)
            if due > sent:
                yield range(sent, due)
                sent = due
                continue
            await asyncio.sleep(start + sent / rate - time.monotonic())

    def unknown_model(self, model: str) -> web.Response:
        raise NotImplementedError  # each LLM provider answers with its own 404

    # -- what every LLM provider serves alike ----------------------------------------------
    batch_api_class: ClassVar[type | None] = None  # the provider's Batch API (files, batches)

    @property
    def batch_api(self) -> Any:
        """The provider's Batch API, kept when the admin API changes the profile."""
        api = self.__dict__.get("_batch_api")
        if api is None:
            assert self.batch_api_class is not None, f"{type(self).__name__} has no Batch API"
            api = self.__dict__["_batch_api"] = self.batch_api_class(self)
        return api

    def api_key(self, request: web.Request) -> str | web.Response:
        raise NotImplementedError  # each provider reads and refuses keys its own way

    def model_object(self, name: str) -> dict[str, Any]:
        raise NotImplementedError  # each provider's model object

    def answer_headers(self) -> dict[str, str]:
        """The headers every answer of this provider carries (request ids and the like)."""
        return {}

    async def retrieve_model(self, request: web.Request) -> web.StreamResponse:
        key = self.api_key(request)
        if isinstance(key, web.Response):
            return key
        name = request.match_info["model"]
        if name not in self.models:
            return self.unknown_model(name)
        return self.json(200, self.model_object(name), self.answer_headers())
