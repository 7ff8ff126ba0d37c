"""A running mock server as a test sees it: base URLs, admin actions, and what it received."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from harness.pytest_plugin import _api

# Where each provider kind's official SDK expects its base URL, below the mock's mount.
_SDK_SUFFIX = {"openai": "/v1"}


@dataclass(frozen=True)
class Received:
    """Requests a mock answered, per ``(provider, endpoint)``: all, 2xx, 429s, 5xx (529 included)."""

    requests: int
    ok: int
    rate_limited: int
    server_errors: int


class MockServer:
    """The real mock (``python -m mock_servers``) on a free loopback port.

    ``url(provider)`` is the base URL the harness runner and Locust take (``.../openai``),
    ``base_url(provider)`` the one the provider's official SDK takes (``.../openai/v1``).
    """

    def __init__(self, providers: Sequence[str] = ("openai",), *, time_scale: float = 1.0,
                 sets: Mapping[str, Any] | Sequence[str] = (), profiles: Sequence[str] = (),
                 seed: int | None = None) -> None:
        self.providers = tuple(providers)
        self.time_scale = float(time_scale)
        if isinstance(sets, Mapping):
            sets = [f"{k}={json.dumps(v)}" for k, v in sets.items()]
        self._proc = _api.start_mock(self.providers, time_scale=self.time_scale, sets=list(sets),
                                     profiles=[str(p) for p in profiles], seed=seed)
        self.root = self._proc.base_url
        self._profiles = self._get("/admin/profiles")

    # -- addresses --------------------------------------------------------------------------
    def url(self, provider: str) -> str:
        """The provider's mount on the mock (what a scenario's ``mock_url`` or Locust's ``--host`` takes)."""
        return self.root + (self.profile(provider).get("prefix") or f"/{provider}")

    def base_url(self, provider: str) -> str:
        """The base URL to give the provider's official SDK (``openai.OpenAI(base_url=...)``)."""
        return self.url(provider) + _SDK_SUFFIX.get(self.profile(provider)["kind"], "")

    def profile(self, provider: str) -> dict[str, Any]:
        """The provider's profile as the mock serves it now."""
        if provider not in self._profiles:
            raise KeyError(f"the mock serves {', '.join(self._profiles)}, not {provider!r}")
        return self._profiles[provider]

    # -- admin --------------------------------------------------------------------------------
    def update(self, provider: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change the running provider's profile: dotted fields, e.g. ``{"faults.error_500": 0.05,
        "limits.requests_per_minute": 60}``. Returns the new profile."""
        new = self._send("PATCH", f"/admin/profiles/{provider}", dict(changes))
        self._profiles[provider] = new
        return new

    def faults(self, provider: str, **probabilities: float) -> dict[str, Any]:
        """Set fault probabilities (``error_500=0.05, error_503=0.02, hang=0, ...``)."""
        return self.update(provider, {f"faults.{k}": v for k, v in probabilities.items()})

    def limits(self, provider: str, **limits: float | None) -> dict[str, Any]:
        """Set rate limits (``requests_per_minute=60, tokens_per_minute=None, ...``)."""
        return self.update(provider, {f"limits.{k}": v for k, v in limits.items()})

    def refill(self) -> None:
        """Refill every bucket, as if the server had just started."""
        self._send("POST", "/admin/reset", None)

    # -- what it received -------------------------------------------------------------------
    def metrics(self) -> list[tuple[str, dict[str, str], float]]:
        """Every sample of the mock's ``/metrics`` as ``(name, labels, value)``."""
        from prometheus_client.parser import text_string_to_metric_families

        with urllib.request.urlopen(self.root + "/metrics", timeout=10) as resp:
            text = resp.read().decode()
        return [(s.name, dict(s.labels), s.value) for fam in text_string_to_metric_families(text) for s in fam.samples]

    def received(self, provider: str | None = None) -> dict[tuple[str, str], Received]:
        """Requests answered so far per ``(provider, endpoint)``, with their 429s and 5xx."""
        counts: dict[tuple[str, str], list[int]] = {}
        for name, labels, value in self.metrics():
            if name != "mock_requests_total" or (provider and labels.get("provider") != provider):
                continue
            c = counts.setdefault((labels["provider"], labels["endpoint"]), [0, 0, 0, 0])
            c[0] += int(value)
            status = labels.get("status", "")
            if status[:1] == "2":
                c[1] += int(value)
            elif status == "429":
                c[2] += int(value)
            elif status[:1] == "5":
                c[3] += int(value)
        return {k: Received(*v) for k, v in counts.items()}

    def total(self, provider: str | None = None) -> Received:
        """All endpoints of ``provider`` (or of every provider) added up."""
        got = self.received(provider).values()
        return Received(sum(r.requests for r in got), sum(r.ok for r in got), sum(r.rate_limited for r in got),
                        sum(r.server_errors for r in got))

    def log(self) -> str:
        """What the server printed (its start-up lines, errors)."""
        return self._proc.log()

    def stop(self) -> None:
        self._proc.stop()

    def __enter__(self) -> "MockServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"MockServer({', '.join(self.providers)} at {self.root}, time_scale={self.time_scale:g})"

    # -- http ----------------------------------------------------------------------------------
    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.root + path, timeout=10) as resp:
            return json.loads(resp.read())

    def _send(self, method: str, path: str, body: Any) -> Any:
        data = json.dumps(body).encode() if body is not None else b""
        req = urllib.request.Request(self.root + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise ValueError(f"{method} {path} refused by the mock ({exc.code}): {exc.read().decode()[:500]}") from None
