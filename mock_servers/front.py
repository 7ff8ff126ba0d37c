"""The mock's HTTP front: the hot routes answered without aiohttp's server machinery.

aiohttp's request handler, router, request and response objects cost more CPU per request than
the mock's own work (a non-streaming chat completion spends about 60% of its time in them), so
the routes a provider marks ``fast`` (exact path, a complete body in, a complete JSON answer
out) are parsed with httptools, handed to the same handler and middlewares as aiohttp would
call, and their ``web.Response`` written here. Everything else (streams, uploads, path
variables, chunked or oversized bodies, ``Expect``, upgrades, malformed requests) moves the
connection, unread bytes and all, to aiohttp's own protocol on the same socket, which then
serves it to the end. Written by hand because no HTTP library lets a request pick its server
half way through a connection.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import zlib
from typing import Any, Awaitable, Callable, Mapping

import httptools
import orjson
from aiohttp import web
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http import SERVER_SOFTWARE
from aiohttp.http_writer import _serialize_headers  # aiohttp's own (C) head writer, as prepare() uses
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy
from yarl import URL

__all__ = ["FastRequest", "FastRoutes", "Front", "FrontProtocol"]

log = logging.getLogger("mock_servers.front")

Handler = Callable[[Any], Awaitable[web.StreamResponse]]

MAX_HEAD = 64 * 1024         # a head longer than this goes to aiohttp, which refuses it its own way
MAX_BUFFERED = 1024 * 1024   # bytes read ahead of the request being served before reading pauses
_NO_QUERY: MultiDictProxy[str] = MultiDictProxy(MultiDict())  # read-only, so one serves every request
_NO_BODY_STATUS = frozenset((204, 304))
_HANDOVER_HEADERS = (b"transfer-encoding", b"expect", b"upgrade")


class FastRequest:
    """What the fast routes' handlers read of an aiohttp request (same names, same meaning)."""

    __slots__ = ("method", "path", "headers", "version", "keep_alive", "transport", "app", "_body", "_query",
                 "_query_string", "_state")

    match_info: Mapping[str, str] = {}

    def __init__(self, method: str, path: str, query_string: str, headers: CIMultiDictProxy[str],
                 body: bytes, version: tuple[int, int], keep_alive: bool, transport: asyncio.Transport,
                 app: web.Application) -> None:
        self.method = method
        self.path = path
        self._query_string = query_string
        self.headers = headers
        self._body = body
        self.version = version
        self.keep_alive = keep_alive
        self.transport = transport
        self.app = app
        self._query: MultiDictProxy[str] | None = None
        self._state: dict[str, Any] | None = None

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        return int(value) if value is not None else None

    @property
    def can_read_body(self) -> bool:
        return bool(self._body)

    body_exists = can_read_body

    @property
    def content_type(self) -> str:
        raw = self.headers.get("Content-Type")
        if not raw:
            return "application/octet-stream"
        return raw.split(";", 1)[0].strip().lower()

    @property
    def query(self) -> MultiDictProxy[str]:
        if self._query is None:
            self._query = URL.build(query=self._query_string).query if self._query_string else _NO_QUERY
        return self._query

    @property
    def query_string(self) -> str:
        return self._query_string

    @property
    def rel_url(self) -> URL:
        return URL.build(path=self.path, query_string=self._query_string, encoded=True)

    @property
    def url(self) -> URL:
        host = self.headers.get("Host") or "127.0.0.1"
        return URL.build(scheme="http", authority=host, path=self.path, query_string=self._query_string,
                         encoded=True)

    @property
    def host(self) -> str:
        return self.headers.get("Host") or "127.0.0.1"

    @property
    def remote(self) -> str | None:
        peer = self.transport.get_extra_info("peername")
        return str(peer[0]) if isinstance(peer, (list, tuple)) and peer else None

    async def read(self) -> bytes:
        return self._body

    async def text(self) -> str:
        return self._body.decode("utf-8")

    async def json(self, *, loads: Callable[[str], Any] | None = None) -> Any:
        return orjson.loads(self._body) if loads is None else loads(self._body.decode("utf-8"))

    def __getitem__(self, key: str) -> Any:  # aiohttp requests are mappings for per-request state
        if self._state is None:
            raise KeyError(key)
        return self._state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if self._state is None:
            self._state = {}
        self._state[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        return default if self._state is None else self._state.get(key, default)


class FastRoutes:
    """The fast routes of one app: ``(method, path) -> handler`` with the app's middlewares
    wrapped around each, in aiohttp's order (the first middleware outermost)."""

    def __init__(self, middlewares: list[Callable[..., Awaitable[web.StreamResponse]]]) -> None:
        self.middlewares = list(middlewares)
        self.table: dict[tuple[str, str], Handler] = {}
        self.served = 0       # requests the front answered itself
        self.handed_over = 0  # connections it moved to aiohttp (both shown by /healthz)

    def add(self, method: str, path: str, handler: Handler) -> None:
        chained = handler
        for mw in reversed(self.middlewares):
            chained = _wrap(mw, chained)
        self.table[(method, path)] = chained

    def get(self, method: str, path: str) -> Handler | None:
        return self.table.get((method, path))


def _wrap(mw: Callable[..., Awaitable[web.StreamResponse]], inner: Handler) -> Handler:
    return lambda request: mw(request, inner)  # the middleware's own coroutine, no extra frame


class Front:
    """What every connection of one server shares: the app, its fast routes, aiohttp's protocol
    factory for hand-overs, the body-size floor past which aiohttp takes the request, and the
    open fast connections (for the guards' sweeper and for shutdown)."""

    def __init__(self, app: web.Application, routes: FastRoutes, aiohttp_server: web.Server,
                 body_floor: Callable[[], int]) -> None:
        self.app = app
        self.routes = routes
        self.aiohttp_server = aiohttp_server
        self.body_floor = body_floor
        self.connections: set[FrontProtocol] = set()

    def protocol(self) -> "FrontProtocol":
        return FrontProtocol(self)

    def close_all(self) -> None:
        for conn in list(self.connections):
            conn.close()


class FrontProtocol(asyncio.Protocol):
    """One connection: requests are taken whole and in order from ``_buffer``; a request being
    served holds the rest until its answer is written (HTTP/1.1 answers go in request order)."""

    def __init__(self, front: Front) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._busy = False
        self._paused = False
        self._body_due = False  # a complete head is in, its body still coming
        self.requests = 0
        self.opened_at = time.monotonic()
        self.idle_since = self.opened_at
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_done = False

    # -- httptools callbacks ---------------------------------------------------------------
    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._head_done = True

    # -- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.front.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.front.connections.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._busy:
            self._next()
        elif len(self._buffer) > MAX_BUFFERED and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        if not self._busy:
            self.close()
        return None

    # -- the work -------------------------------------------------------------------------
    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    @property
    def awaiting_first_head(self) -> bool:
        """Connected, and no complete request head yet (the slowloris case)."""
        return self.requests == 0 and not self._busy and not self._body_due

    @property
    def waiting(self) -> bool:
        """Between requests (a partial next head counts: it has ``idle_timeout`` to complete)."""
        return not self._busy and not self._body_due

    def _next(self) -> None:
        """Take the next complete request off the buffer and serve it, or hand the connection
        over, or wait for more bytes."""
        buf = self._buffer
        if not buf or self.transport is None:
            return
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                self._hand_over()
            return
        head_len = end + 4
        self._url = b""
        self._headers = []
        self._head_done = False
        parser = httptools.HttpRequestParser(self)
        try:
            parser.feed_data(bytes(buf[:head_len]))
        except httptools.HttpParserError:
            self._hand_over()  # aiohttp answers a malformed request its own way
            return
        if not self._head_done:
            self._hand_over()
            return
        method = parser.get_method().decode("ascii")
        target = self._url
        if target[:1] != b"/" or b"%" in target:
            self._hand_over()
            return
        raw_path, _, raw_query = target.partition(b"?")
        path = raw_path.decode("ascii", "surrogateescape")
        handler = self.front.routes.get(method, path)
        if handler is None:
            self._hand_over()
            return
        length = 0
        seen_length = False
        for name, value in self._headers:
            lname = name.lower()
            if lname == b"content-length":
                if seen_length or not value.strip().isdigit():
                    self._hand_over()
                    return
                seen_length = True
                length = int(value)
            elif lname in _HANDOVER_HEADERS:
                self._hand_over()
                return
        if length > self.front.body_floor():
            self._hand_over()  # the guards' 413, from aiohttp, before the body is read
            return
        total = head_len + length
        if len(buf) < total:
            self._body_due = True  # the rest of the body is still coming
            return
        self._body_due = False
        body = bytes(buf[head_len:total])
        if b'"stream"' in body:
            self._hand_over()  # may ask for a stream: aiohttp writes those
            return
        del buf[:total]
        headers = CIMultiDictProxy(CIMultiDict([  # decoded as aiohttp's parser decodes them
            (n.decode("utf-8", "surrogateescape"), v.decode("utf-8", "surrogateescape")) for n, v in self._headers]))
        version = parser.get_http_version()
        request = FastRequest(method, path, raw_query.decode("ascii", "surrogateescape"), headers, body,
                              (1, 1) if version == "1.1" else (1, 0), parser.should_keep_alive(),
                              self.transport, self.front.app)
        self._busy = True
        self.requests += 1
        self.front.routes.served += 1
        asyncio.get_running_loop().create_task(self._serve(request, handler))

    async def _serve(self, request: FastRequest, handler: Handler) -> None:
        try:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = exc
            keep = self._write(request, response)
        except Exception:  # noqa: BLE001 - the errors middleware answers the handlers' own errors
            log.exception("mock front error on %s %s", request.method, request.path)
            keep = False
            if self.transport is not None:
                self.transport.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                                     b"Connection: close\r\n\r\n")
        self._busy = False
        self.idle_since = time.monotonic()
        if not keep:
            self.close()
            return
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        if self._buffer:
            self._next()

    def _write(self, request: FastRequest, response: web.StreamResponse) -> bool:
        """Send ``response`` as aiohttp's ``prepare`` would; whether the connection stays open."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        if not isinstance(response, web.Response) or response.prepared:
            raise TypeError(f"a fast route must answer a complete web.Response, not {type(response).__name__}")
        body = response.body
        if body is None:
            body = b""
        elif not isinstance(body, (bytes, bytearray)):
            raise TypeError(f"a fast route's body must be bytes, not {type(body).__name__}")
        headers = response.headers
        status = response.status
        if response.compression and body:
            body = _compress(body, response, request)
        keep = response.keep_alive if response.keep_alive is not None else request.keep_alive
        headers.popall("Transfer-Encoding", None)
        if status in _NO_BODY_STATUS or status < 200:
            body = b""
            headers.popall("Content-Length", None)
        else:
            headers["Content-Length"] = str(len(body))
            if body and "Content-Type" not in headers:
                headers["Content-Type"] = "application/octet-stream"
        if "Date" not in headers:
            headers["Date"] = rfc822_formatted_time()
        if "Server" not in headers:
            headers["Server"] = SERVER_SOFTWARE
        if "Connection" not in headers:
            if keep and request.version == (1, 0):
                headers["Connection"] = "keep-alive"
            elif not keep and request.version == (1, 1):
                headers["Connection"] = "close"
        version = "HTTP/1.1" if request.version == (1, 1) else "HTTP/1.0"
        transport.write(_serialize_headers(f"{version} {status} {response.reason}", headers) + body)
        return bool(keep)

    def _hand_over(self) -> None:
        """Give this connection, and the bytes not yet served, to aiohttp's protocol."""
        transport = self.transport
        if transport is None:
            return
        self.front.connections.discard(self)
        self.front.routes.handed_over += 1
        self.transport = None
        data = bytes(self._buffer)
        self._buffer.clear()
        handler = self.front.aiohttp_server()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if self._paused:
            self._paused = False
            transport.resume_reading()
        if data:
            handler.data_received(data)


def _compress(body: bytes, response: web.Response, request: FastRequest) -> bytes:
    """aiohttp's choice of coding (the forced one, else the first of deflate, gzip that the
    client accepts) and its whole-body compression."""
    force = response._compression_force  # noqa: SLF001 - set by enable_compression
    coding = force.value if force is not None else None
    if coding is None:
        accepted = request.headers.get("Accept-Encoding", "").lower()
        coding = next((c for c in ("deflate", "gzip") if c in accepted), "identity")
    if coding == "identity":
        return body
    compressor = zlib.compressobj(wbits=31 if coding == "gzip" else zlib.MAX_WBITS)
    out = compressor.compress(body) + compressor.flush()
    response.headers["Content-Encoding"] = coding
    return out
