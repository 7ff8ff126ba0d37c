"""HTTP transports: how the runner sends a request and gets status, headers and body.

The default is ``fast`` (:mod:`harness.fasthttp`, HTTP/1.1 on asyncio Protocols and the llhttp
parser): measured here, httpx's default transport serves 260-820 requests/s on one core under
concurrency against aiohttp's ~7,000, the runner's bar is 5,000/s, and aiohttp's client costs
~3x the CPU per request of ``fast`` (see that module). ``AiohttpTransport`` (``--transport
aiohttp``) remains for what ``fast`` leaves out (redirects, proxies, cookies, brotli);
``HttpxTransport`` for users who need httpx (proxies, respx in tests).
A request that gets no HTTP answer raises :class:`TransportError` with the outcome label.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Mapping, Protocol

from .errors import TransportError


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    async def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None,
                      timeout: float) -> HttpResponse: ...

    async def close(self) -> None: ...


class AiohttpTransport:
    """aiohttp's client with an unbounded pool (the runner bounds concurrency itself)."""

    def __init__(self) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}  # one object per value, not per request

    def _get(self):
        if self._session is None:
            aiohttp = self._aiohttp
            from . import __version__

            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
            # Our own User-Agent as a default header rather than skip_auto_headers=("User-Agent",),
            # which costs a sorted CIMultiDict per request; no cookie jar (API clients need none,
            # and the default jar filters cookies on every request).
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True,
                                                  headers={"User-Agent": f"ratelimit-harness/{__version__}"},
                                                  cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None,
                      timeout: float) -> HttpResponse:
        aiohttp = self._aiohttp
        session = self._session or self._get()
        client_timeout = self._timeouts.get(timeout)
        if client_timeout is None:
            client_timeout = self._timeouts[timeout] = aiohttp.ClientTimeout(total=timeout)
        try:
            async with session.request(method, url, headers=headers, data=body, timeout=client_timeout) as resp:
                data = await resp.read()
                return HttpResponse(resp.status, resp.headers, data)
        except asyncio.TimeoutError:
            raise TransportError("timeout", f"no answer within {timeout:g}s") from None
        except aiohttp.ClientPayloadError as exc:
            raise TransportError("connection_error", f"response cut off: {_short(exc)}") from None
        except aiohttp.ClientConnectorError as exc:
            raise TransportError("connection_error", f"cannot connect: {_short(exc)}") from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, ConnectionError) as exc:
            raise TransportError("connection_error", f"connection lost: {_short(exc)}") from None
        except aiohttp.ClientError as exc:
            raise TransportError("connection_error", _short(exc)) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpxTransport:
    """httpx's AsyncClient, for proxies and respx-based tests; slower under concurrency."""

    def __init__(self, client=None) -> None:
        import httpx

        self._httpx = httpx
        self._client = client or httpx.AsyncClient(limits=httpx.Limits(max_connections=None,
                                                                         max_keepalive_connections=None))

    async def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None,
                      timeout: float) -> HttpResponse:
        httpx = self._httpx
        try:
            resp = await self._client.request(method, url, headers=dict(headers), content=body, timeout=timeout)
        except httpx.TimeoutException:
            raise TransportError("timeout", f"no answer within {timeout:g}s") from None
        except httpx.TransportError as exc:
            raise TransportError("connection_error", _short(exc)) from None
        return HttpResponse(resp.status_code, resp.headers, resp.content)

    async def close(self) -> None:
        await self._client.aclose()


def make_transport(name: str = "aiohttp") -> Transport:
    if name == "aiohttp":
        return AiohttpTransport()
    if name == "httpx":
        return HttpxTransport()
    if name == "fast":
        from .fasthttp import FastTransport

        return FastTransport()
    raise ValueError(f"unknown transport {name!r} (fast, aiohttp or httpx)")


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
