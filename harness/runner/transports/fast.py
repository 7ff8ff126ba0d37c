"""A lean HTTP/1.1 client transport for the runner: asyncio Protocols and the ``httptools`` parser.

Why by hand: aiohttp's client machinery (request/response objects, tracing hooks, connector,
stream reader, yarl, cookies, redirects) was most of the runner's CPU per request, and the
runner needs none of it: it sends a small request and reads a whole small answer. The
measurements, the full feature list and the reasoning behind each choice are in
docs/transport.md.

In short: a keep-alive pool per (scheme, host, port), reused LIFO and only within
``keepalive`` seconds; Content-Length, chunked and read-until-close bodies; gzip/deflate
decoded; TLS with certificates verified; one total timeout per request; a broken connection is
never reused; a stale pooled connection is retried once for idempotent methods only (a POST
surfaces as ``connection_error``, so the runner's counted retry resends it). Errors are
:class:`TransportError` with ``AiohttpTransport``'s labels. Unlike aiohttp: 3xx answers are
returned as they are, no proxies, cookies, brotli or HTTP/2 (use ``--transport aiohttp``).
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl as _ssl
import zlib
from typing import Mapping
from urllib.parse import quote

from httptools import HttpResponseParser
from multidict import CIMultiDict, CIMultiDictProxy

from harness.errors import TransportError
from harness.runner.transports.base import HttpResponse, short_error as _short

_BAD_TARGET = re.compile(r"[^\x21-\x7e]")  # a space, a control or a non-ASCII character: quote it
_SAFE = "/?&=%:@!$'()*+,;~[]-._#"
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))  # as aiohttp's

# request headers the transport writes itself unless given (bit flags of the ones given)
_UA, _ACCEPT, _AE = 1, 2, 4
_SPECIAL = {"user-agent": _UA, "accept": _ACCEPT, "accept-encoding": _AE,
            "host": 8, "content-length": 16, "transfer-encoding": 16, "connection": 32}


def _defaults(user_agent: str) -> list[str]:
    out = []
    for flags in range(8):
        s = ""
        if not flags & _UA:
            s += f"User-Agent: {user_agent}\r\n"
        if not flags & _ACCEPT:
            s += "Accept: */*\r\n"
        if not flags & _AE:
            s += "Accept-Encoding: gzip, deflate\r\n"
        out.append(s)
    return out


class _NoAnswer(Exception):
    """The connection ended before any byte of an answer: retried once if it was a pooled one."""


class _Site:
    """One (scheme, host, port): how to reach it and its idle connections."""

    __slots__ = ("scheme", "host", "port", "host_header", "ssl", "idle", "auth")

    def __init__(self, scheme: str, host: str, port: int, host_header: str, auth: str | None) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.host_header = host_header
        self.ssl = scheme == "https"
        self.idle: list[_Conn] = []
        self.auth = auth


class _Conn(asyncio.Protocol):
    """One HTTP/1.1 connection; at most one request on it at a time."""

    __slots__ = ("parser", "transport", "waiter", "closed", "head", "got", "status", "headers", "body",
                 "headers_done", "keep_alive", "timeout", "owner", "reset_parser", "idle_since")

    def __init__(self, owner: set) -> None:
        self.parser = HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self.head = False
        self.got = False
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.keep_alive = True
        self.timeout = 0.0
        self.owner = owner
        self.reset_parser = False
        self.idle_since = 0.0

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.owner.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (OSError, AttributeError):
                pass

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes on an idle connection: nothing can be trusted on it any more
            self.abort()
            return
        self.got = True
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # HttpParserError; HttpParserUpgrade (a 101: not supported)
            self._fail(TransportError("connection_error", f"invalid response: {_short(exc)}"))
            self.abort()
            return
        if self.reset_parser:  # after a HEAD answer, the parser still waits for its body
            self.reset_parser = False
            self.parser = HttpResponseParser(self)

    def eof_received(self):
        self.closed = True
        return False  # close; connection_lost decides what the EOF means

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.owner.discard(self)
        w = self.waiter
        if w is None or w.done():
            return
        if not self.got:
            self._fail(_NoAnswer(_short(exc) if exc else "server disconnected"))
        elif self.headers_done and self._until_eof():
            self._finish()
        elif self.headers_done:
            self._fail(TransportError("connection_error", "response cut off: "
                                      + (_short(exc) if exc else "connection closed before the end of the body")))
        else:
            self._fail(TransportError("connection_error", "connection lost: "
                                      + (_short(exc) if exc else "closed in the middle of the headers")))

    # -- httptools callbacks ---------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape")))

    def on_headers_complete(self) -> None:
        status = self.status = self.parser.get_status_code()
        if status < 200 and status != 101:
            return  # an interim answer (100, 103): its headers are dropped at its end
        self.headers_done = True
        if self.head and self.waiter is not None:
            self.keep_alive = self.parser.should_keep_alive()
            self.reset_parser = True
            self._finish()

    def on_body(self, body: bytes) -> None:
        if self.waiter is not None:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if not self.headers_done:  # the end of an interim answer; the real one follows
            self.headers = []
            return
        if self.waiter is None:  # a HEAD answer finished already
            return
        self.keep_alive = self.parser.should_keep_alive()
        self._finish()

    # -- helpers ----------------------------------------------------------------------------
    def _until_eof(self) -> bool:
        """The body of this answer is delimited by the end of the connection."""
        if self.head or self.status in (204, 304):
            return False
        for name, value in self.headers:
            n = name.lower()
            if n == "content-length" or (n == "transfer-encoding" and "chunked" in value.lower()):
                return False
        return True

    def _finish(self) -> None:
        w = self.waiter
        self.waiter = None
        body = self.body
        data = body[0] if len(body) == 1 else b"".join(body)
        w.set_result((self.status, self.headers, data))  # type: ignore[union-attr]

    def _fail(self, exc: BaseException) -> None:
        w = self.waiter
        self.waiter = None
        self.keep_alive = False
        if w is not None and not w.done():
            w.set_exception(exc)

    def on_timeout(self) -> None:
        if self.waiter is not None:
            self._fail(TransportError("timeout", f"no answer within {self.timeout:g}s"))
        self.abort()

    def abort(self) -> None:
        self.closed = True
        self.keep_alive = False
        tr = self.transport
        if tr is not None and not tr.is_closing():
            tr.abort()


class FastTransport:
    """HTTP/1.1 over asyncio Protocols with the llhttp parser; see the module docstring."""

    def __init__(self, user_agent: str | None = None, ssl_context: _ssl.SSLContext | None = None, *,
                 keepalive: float = 4.0, retry_all_methods: bool = False) -> None:
        """``ssl_context``: for https, instead of ``ssl.create_default_context()`` (tests, private CAs);
        ``keepalive``: seconds an idle connection may be reused; ``retry_all_methods``: resend POST
        and PATCH too when a pooled connection turns out closed (see the module docstring)."""
        self._keepalive = keepalive
        self._retry_all = retry_all_methods
        if user_agent is None:
            from harness import __version__

            user_agent = f"ratelimit-harness/{__version__}"
        self._defaults = _defaults(user_agent)
        self._sites: dict[str, _Site] = {}
        self._conns: set[_Conn] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ssl: _ssl.SSLContext | None = ssl_context

    # -- URL and request head ------------------------------------------------------------------
    def _site(self, url: str) -> tuple[_Site, str]:
        if url.startswith("http://"):
            start = 7
        elif url.startswith("https://"):
            start = 8
        else:
            raise ValueError(f"unsupported URL {url!r}: http:// or https:// only")
        end = len(url)
        for sep in "/?#":
            i = url.find(sep, start, end)
            if i != -1:
                end = i
        netloc = url[start:end]
        target = url[end:]
        if not target.startswith("/"):
            target = "/" + target
        if "#" in target:
            target = target[:target.index("#")] or "/"
        if _BAD_TARGET.search(target):
            target = quote(target, safe=_SAFE)
        site = self._sites.get(url[:end])
        if site is None:
            site = self._sites[url[:end]] = self._parse_netloc(url[:start - 3], netloc)
        return site, target

    @staticmethod
    def _parse_netloc(scheme: str, netloc: str) -> _Site:
        auth = None
        if "@" in netloc:
            import base64
            from urllib.parse import unquote

            userinfo, netloc = netloc.rsplit("@", 1)
            user, _, password = userinfo.partition(":")
            auth = "Basic " + base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        default = 443 if scheme == "https" else 80
        if netloc.startswith("["):  # IPv6 literal
            close = netloc.find("]")
            host = netloc[1:close]
            rest = netloc[close + 1:]
            port = int(rest[1:]) if rest.startswith(":") and rest[1:] else default
            host_header = f"[{host}]" if port == default else f"[{host}]:{port}"
        else:
            host, _, p = netloc.partition(":")
            port = int(p) if p else default
            host_header = host if port == default else f"{host}:{port}"
        if not host:
            raise ValueError(f"no host in URL netloc {netloc!r}")
        return _Site(scheme, host, port, host_header, auth)

    def _head(self, method: str, target: str, site: _Site, headers: Mapping[str, str], body: bytes | None) -> bytes:
        host = site.host_header
        extra = ""
        flags = 0
        n = 0
        special = _SPECIAL
        for k, v in headers.items():
            f = special.get(k.lower())
            if f is not None:
                if f == 8:
                    host = v
                    continue
                if f == 16:  # framing is ours: the body goes with its Content-Length
                    continue
                flags |= f
            extra += f"{k}: {v}\r\n"
            n += 1
        if extra.count("\n") != n or "\r" in host or "\n" in host:
            raise ValueError("Newline or carriage return character detected in an HTTP header")
        if site.auth is not None and "\nauthorization:" not in ("\n" + extra.lower()):
            extra += f"Authorization: {site.auth}\r\n"
        if body is not None:
            extra += f"Content-Length: {len(body)}\r\n"
        elif method in _BODY_METHODS:
            extra += "Content-Length: 0\r\n"
        return f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{extra}{self._defaults[flags & 7]}\r\n".encode(
            "utf-8", "surrogateescape")

    # -- connections ---------------------------------------------------------------------------
    async def _connect(self, site: _Site, loop: asyncio.AbstractEventLoop, deadline: float, timeout: float) -> _Conn:
        ssl_ctx = None
        if site.ssl:
            ssl_ctx = self._ssl
            if ssl_ctx is None:
                ssl_ctx = self._ssl = _ssl.create_default_context()
        conns = self._conns
        try:
            async with asyncio.timeout_at(deadline):
                _, conn = await loop.create_connection(lambda: _Conn(conns), site.host, site.port, ssl=ssl_ctx,
                                                       server_hostname=site.host if ssl_ctx is not None else None)
        except TimeoutError:
            raise TransportError("timeout", f"no answer within {timeout:g}s") from None
        except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError is an OSError)
            raise TransportError("connection_error",
                                 f"cannot connect: {site.host}:{site.port}: {_short(exc)}") from None
        return conn

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """First use, or use from another event loop: connections of an old loop are dropped."""
        if self._loop is not None:
            for conn in list(self._conns):
                try:
                    conn.abort()
                except RuntimeError:  # its loop is closed
                    pass
            self._conns.clear()
            for site in self._sites.values():
                site.idle.clear()
        self._loop = loop

    # -- the Transport protocol ---------------------------------------------------------------
    async def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None,
                      timeout: float) -> HttpResponse:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        site, target = self._site(url)
        method = method.upper()
        head = self._head(method, target, site, headers, body)
        if body:
            if len(body) <= 65536:
                head += body
            else:
                head = (head, body)  # type: ignore[assignment]
        now = loop.time()
        deadline = now + timeout
        idle = site.idle
        conn = None
        while idle:
            c = idle.pop()
            if c.closed:
                continue
            if now - c.idle_since > self._keepalive:  # too old to trust, and so are the ones under it
                c.abort()
                for old in idle:
                    old.abort()
                idle.clear()
                break
            conn = c
            break
        retry = conn is not None and (self._retry_all or method in _IDEMPOTENT)
        while True:
            if conn is None:
                conn = await self._connect(site, loop, deadline, timeout)
            fut = loop.create_future()
            conn.waiter = fut
            conn.got = False
            conn.head = method == "HEAD"
            conn.status = 0
            conn.headers = []
            conn.body = []
            conn.headers_done = False
            conn.timeout = timeout
            tr = conn.transport
            timer = loop.call_at(deadline, conn.on_timeout)
            try:
                try:
                    if type(head) is tuple:
                        tr.write(head[0])  # type: ignore[union-attr]
                        tr.write(head[1])  # type: ignore[union-attr]
                    else:
                        tr.write(head)  # type: ignore[union-attr]
                except (OSError, RuntimeError) as exc:  # the transport was closing: as if no answer
                    conn._fail(_NoAnswer(_short(exc)))
                status, raw, data = await fut
            except _NoAnswer as exc:
                conn.abort()
                if retry:  # the server closed this idle connection meanwhile: once more, on a new one
                    retry = False
                    conn = None
                    continue
                raise TransportError("connection_error", f"connection lost: {exc}") from None
            except TransportError:
                conn.abort()
                raise
            except BaseException:  # cancelled (or a write error): the connection's state is unknown
                conn.waiter = None
                conn.abort()
                raise
            finally:
                timer.cancel()
            break
        if conn.keep_alive and not conn.closed:
            conn.idle_since = loop.time()
            idle.append(conn)
        else:  # Connection: close, HTTP/1.0, a body read to the end of the connection
            conn.closed = True
            conn.transport.close()  # type: ignore[union-attr]
        hdrs = CIMultiDictProxy(CIMultiDict(raw))
        if data:
            enc = hdrs.get("Content-Encoding")
            if enc is not None:
                data = _decode(enc, data)
        return HttpResponse(status, hdrs, data)

    async def close(self) -> None:
        for conn in list(self._conns):
            if conn.transport is not None:
                conn.closed = True
                try:
                    conn.transport.close()
                except RuntimeError:  # its loop is closed
                    pass
        self._conns.clear()
        for site in self._sites.values():
            site.idle.clear()
        await asyncio.sleep(0)  # let the transports run their close callbacks


def _decode(encoding: str, data: bytes) -> bytes:
    enc = encoding.strip().lower()
    try:
        if enc in ("gzip", "x-gzip"):
            out = []
            while data:
                d = zlib.decompressobj(wbits=31)
                out.append(d.decompress(data))
                out.append(d.flush())
                if not d.eof:
                    raise zlib.error("truncated gzip stream")
                data = d.unused_data  # a further gzip member
            return b"".join(out)
        if enc == "deflate":
            try:
                return zlib.decompress(data)
            except zlib.error:  # raw deflate without the zlib wrapper, as some servers send it
                return zlib.decompress(data, -15)
    except zlib.error as exc:
        raise TransportError("connection_error", f"response cut off: cannot decode {enc} body: {exc}") from None
    return data  # identity, or an encoding we did not ask for: as it came

