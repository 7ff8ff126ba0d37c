"""aiohttp's client as a transport (``--transport aiohttp``): proxies, brotli. Redirects are not followed."""

from __future__ import annotations

import asyncio
from typing import Mapping

from harness.errors import TransportError
from harness.runner.transports.base import HttpResponse, short_error as _short


class AiohttpTransport:
    """aiohttp's client with an unbounded pool (the runner bounds concurrency itself)."""

    def __init__(self) -> None:
        import aiohttp

        import yarl

        self._aiohttp = aiohttp
        self._yarl = yarl.URL
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}  # one object per value, not per request

    def _get(self):
        if self._session is None:
            aiohttp = self._aiohttp
            from harness import __version__

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
            # never follow a redirect: a 3xx is the call's outcome (as in the fast transport),
            # so no credential is ever sent to another origin; the URL is sent as encoded
            # (no dot-segment folding of what the caller percent-encoded)
            async with session.request(method, self._yarl(url, encoded=True), headers=headers, data=body,
                                       timeout=client_timeout, allow_redirects=False) as resp:
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
