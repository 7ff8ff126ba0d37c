"""httpx's AsyncClient as a transport (``--transport httpx``): proxies, respx in tests."""

from __future__ import annotations

from typing import Mapping

from harness.errors import TransportError
from harness.runner.transports.base import HttpResponse, short_error as _short


class HttpxTransport:
    """httpx's AsyncClient, for proxies and respx-based tests; slower under concurrency."""

    def __init__(self, client=None) -> None:
        import httpx

        self._httpx = httpx
        # follow_redirects=False (httpx's default, said here): a 3xx is the outcome, and no
        # credential goes to another origin
        self._client = client or httpx.AsyncClient(limits=httpx.Limits(max_connections=None,
                                                                         max_keepalive_connections=None),
                                                   follow_redirects=False)

    async def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None,
                      timeout: float) -> HttpResponse:
        httpx = self._httpx
        try:
            resp = await self._client.request(method, url, headers=dict(headers), content=body, timeout=timeout,
                                              follow_redirects=False)
        except httpx.TimeoutException:
            raise TransportError("timeout", f"no answer within {timeout:g}s") from None
        except httpx.TransportError as exc:
            raise TransportError("connection_error", _short(exc)) from None
        return HttpResponse(resp.status_code, resp.headers, resp.content)

    async def close(self) -> None:
        await self._client.aclose()
