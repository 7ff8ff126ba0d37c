"""The mock server application: every chosen provider under its own path prefix.

``/openai/v1/...``, ``/anthropic/v1/...``, ``/spapi/...`` and so on, plus ``/metrics``,
``/healthz`` and ``/admin`` (read and change a provider's profile while running, e.g. to switch
faults on in the middle of a test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .errors import ProfileError
from .front import FastRoutes
from .guards import BodyLimits, Guards
from .overrides import apply_override, parse_assignment
from .profile import Profile, load_profile_data, shipped_profiles, validate_profile
from .providers import PROVIDER_CLASSES
from .providers.base import ConnectionResetByMock, MockContext, Provider
from .wire import make_middleware

PROVIDERS_KEY = web.AppKey("providers", dict)
BODY_LIMITS_KEY = web.AppKey("body_limits", BodyLimits)
CONTEXT_KEY = web.AppKey("context", MockContext)
FAST_ROUTES_KEY = web.AppKey("fast_routes", FastRoutes)

DEFAULT_PROVIDERS = ("openai", "anthropic", "cardgenius", "spapi", "keepa", "drive", "research", "email")


def load_profiles(
    providers: Iterable[str] | None = None,
    profile_files: Iterable[Path] = (),
    overrides: Iterable[str] = (),
) -> dict[str, Profile]:
    """The shipped profiles named in ``providers`` plus the user's files, with ``--set``s applied.

    A user file whose ``name`` matches a shipped profile replaces it.
    """
    shipped = shipped_profiles()
    data: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    files: dict[str, tuple[dict[str, Any], str]] = {}
    for path in profile_files:
        raw = load_profile_data(Path(path))
        name = raw.get("name")
        if not isinstance(name, str):
            raise ProfileError(f"{path}: a profile needs a 'name' (lower-case letters, digits, - or _)")
        files[name] = (raw, str(path))
    wanted = list(providers) if providers else ([] if profile_files else list(DEFAULT_PROVIDERS))
    for name in wanted:
        if name in files:  # a given profile's name is a provider like a shipped one
            continue
        if name not in shipped:
            raise ProfileError(
                f"unknown provider {name!r}; shipped profiles: {', '.join(shipped)}"
                + (f"; your profiles: {', '.join(files)}" if files else " (or give --profile FILE)")
            )
        data[name] = load_profile_data(shipped[name])
        sources[name] = str(shipped[name])
    for name, (raw, source) in files.items():
        data[name] = raw
        sources[name] = source
    for text in overrides:
        provider, field, value = parse_assignment(text)
        if provider not in data:
            raise ProfileError(f"--set {text!r}: no provider {provider!r} is being served ({', '.join(data)})")
        apply_override(data[provider], field, value)
    profiles = {name: validate_profile(d, sources[name]) for name, d in data.items()}
    mounts: dict[str, str] = {}
    for p in profiles.values():
        if p.mount in mounts:
            raise ProfileError(f"profiles {mounts[p.mount]!r} and {p.name!r} both mount at {p.mount}")
        mounts[p.mount] = p.name
    return profiles


def create_app(profiles: dict[str, Profile], ctx: MockContext | None = None,
               guards: Guards | None = None) -> web.Application:
    ctx = ctx if ctx is not None else MockContext()
    guards = guards or Guards()
    providers: dict[str, Provider] = {}
    by_mount: list[tuple[str, Provider]] = []

    def provider_for(request: web.Request) -> Provider | None:
        path = request.path
        for mount, provider in by_mount:
            if path == mount or path.startswith(mount + "/"):
                return provider
        return None

    # the guard comes first: an oversized body is refused before anything reads it
    body_limits = BodyLimits(guards.max_body_bytes, providers)
    middlewares = [guards.middleware(provider_for, body_limits), _errors_middleware, make_middleware(providers)]
    app = web.Application(middlewares=middlewares, client_max_size=guards.max_body_bytes)
    # the guard has nothing to do on the front's routes: the front gives aiohttp every body
    # past the size floor, and no /admin route is fast
    fast = FastRoutes(middlewares[1:])
    for name, profile in profiles.items():
        provider = PROVIDER_CLASSES[profile.kind](profile, ctx)
        providers[name] = provider
        by_mount.append((profile.mount.rstrip("/"), provider))
        sub = web.Application(client_max_size=guards.max_body_bytes)
        routes = provider.routes()
        sub.add_routes(routes)
        for route in routes:
            if getattr(route.handler, "fast", False):
                fast.add(route.method, profile.mount.rstrip("/") + route.path, route.handler)
        sub.router.add_route("*", "/{tail:.*}", _not_found(provider, list(sub.router.resources())))
        app.add_subapp(profile.mount, sub)
    by_mount.sort(key=lambda mp: len(mp[0]), reverse=True)
    body_limits.refresh()
    app[BODY_LIMITS_KEY] = body_limits
    app[PROVIDERS_KEY] = providers
    app[CONTEXT_KEY] = ctx
    app[FAST_ROUTES_KEY] = fast
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/admin/profiles", _admin_list)
    app.router.add_get("/admin/profiles/{name}", _admin_get)
    app.router.add_patch("/admin/profiles/{name}", _admin_patch)
    app.router.add_post("/admin/reset", _admin_reset)
    return app


def _not_found(provider: Provider, resources: list[web.AbstractResource]):
    """The catch-all: a path no route serves is 404; a path served for other methods is the
    provider's wrong-method answer (405 with ``Allow`` unless the real API says otherwise).
    ``resources`` are the provider's own routes, so only misses pay for the lookup."""

    async def handler(request: web.Request) -> web.StreamResponse:
        # the path as the client's base URL sees it, without the mock's provider prefix
        path = "/" + request.match_info.get("tail", "")
        allowed: set[str] = set()
        for resource in resources:
            match, methods = await resource.resolve(request)
            if match is None:
                allowed |= methods
        if allowed:
            return provider.method_not_allowed(request.method, path, sorted(allowed))
        return provider.error(404, "not_found", f"Invalid URL ({request.method} {path})")

    return handler


@web.middleware
async def _errors_middleware(request: web.Request, handler) -> web.StreamResponse:
    """No traceback ever reaches a client: a bug in the mock is a JSON 500 naming itself."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except ConnectionResetByMock:
        return web.Response(status=499)  # never sent: the transport is already gone
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        request.app.logger.exception("mock server error on %s %s", request.method, request.path)
        body = {"error": {"message": f"mock server internal error: {type(exc).__name__}", "type": "mock_error"}}
        return web.Response(status=500, body=orjson.dumps(body), content_type="application/json")


async def _healthz(request: web.Request) -> web.Response:
    providers = request.app[PROVIDERS_KEY]
    fast = request.app[FAST_ROUTES_KEY]
    body = {"status": "ok", "providers": {n: p.profile.mount for n, p in providers.items()},
            "time_scale": request.app[CONTEXT_KEY].time_scale.factor,
            "front": {"served": fast.served, "handed_over": fast.handed_over}}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def _metrics(request: web.Request) -> web.Response:
    data = generate_latest(request.app[CONTEXT_KEY].metrics.registry)
    return web.Response(body=data, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _admin_list(request: web.Request) -> web.Response:
    providers = request.app[PROVIDERS_KEY]
    body = {n: p.profile.model_dump(mode="json") for n, p in providers.items()}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _provider(request: web.Request) -> Provider:
    name = request.match_info["name"]
    providers = request.app[PROVIDERS_KEY]
    if name not in providers:
        raise web.HTTPNotFound(
            text=orjson.dumps({"error": f"no provider {name!r}; serving {', '.join(providers)}"}).decode(),
            content_type="application/json",
        )
    return providers[name]


async def _admin_get(request: web.Request) -> web.Response:
    provider = _provider(request)
    return web.Response(body=orjson.dumps(provider.profile.model_dump(mode="json")), content_type="application/json")


async def _admin_patch(request: web.Request) -> web.Response:
    """Change a running provider: a JSON object of dotted fields, e.g.
    ``{"faults.error_500": 0.02, "limits.requests_per_minute": 600}``."""
    provider = _provider(request)
    try:
        changes = orjson.loads(await request.read())
        if not isinstance(changes, dict):
            raise ValueError("expected a JSON object of dotted fields")
        data = provider.profile.model_dump(mode="json", exclude_unset=False)
        for field, value in changes.items():
            apply_override(data, str(field), value)
        profile = validate_profile(data, f"PATCH {request.path}")
        if profile.mount != provider.profile.mount:
            raise ProfileError("prefix cannot change while running")
    except (ValueError, ProfileError) as exc:
        return web.Response(status=400, body=orjson.dumps({"error": str(exc)}), content_type="application/json")
    provider.configure(profile)
    request.app[BODY_LIMITS_KEY].refresh()
    return web.Response(body=orjson.dumps(profile.model_dump(mode="json")), content_type="application/json")


async def _admin_reset(request: web.Request) -> web.Response:
    """Refill every bucket (as if the server had just started)."""
    for provider in request.app[PROVIDERS_KEY].values():
        provider.reset_limits()
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")
