"""What a real front end does before a request reaches the API, so the mock survives abuse.

- a body larger than the real API takes on its path (the provider rules' ``request_size_limit``:
  Anthropic's 32 MB for Messages, 256 MB for Message Batches, OpenAI's 512 MB) is refused from its
  ``Content-Length`` before a byte of it is read, with the real edge's 413;
- a body larger than ``max_body_bytes`` (the mock's own cap) is refused the same way, in the
  provider's JSON error format; in both cases the connection is not kept;
- a connection that has not sent a complete request head within ``header_timeout`` seconds
  is closed (slowloris); an idle keep-alive connection is closed after ``idle_timeout``
  (aiohttp's ``keepalive_timeout``, and the sweeper's for the front's own connections);
- ``/admin`` answers only with the admin token, when one is set.

aiohttp has no header-read timeout of its own, so a sweeper looks at every open connection
once a second; the state it reads (requests served, request in progress, parsed messages
waiting) is the server's own, there is no per-request cost.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import orjson
from aiohttp import web

__all__ = ["BodyLimits", "Guards", "beyond_loopback"]

ADMIN_TOKEN_HEADER = "X-Admin-Token"


@dataclass(frozen=True)
class Guards:
    """The mock's front-end limits (the defaults are those of common front ends)."""

    max_body_bytes: int = 64 * 1024**2
    header_timeout: float = 20.0
    idle_timeout: float = 75.0
    admin_token: str | None = None

    def middleware(self, provider_for: Callable[[web.Request], Any], limits: "BodyLimits | None" = None):
        """Size checks and admin token, before routing reads anything. A body below ``limits.floor``
        (nearly every request) costs one comparison; only a larger one looks up its provider."""
        limits = limits if limits is not None else BodyLimits(self.max_body_bytes, {})
        token = self.admin_token

        @web.middleware
        async def guard(request: web.Request, handler) -> web.StreamResponse:
            size = request.content_length
            if size is not None and size > limits.floor:
                refused = limits.refusal(request, provider_for(request), size)
                if refused is not None:
                    return refused
            if token is not None and request.path.startswith("/admin"):
                given = request.headers.get(ADMIN_TOKEN_HEADER) or _bearer(request.headers.get("Authorization"))
                if given is None or not hmac.compare_digest(given.encode(), token.encode()):
                    return web.Response(status=401, content_type="application/json", body=orjson.dumps(
                        {"error": f"the admin API needs the admin token ({ADMIN_TOKEN_HEADER}: TOKEN or "
                                  "Authorization: Bearer TOKEN)"}))
            return await handler(request)

        return guard

    async def sweep(self, server: web.Server, interval: float | None = None, front: Any = None) -> None:
        """Close connections that sent no complete request head within ``header_timeout``; the
        front's own connections (mock_servers/front.py) also when idle past ``idle_timeout``."""
        interval = interval or max(0.05, min(1.0, self.header_timeout / 4))
        first_seen: dict[Any, float] = {}
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for conn in list(front.connections) if front is not None else ():
                if conn.awaiting_first_head:
                    if now - conn.opened_at > self.header_timeout:
                        conn.close()
                elif conn.waiting and now - conn.idle_since > self.idle_timeout:
                    conn.close()
            live = server.connections
            for handler in live:
                since = first_seen.setdefault(handler, now)
                if _awaiting_first_head(handler) and now - since > self.header_timeout:
                    handler.force_close()
            if len(first_seen) > len(live):
                alive = set(live)
                for handler in [h for h in first_seen if h not in alive]:
                    del first_seen[handler]


class BodyLimits:
    """The request-size limits of the providers being served, and the smallest of them (with the
    mock's own ``ceiling``) as ``floor``: the one number every request is compared with.

    :meth:`refresh` recomputes the floor; the admin API calls it after changing a profile.
    """

    def __init__(self, ceiling: int, providers: Mapping[str, Any]) -> None:
        self.ceiling = ceiling
        self.providers = providers
        self.floor = ceiling
        self.refresh()

    def refresh(self) -> None:
        lows = [p.rules.smallest_request_size_limit(p.profile) for p in self.providers.values()]
        self.floor = min([self.ceiling, *(v for v in lows if v is not None)])

    def refusal(self, request: web.Request, provider: Any, size: int) -> web.StreamResponse | None:
        """The 413 for a body of ``size`` bytes, or None when it is within every limit."""
        if provider is not None:
            mount = provider.profile.mount.rstrip("/")
            limit = provider.rules.request_size_limit(provider.profile, request.path[len(mount):] or "/")
            if limit is not None and size > limit:
                resp = provider.request_too_large(size, limit)
                resp.force_close()  # the unread body is discarded by the server's lingering close
                return resp
        if size > self.ceiling:
            return _too_large(request, provider, size, self.ceiling)
        return None


def _awaiting_first_head(handler: Any) -> bool:
    """Connected, and no request head complete yet (a later one is the idle timeout's)."""
    return (getattr(handler, "_request_count", 1) == 0 and not getattr(handler, "_request_in_progress", True)
            and not getattr(handler, "_messages", True))


def _bearer(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None


def _too_large(request: web.Request, provider: Any, size: int, limit: int) -> web.StreamResponse:
    message = f"Request body of {size} bytes is larger than the {limit} bytes this server takes."
    if provider is not None:
        resp = provider.error(413, "request_too_large", message)
    else:
        resp = web.Response(status=413, content_type="application/json",
                            body=orjson.dumps({"error": {"message": message, "type": "request_too_large"}}))
    resp.force_close()  # the unread body is discarded by the server's lingering close, never kept
    return resp


def beyond_loopback(host: str) -> bool:
    """Whether listening on ``host`` is reachable from other machines."""
    if host in ("localhost", "ip6-localhost"):
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return True  # a host name: it may resolve to anything
