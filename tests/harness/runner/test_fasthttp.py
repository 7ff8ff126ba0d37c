"""harness.runner.transports.fast.FastTransport against local servers on 127.0.0.1: an aiohttp application
(AppRunner) for well-behaved answers, and raw asyncio servers for the misbehaving ones (cut-off
bodies, resets, stale keep-alive connections, HTTP/1.0, interim answers). Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import gzip
import shutil
import socket
import ssl
import struct
import subprocess
import time
import zlib

import pytest
from aiohttp import web

from harness.errors import TransportError
from harness.runner.transports.fast import FastTransport
from harness.runner.transports import make_transport

pytestmark = pytest.mark.timeout(60)

HOST = "127.0.0.1"


# -- an aiohttp application ---------------------------------------------------------------------
def _app(peers: list) -> web.Application:
    async def record(request: web.Request) -> None:
        peers.append(request.transport.get_extra_info("peername"))

    async def echo(request: web.Request) -> web.Response:
        await record(request)
        body = await request.read()
        return web.json_response({"method": request.method, "path": request.path_qs, "len": len(body),
                                  "headers": dict(request.headers)},
                                 headers={"X-Mixed-Case": "Yes", "Set-Thing": "a"})

    async def raw_echo(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(body=await request.read(), content_type="application/octet-stream")

    async def big(request: web.Request) -> web.Response:
        await record(request)
        n = int(request.query.get("n", 1 << 20))
        return web.Response(body=bytes(i % 251 for i in range(256)) * (n // 256), content_type="application/octet-stream")

    async def chunked(request: web.Request) -> web.StreamResponse:
        await record(request)
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(5):
            await resp.write(f"part{i};".encode())
            await asyncio.sleep(0.001)
        await resp.write_eof()
        return resp

    async def gz(request: web.Request) -> web.Response:
        await record(request)
        kind = request.query.get("kind", "gzip")
        data = b'{"hello": "world"}' * 100
        if kind == "gzip":
            enc = gzip.compress(data)
        elif kind == "deflate":
            enc = zlib.compress(data)
        else:  # raw deflate
            c = zlib.compressobj(wbits=-15)
            enc = c.compress(data) + c.flush()
            kind = "deflate"
        return web.Response(body=enc, headers={"Content-Encoding": kind, "Content-Type": "application/json"})

    async def auto_gzip(request: web.Request) -> web.Response:
        await record(request)
        resp = web.Response(body=b"x" * 5000, content_type="text/plain")
        resp.enable_compression(web.ContentCoding.gzip)
        return resp

    async def slow(request: web.Request) -> web.Response:
        await record(request)
        await asyncio.sleep(float(request.query.get("s", "2")))
        return web.Response(text="late")

    async def status(request: web.Request) -> web.Response:
        await record(request)
        code = int(request.match_info["code"])
        return web.Response(status=code, headers={"ETag": '"x"'})

    async def close(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(text="bye", headers={"Connection": "close"})

    app = web.Application(client_max_size=8 << 20)
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/raw", raw_echo)
    app.router.add_get("/big", big)
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/gz", gz)
    app.router.add_get("/auto-gzip", auto_gzip)
    app.router.add_get("/slow", slow)
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_get("/close", close)
    return app


@pytest.fixture
async def server():
    peers: list = []
    runner = web.AppRunner(_app(peers), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://{HOST}:{port}", peers
    await runner.cleanup()


@pytest.fixture
async def client():
    t = FastTransport()
    yield t
    await t.close()


async def _get(t: FastTransport, url: str, *, method: str = "GET", body: bytes | None = None, timeout: float = 5.0,
               headers: dict | None = None):
    return await t.request(method, url, headers=headers or {}, body=body, timeout=timeout)


async def _failure(handler, path: str = "/", **request) -> tuple[TransportError, "RawServer"]:
    """The TransportError a fresh transport gets for one request to a raw server running
    ``handler``, and the server (its connection count)."""
    async with RawServer(handler) as srv:
        t = FastTransport()
        try:
            with pytest.raises(TransportError) as ei:
                await _get(t, srv.url + path, **request)
        finally:
            await t.close()
    return ei.value, srv


# -- raw servers -----------------------------------------------------------------------------------
class RawServer:
    """``handler(reader, writer, conn_index)`` per connection; counts connections."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.connections = 0
        self.server: asyncio.base_events.Server | None = None

    async def __aenter__(self) -> "RawServer":
        async def on_conn(reader, writer):
            self.connections += 1
            try:
                await self.handler(reader, writer, self.connections)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                if not writer.is_closing():
                    writer.close()

        self.server = await asyncio.start_server(on_conn, HOST, 0)
        return self

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def __aexit__(self, *exc) -> None:
        self.server.close()  # type: ignore[union-attr]
        await asyncio.wait_for(self.server.wait_closed(), 5)  # type: ignore[union-attr]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":", 1)[1])
            if n:
                await asyncio.wait_for(reader.readexactly(n), 5)
    return head


def _ok(body: bytes = b"ok", extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


# -- tests ---------------------------------------------------------------------------------------------
async def test_make_transport_fast():
    t = make_transport("fast")
    assert isinstance(t, FastTransport)
    await t.close()


async def test_keep_alive_reuses_one_connection(server, client):
    url, peers = server
    for i in range(50):
        r = await _get(client, f"{url}/echo?i={i}", method="POST", body=b'{"i": %d}' % i,
                       headers={"Content-Type": "application/json"})
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("application/json")
    assert len(peers) == 50 and len(set(peers)) == 1


async def test_request_line_and_headers(server, client):
    url, _ = server
    r = await _get(client, f"{url}/echo?q=a%20b&x=1", method="post", body=b"abc", headers={"X-Key": "v"})
    import json

    got = json.loads(r.body)
    assert got["method"] == "POST" and got["path"] == "/echo?q=a%20b&x=1" and got["len"] == 3
    h = {k.lower(): v for k, v in got["headers"].items()}
    assert h["host"] == url.removeprefix("http://")
    assert h["content-length"] == "3" and h["x-key"] == "v"
    assert h["user-agent"].startswith("ratelimit-harness/")
    assert "gzip" in h["accept-encoding"]
    # a caller's own User-Agent and Host win; its Content-Length is replaced by the real one
    r = await _get(client, f"{url}/echo", method="POST", body=b"abcd",
                   headers={"user-agent": "me/1", "Content-Length": "99", "HOST": "example.test"})
    h = {k.lower(): v for k, v in json.loads(r.body)["headers"].items()}
    assert h["user-agent"] == "me/1" and h["content-length"] == "4" and h["host"] == "example.test"
    # a path with a space is quoted, not sent raw
    r = await _get(client, f"{url}/echo?name=a b")
    assert json.loads(r.body)["path"] == "/echo?name=a%20b"
    # POST without a body says Content-Length: 0
    r = await _get(client, f"{url}/echo", method="POST")
    h = {k.lower(): v for k, v in json.loads(r.body)["headers"].items()}
    assert h["content-length"] == "0"


async def test_header_injection_is_refused(server, client):
    url, _ = server
    with pytest.raises(ValueError):
        await _get(client, f"{url}/echo", headers={"X-A": "1\r\nX-Injected: 2"})


async def test_response_headers_case_insensitive(server, client):
    url, _ = server
    r = await _get(client, f"{url}/echo")
    assert r.headers["x-mixed-case"] == "Yes" == r.headers["X-MIXED-CASE"]
    assert r.headers.get("CONTENT-TYPE", "").startswith("application/json")
    assert "set-thing" in r.headers and "Set-Thing" in list(r.headers)
    assert r.headers.get("absent") is None


async def test_content_length_and_chunked_bodies(server, client):
    url, _ = server
    r = await _get(client, f"{url}/big?n=4096")
    assert r.status == 200 and len(r.body) == 4096 and r.headers["Content-Length"] == "4096"
    r = await _get(client, f"{url}/chunked")
    assert r.status == 200 and r.body == b"part0;part1;part2;part3;part4;"
    assert r.headers["Transfer-Encoding"].lower() == "chunked"
    # and the connection is still good for the next one
    r = await _get(client, f"{url}/big?n=512")
    assert len(r.body) == 512


@pytest.mark.parametrize("kind", ["gzip", "deflate", "rawdeflate"])
async def test_compressed_bodies_are_decoded(server, client, kind):
    url, _ = server
    r = await _get(client, f"{url}/gz?kind={kind}")
    assert r.body == b'{"hello": "world"}' * 100
    assert r.headers["Content-Encoding"] in ("gzip", "deflate")


async def test_server_side_gzip(server, client):
    url, _ = server
    r = await _get(client, f"{url}/auto-gzip")
    assert r.headers.get("Content-Encoding") == "gzip" and r.body == b"x" * 5000


async def test_bad_gzip_is_a_connection_error():
    async def handler(reader, writer, n):
        await _read_request(reader)
        writer.write(_ok(b"not gzip at all", "Content-Encoding: gzip\r\n"))
        await writer.drain()
        await asyncio.sleep(0.5)

    err, _ = await _failure(handler)
    assert err.outcome == "connection_error" and "decode" in str(err)


async def test_no_body_answers(server, client):
    url, peers = server
    for code in (204, 304):
        r = await _get(client, f"{url}/status/{code}")
        assert r.status == code and r.body == b""
    r = await _get(client, f"{url}/big?n=2048", method="HEAD")
    assert r.status == 200 and r.body == b"" and r.headers["Content-Length"] == "2048"
    r = await _get(client, f"{url}/big?n=256")  # the connection after a HEAD is still in sync
    assert r.status == 200 and len(r.body) == 256
    r = await _get(client, f"{url}/status/404")
    assert r.status == 404
    assert len(set(peers)) == 1


async def test_large_bodies_both_ways(server, client):
    url, _ = server
    r = await _get(client, f"{url}/big?n={1 << 20}")
    assert len(r.body) == 1 << 20 and r.body == bytes(i % 251 for i in range(256)) * 4096
    payload = bytes(range(256)) * 4096  # 1 MB up
    r = await _get(client, f"{url}/raw", method="POST", body=payload)
    assert r.body == payload


async def test_concurrent_requests_all_correct(server, client):
    url, peers = server
    import json

    async def one(i: int) -> None:
        r = await _get(client, f"{url}/echo?i={i}", method="POST", body=b"x" * (i % 50), timeout=30)
        got = json.loads(r.body)
        assert r.status == 200 and got["path"] == f"/echo?i={i}" and got["len"] == i % 50

    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(1000))), 50)
    n_conns = len(set(peers))
    assert n_conns <= 1000
    # a second wave reuses the pool: no new connection beyond those
    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(200))), 30)
    assert len(set(peers)) == n_conns


async def test_timeout(server, client):
    url, _ = server
    t0 = time.monotonic()
    with pytest.raises(TransportError) as ei:
        await _get(client, f"{url}/slow?s=3", timeout=0.2)
    assert ei.value.outcome == "timeout" and str(ei.value) == "no answer within 0.2s"
    assert time.monotonic() - t0 < 1.5
    r = await _get(client, f"{url}/echo")  # the timed-out connection was dropped, a new one works
    assert r.status == 200


async def test_connect_timeout_counts_in_the_total():
    # a listening socket whose backlog is full never completes the handshake: use an unroutable
    # peer instead would leave 127.0.0.1; so hold the accept queue full on a tiny backlog
    ls = socket.socket()
    ls.bind((HOST, 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):  # fill the accept queue (nobody accepts)
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect((HOST, port))
            except BlockingIOError:
                pass
            fillers.append(s)
        t = FastTransport()
        t0 = time.monotonic()
        try:
            await _get(t, f"http://{HOST}:{port}/", timeout=0.3)
        except TransportError as exc:
            assert exc.outcome in ("timeout", "connection_error")
        assert time.monotonic() - t0 < 2.0
        await t.close()
    finally:
        for s in fillers:
            s.close()
        ls.close()


async def test_refused_port_is_connection_error():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    t = FastTransport()
    with pytest.raises(TransportError) as ei:
        await _get(t, f"http://{HOST}:{port}/x")
    assert ei.value.outcome == "connection_error" and str(ei.value).startswith("cannot connect:")
    await t.close()


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_server_closing_mid_body(framing):
    async def handler(reader, writer, n):
        await _read_request(reader)
        if framing == "length":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n")
        await writer.drain()
        writer.close()

    err, srv = await _failure(handler)
    assert err.outcome == "connection_error" and str(err).startswith("response cut off")
    assert srv.connections == 1  # an answer was under way: never retried


async def test_server_closing_mid_headers():
    async def handler(reader, writer, n):
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")
        await writer.drain()
        writer.close()

    err, _ = await _failure(handler)
    assert err.outcome == "connection_error" and str(err).startswith("connection lost")


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def test_server_reset_is_connection_error():
    async def handler(reader, writer, n):
        await _read_request(reader)
        _reset(writer)

    err, srv = await _failure(handler, method="POST", body=b"{}")
    assert err.outcome == "connection_error" and str(err).startswith("connection lost")
    assert srv.connections == 1  # a fresh connection is never retried


async def test_server_reset_mid_body_is_connection_error():
    async def handler(reader, writer, n):
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n01234")
        await writer.drain()
        await asyncio.sleep(0.05)
        _reset(writer)

    err, _ = await _failure(handler)
    assert err.outcome == "connection_error"


def _answer_once_then_drop(answer: bytes = b"first"):
    """Each connection answers its first request, then drops the connection when the next one
    arrives without a byte of answer (a server closing an idle keep-alive connection just as a
    request arrives, or one that read the request and then failed)."""
    async def handler(reader, writer, n):
        await _read_request(reader)
        writer.write(_ok(answer))
        await writer.drain()
        await _read_request(reader)
        writer.close()
    return handler


async def test_stale_pooled_connection_is_retried_once_for_idempotent_methods():
    async with RawServer(_answer_once_then_drop()) as srv:
        t = FastTransport()
        for i, method in enumerate(("GET", "PUT", "DELETE")):
            assert (await _get(t, srv.url + "/")).body == b"first"  # leaves a connection in the pool
            r = await _get(t, srv.url + "/", method=method, body=b"{}" if method == "PUT" else None)
            assert r.status == 200 and r.body == b"first"  # pooled conn dropped: resent on a new one
            assert srv.connections == 2 * (i + 1)
        await t.close()


async def test_stale_pooled_connection_is_not_resent_for_post():
    """A POST the server may have run is not resent behind the runner's back: it is a
    connection_error, which the runner's retry policy counts and resends (as with aiohttp)."""
    async with RawServer(_answer_once_then_drop()) as srv:
        t = FastTransport()
        assert (await _get(t, srv.url + "/")).body == b"first"
        with pytest.raises(TransportError) as ei:
            await _get(t, srv.url + "/", method="POST", body=b"{}")
        assert ei.value.outcome == "connection_error" and str(ei.value).startswith("connection lost")
        assert srv.connections == 1
        await t.close()
        t = FastTransport(retry_all_methods=True)  # the browser behaviour, on request
        assert (await _get(t, srv.url + "/")).body == b"first"
        r = await _get(t, srv.url + "/", method="POST", body=b"{}")
        assert r.status == 200 and srv.connections == 3
        await t.close()


async def test_connections_idle_past_keepalive_are_not_reused(server):
    # a 1 s keep-alive and a 1.5 s pause: back-to-back requests stay well inside it even when a
    # busy machine delays one by a few hundred ms (0.2 s was not), and the pause well outside
    url, peers = server
    t = FastTransport(keepalive=1.0)
    for _ in range(3):
        assert (await _get(t, f"{url}/echo")).status == 200
    assert len(set(peers)) == 1
    await asyncio.sleep(1.5)
    assert (await _get(t, f"{url}/echo")).status == 200
    assert len(set(peers)) == 2
    await t.close()


async def test_stale_retry_happens_only_once():
    async def handler(reader, writer, n):
        await _read_request(reader)
        if n == 1:
            writer.write(_ok(b"first"))
            await writer.drain()
            await _read_request(reader)
        _reset(writer)  # every later request (and connection) dropped without an answer

    async with RawServer(handler) as srv:
        t = FastTransport()
        assert (await _get(t, srv.url + "/")).body == b"first"
        with pytest.raises(TransportError) as ei:
            await _get(t, srv.url + "/")
        assert ei.value.outcome == "connection_error"
        assert srv.connections == 2  # the pooled one, then exactly one fresh one
        await t.close()


async def test_idle_connection_closed_by_server_is_not_used():
    async def handler(reader, writer, n):
        await _read_request(reader)
        writer.write(_ok(b"hi"))
        await writer.drain()
        writer.close()  # closes the idle keep-alive connection at once

    async with RawServer(handler) as srv:
        t = FastTransport()
        for _ in range(3):
            assert (await _get(t, srv.url + "/")).body == b"hi"
            await asyncio.sleep(0.05)  # the client sees the close before the next request
        assert srv.connections == 3
        await t.close()


async def test_connection_close_is_honoured(server, client):
    url, peers = server
    for _ in range(3):
        r = await _get(client, f"{url}/close")
        assert r.body == b"bye"
    assert len(set(peers)) == 3


async def test_http10_body_until_close_and_interim_answer():
    async def handler(reader, writer, n):
        await _read_request(reader)
        if n == 1:
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
            await writer.drain()
            writer.close()
        else:
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + _ok(b"final", "X-Final: 1\r\n"))
            await writer.drain()
            await asyncio.sleep(0.3)

    async with RawServer(handler) as srv:
        t = FastTransport()
        r = await _get(t, srv.url + "/")
        assert r.status == 200 and r.body == b"until the end"
        r = await _get(t, srv.url + "/")
        assert r.status == 200 and r.body == b"final" and r.headers["x-final"] == "1" and "Link" not in r.headers
        await t.close()


async def test_garbage_answer_is_connection_error():
    async def handler(reader, writer, n):
        await _read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.3)

    err, _ = await _failure(handler)
    assert err.outcome == "connection_error"


async def test_cancelled_request_drops_its_connection(server, client):
    url, peers = server
    task = asyncio.ensure_future(_get(client, f"{url}/slow?s=2"))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    r = await _get(client, f"{url}/echo")
    assert r.status == 200 and len(set(peers)) == 2


async def test_https(tmp_path):
    assert shutil.which("openssl"), "needs the openssl command (make sysdeps installs it)"
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    peers: list = []
    runner = web.AppRunner(_app(peers), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0, ssl_context=server_ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        # the default context does not trust a self-signed certificate: cannot connect
        t = FastTransport()
        with pytest.raises(TransportError) as ei:
            await _get(t, f"https://{HOST}:{port}/echo")
        assert ei.value.outcome == "connection_error" and "cannot connect" in str(ei.value)
        await t.close()
        t = FastTransport(ssl_context=ssl.create_default_context(cafile=str(cert)))
        for _ in range(3):
            r = await _get(t, f"https://{HOST}:{port}/big?n=100000")
            assert r.status == 200 and len(r.body) == 99840
        assert len(set(peers)) == 1
        await t.close()
    finally:
        await runner.cleanup()


def test_under_uvloop():
    """The runner runs on uvloop: keep-alive, chunked, timeout, stale retry and reset there too."""
    uvloop = pytest.importorskip("uvloop")

    async def main() -> None:
        peers: list = []
        runner = web.AppRunner(_app(peers), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        url = f"http://{HOST}:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        t = FastTransport()
        try:
            for _ in range(20):
                assert (await _get(t, f"{url}/echo", method="POST", body=b"{}")).status == 200
            assert len(set(peers)) == 1
            assert (await _get(t, f"{url}/chunked")).body == b"part0;part1;part2;part3;part4;"
            assert (await _get(t, f"{url}/gz")).body == b'{"hello": "world"}' * 100
            with pytest.raises(TransportError) as ei:
                await _get(t, f"{url}/slow?s=2", timeout=0.1)
            assert ei.value.outcome == "timeout"
            rs = await asyncio.gather(*(_get(t, f"{url}/big?n=1024", timeout=20) for _ in range(300)))
            assert all(len(r.body) == 1024 for r in rs)
        finally:
            await t.close()
            await runner.cleanup()
        async with RawServer(_answer_once_then_drop()) as srv:
            t = FastTransport()
            assert (await _get(t, srv.url + "/")).body == b"first"
            assert (await _get(t, srv.url + "/")).body == b"first"
            assert srv.connections == 2
            await t.close()

        async def reset(reader, writer, n):
            await _read_request(reader)
            _reset(writer)

        async with RawServer(reset) as srv:
            t = FastTransport()
            with pytest.raises(TransportError) as ei:
                await _get(t, srv.url + "/")
            assert ei.value.outcome == "connection_error"
            await t.close()

    uvloop.run(main())
