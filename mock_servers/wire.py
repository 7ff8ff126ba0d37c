"""Wire details every provider shares: compressed large bodies, JSON errors in the provider's
own format where aiohttp would answer in plain text (413 past the body limit, 405), CORS
preflights, and the providers' extra headers.

OpenAI and Anthropic (behind Cloudflare) compress large bodies when the client accepts it
(``Accept-Encoding: gzip``); small ones (a typical chat answer) go uncompressed, which keeps
the hot path cheap. Keepa compresses everything itself (see the Keepa provider). SP-API and
REST partner profiles are sent as they are: their ``response_bytes`` are wire sizes.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

COMPRESS_FROM = 1024  # bytes; below this the real APIs' edges send bodies as they are
COMPRESSING_KINDS = ("openai", "anthropic")
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": "*", "Access-Control-Max-Age": "86400"}
_MESSAGES = {405: "Method not allowed.", 413: "Request exceeds the maximum allowed number of bytes."}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_middleware(providers: dict) -> Callable:
    """The wire middleware for ``providers`` (name -> Provider)."""

    def compresses(path: str) -> bool:
        provider = provider_for(path)
        return provider is not None and provider.profile.kind in COMPRESSING_KINDS

    def provider_for(path: str):
        for p in providers.values():
            mount = p.profile.mount
            if path == mount or path.startswith(mount + "/"):
                return p
        return None

    @web.middleware
    async def wire(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=CORS)
        try:
            resp = await handler(request)
        except web.HTTPException as exc:
            provider = provider_for(request.path)
            if provider is None or exc.status not in _MESSAGES:
                raise
            kind = "too_large" if exc.status == 413 else "method"
            resp = provider.error(exc.status, kind, _MESSAGES[exc.status])
        body = getattr(resp, "body", None)
        if body is not None and len(body) >= COMPRESS_FROM and not resp.prepared \
                and "gzip" in request.headers.get("Accept-Encoding", "") and "Content-Encoding" not in resp.headers \
                and compresses(request.path):
            resp.enable_compression()
        return resp

    return wire
