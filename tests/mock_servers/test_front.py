"""The mock's fast front (mock_servers/front.py) answers as aiohttp would, and hands aiohttp
every connection it does not serve itself, on the same socket, with no byte lost.

Each test talks raw HTTP/1.1 to a real mock process on 127.0.0.1, and reads ``/healthz``'s
``front`` counters (requests the front answered, connections it handed over) to know which
server half answered.
"""

from __future__ import annotations

import gzip
import json
import socket
import time
from typing import Iterator

import httpx
import pytest

from harness.runner.mockproc import MockProcess, start_mock

ZERO = ["openai.latency.median=0.001", "openai.latency.p99=0.001", "openai.latency.tokens_per_second=1000000",
        "openai.output_tokens.median=4", "openai.output_tokens.p99=4"]
CHAT = {"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 16}
VOLATILE = {"date", "x-request-id", "openai-processing-ms"}


def _request(path: str, body: dict | None = None, *, method: str = "POST", extra: str = "") -> bytes:
    raw = json.dumps(body).encode() if body is not None else b""
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-front\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n{extra}\r\n")
    return head.encode() + raw


class Conn:
    """One keep-alive connection reading answers by their Content-Length (or chunks, or close)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise ConnectionError(f"closed before an answer: {self.buf[:200]!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                if not self._fill():
                    raise ConnectionError("closed mid-body")
            body, self.buf = self.buf[:n], self.buf[n:]
        elif headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                size_line, rest = self.buf.split(b"\r\n", 1)
                size = int(size_line, 16)
                while len(rest) < size + 2:
                    self._fill()
                    rest = self.buf.split(b"\r\n", 1)[1]
                body += rest[:size]
                self.buf = rest[size + 2:]
                if size == 0:
                    break
        else:
            while self._fill():
                pass
            body, self.buf = self.buf, b""
        return status, headers, body

    def closed_by_server(self, within: float) -> bool:
        self.sock.settimeout(within)
        try:
            return self.sock.recv(1024) == b""
        except socket.timeout:
            return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    proc = start_mock(["openai", "keepa"], sets=ZERO, args=["--idle-timeout", "1"])
    yield proc
    proc.stop()


def _port(mock: MockProcess) -> int:
    return int(mock.base_url.rsplit(":", 1)[1])


def _front(mock: MockProcess) -> dict[str, int]:
    return httpx.get(mock.base_url + "/healthz", timeout=5).json()["front"]


def test_a_chat_completion_is_answered_by_the_front_like_aiohttp_answers_it(mock) -> None:
    """Same status, same headers (names and fixed values), same body shape as the same mock
    answering through aiohttp only."""
    plain = start_mock(["openai", "keepa"], sets=ZERO, args=["--aiohttp-only"])
    try:
        answers = []
        for proc in (mock, plain):
            before = _front(proc)["served"]
            c = Conn(_port(proc))
            c.sock.sendall(_request("/openai/v1/chat/completions", CHAT))
            answers.append(c.answer())
            c.close()
            answers[-1] += (_front(proc)["served"] - before,)
        (s1, h1, b1, served1), (s2, h2, b2, served2) = answers
        assert (served1, served2) == (1, 0)  # the front answered the first, aiohttp the second
        assert s1 == s2 == 200
        assert set(h1) == set(h2)
        assert {k: v for k, v in h1.items() if k not in VOLATILE | {"content-length"}} == \
               {k: v for k, v in h2.items() if k not in VOLATILE | {"content-length"}}
        assert int(h1["content-length"]) == len(b1)
        j1, j2 = json.loads(b1), json.loads(b2)
        assert set(j1) == set(j2) and j1["usage"] == j2["usage"] and j1["object"] == "chat.completion"
    finally:
        plain.stop()


def test_a_stream_on_a_fast_connection_moves_it_to_aiohttp_with_nothing_lost(mock) -> None:
    """Fast answer, then a streamed one and a pipelined fast one on the same connection: the
    stream comes from aiohttp (chunked SSE), the last answer too, in request order."""
    c = Conn(_port(mock))
    try:
        before = _front(mock)
        c.sock.sendall(_request("/openai/v1/chat/completions", CHAT))
        assert c.answer()[0] == 200
        # a stream and a plain request in one write (pipelined)
        c.sock.sendall(_request("/openai/v1/chat/completions", {**CHAT, "stream": True})
                       + _request("/openai/v1/chat/completions", CHAT))
        status, headers, body = c.answer()
        assert status == 200 and headers["content-type"].startswith("text/event-stream")
        assert body.rstrip().endswith(b"data: [DONE]")
        status, _, body = c.answer()
        assert status == 200 and json.loads(body)["object"] == "chat.completion"
        after = _front(mock)
        assert after["served"] - before["served"] == 1  # only the first
        assert after["handed_over"] - before["handed_over"] >= 1
    finally:
        c.close()


def test_a_request_in_pieces_and_requests_pipelined_are_answered_in_order(mock) -> None:
    c = Conn(_port(mock))
    try:
        raw = _request("/openai/v1/chat/completions", CHAT)
        for piece in (raw[:10], raw[10:60], raw[60:-5], raw[-5:]):  # head and body split anywhere
            c.sock.sendall(piece)
            time.sleep(0.02)
        assert c.answer()[0] == 200
        keepa = _request("/keepa/token?key=front-k", method="GET")
        bad = _request("/openai/v1/chat/completions", {"model": "no-such-model", "messages": [{"role": "user",
                                                                                            "content": "x"}]})
        c.sock.sendall(keepa + bad + raw)
        statuses = [c.answer()[0] for _ in range(3)]
        assert statuses == [200, 404, 200]
    finally:
        c.close()


def test_connection_close_and_http_1_0_are_honoured(mock) -> None:
    c = Conn(_port(mock))
    try:
        c.sock.sendall(_request("/openai/v1/chat/completions", CHAT, extra="Connection: close\r\n"))
        status, headers, _ = c.answer()
        assert status == 200 and headers["connection"] == "close"
        assert c.closed_by_server(5)
    finally:
        c.close()
    c = Conn(_port(mock))
    try:
        c.sock.sendall(_request("/openai/v1/chat/completions", CHAT).replace(b"HTTP/1.1", b"HTTP/1.0", 1))
        status, headers, _ = c.answer()
        assert status == 200 and "connection" not in headers  # HTTP/1.0 without keep-alive: closed
        assert c.closed_by_server(5)
    finally:
        c.close()


def test_an_idle_fast_connection_is_closed_after_the_idle_timeout(mock) -> None:
    c = Conn(_port(mock))
    try:
        c.sock.sendall(_request("/openai/v1/chat/completions", CHAT))
        assert c.answer()[0] == 200
        t0 = time.monotonic()
        assert c.closed_by_server(8)
        idle = time.monotonic() - t0
        assert 0.9 < idle < 4, idle  # --idle-timeout 1, swept at most a second late
    finally:
        c.close()


def test_large_answers_are_compressed_when_accepted_and_keepa_sends_its_own_gzip(mock) -> None:
    c = Conn(_port(mock))
    try:
        big = {**CHAT, "messages": [{"role": "user", "content": "x " * 10}], "max_tokens": 16, "n": 8}
        c.sock.sendall(_request("/openai/v1/chat/completions", big, extra="Accept-Encoding: gzip\r\n"))
        status, headers, body = c.answer()
        assert status == 200 and headers.get("content-encoding") == "gzip"
        assert len(json.loads(gzip.decompress(body))["choices"]) == 8
        c.sock.sendall(_request("/keepa/product?key=front-k&domain=1&asin=B000TEST01", method="GET",
                                extra="Accept-Encoding: gzip\r\n"))
        status, headers, body = c.answer()
        assert status == 200 and headers["content-encoding"] == "gzip"
        assert json.loads(gzip.decompress(body))["products"][0]["asin"] == "B000TEST01"
    finally:
        c.close()


def test_bad_and_oversized_requests_get_aiohttp_s_answers(mock) -> None:
    c = Conn(_port(mock))
    try:
        c.sock.sendall(b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        assert c.answer()[0] == 400
    finally:
        c.close()
    c = Conn(_port(mock))
    try:
        c.sock.sendall(b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-x\r\n"
                       b"Content-Type: application/json\r\nContent-Length: 700000000\r\n\r\n{")
        status, _, body = c.answer()
        assert status == 413 and b"413" in body  # OpenAI's edge page, before the body is read
    finally:
        c.close()


def test_a_slow_body_is_not_a_slowloris_but_a_head_that_never_ends_is() -> None:
    """The header timeout is for the head: a complete head whose body takes longer is answered;
    a head still incomplete past the timeout is closed (as aiohttp's connections are)."""
    proc = start_mock(["openai"], sets=ZERO, args=["--header-timeout", "1"])
    try:
        raw = _request("/openai/v1/chat/completions", CHAT)
        split = raw.index(b"\r\n\r\n") + 4 + 5
        slow, stuck = Conn(_port(proc)), Conn(_port(proc))
        slow.sock.sendall(raw[:split])  # the head and 5 bytes of the body
        stuck.sock.sendall(raw[:20])  # part of the head
        time.sleep(2.6)  # past the 1 s header timeout, swept at least twice
        slow.sock.sendall(raw[split:])
        assert slow.answer()[0] == 200
        assert stuck.closed_by_server(3)
        slow.close()
        stuck.close()
    finally:
        proc.stop()
