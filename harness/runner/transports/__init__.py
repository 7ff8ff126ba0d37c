"""HTTP transports: how the runner sends a request and gets status, headers and body.

The default is ``fast`` (:mod:`harness.runner.transports.fast`), chosen by measurement (figures
in docs/transport.md). ``AiohttpTransport`` (``--transport aiohttp``) remains for what ``fast``
leaves out (proxies, cookies, brotli; no transport follows redirects); ``HttpxTransport`` for users who need httpx
(proxies, respx in tests). A request that gets no HTTP answer raises :class:`TransportError`
with the outcome label.
"""

from __future__ import annotations

from harness.runner.transports.base import HttpResponse, Transport

__all__ = ["HttpResponse", "Transport", "make_transport", "TRANSPORTS"]

TRANSPORTS = ("fast", "aiohttp", "httpx")


def make_transport(name: str = "aiohttp") -> Transport:
    if name == "aiohttp":
        from harness.runner.transports.aio import AiohttpTransport

        return AiohttpTransport()
    if name == "httpx":
        from harness.runner.transports.httpx_transport import HttpxTransport

        return HttpxTransport()
    if name == "fast":
        from harness.runner.transports.fast import FastTransport

        return FastTransport()
    raise ValueError(f"unknown transport {name!r} (fast, aiohttp or httpx)")
