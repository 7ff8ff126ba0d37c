"""A load generator for the mock benchmarks, run as its own process on its own core.

``taskset -c 1 python -m tests.benchmarks.loadgen`` prints ``ready``, then reads one JSON
command per line on stdin and answers each with one JSON line on stdout, so the benchmark's
timed round is exactly one command (no interpreter start-up inside the timing).

Commands (``op``):

``open``       open ``n`` keep-alive connections (untimed set-up for ``burst``).
``burst``      send one request on each of them at once and wait for every answer (10,000 in
               flight); optionally scrape a Prometheus gauge while they are in flight.
``open_loop``  send requests at a constant arrival rate for ``duration`` seconds, whatever the
               answers do (no coordinated omission), and report client-observed latencies.
``streams``    run ``k`` concurrent SSE chat-completion streams and report each one's pace
               (content tokens per second between its first and last content chunk).

HTTP/1.1 is spoken directly over asyncio protocols for ``burst`` and ``open_loop``: a
Python HTTP client costs more per request than the server under test.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import sys
import time
from collections import Counter
from typing import Any

perf = time.perf_counter


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def build_request(method: str, host: str, port: int, path: str, headers: dict[str, str], body: str | None,
                  keep_alive: bool = True) -> bytes:
    data = body.encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if data or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(data)}")
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


class HttpConn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; :meth:`request` sends raw bytes and returns
    (status, body, time the whole answer arrived). Answers need a Content-Length."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.lost = False

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        w = self.waiter
        if w is None or w.done():
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        i = head.find(b"\r\ncontent-length:")
        if i < 0:
            w.set_exception(ConnectionError("answer without Content-Length"))
            return
        j = head.find(b"\r\n", i + 2)
        length = int(head[i + 17: j if j >= 0 else len(head)])
        total = end + 4 + length
        if len(self.buf) < total:
            return
        status = int(head[9:12])
        body = bytes(self.buf[end + 4: total])
        del self.buf[:total]
        w.set_result((status, body, perf()))

    def connection_lost(self, exc) -> None:  # type: ignore[override]
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    async def request(self, raw: bytes) -> tuple[int, bytes, float]:
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(raw)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class OneShot(asyncio.Protocol):
    """A connection for one request: :meth:`send` writes it and ``done`` resolves with
    (status, arrival time) once the answer's head is in (the cheapest client per request)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.done: asyncio.Future[tuple[int, float]] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.sent = 0.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def send(self, raw: bytes) -> None:
        assert self.transport is not None
        self.transport.write(raw)
        self.sent = perf()

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        self.head += data
        if b"\r\n\r\n" in self.head:
            self.done.set_result((int(self.head[9:12]), perf()))

    def connection_lost(self, exc) -> None:  # type: ignore[override]
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"connection lost before the answer: {exc}"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(host: str, port: int) -> HttpConn:
    _, proto = await asyncio.get_running_loop().create_connection(HttpConn, host, port)
    return proto  # type: ignore[return-value]


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile of already sorted values."""
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(q * len(values) + 0.5)) - 1))
    return values[k]


# -- burst: n requests in flight at once ---------------------------------------------------
_GAUGE = re.compile(rb'^mock_in_flight_requests\{provider="([^"]+)"\} ([0-9.e+]+)$', re.M)


async def scrape_gauge(host: str, port: int, provider: str) -> float:
    conn = await connect(host, port)
    try:
        status, body, _ = await conn.request(build_request("GET", host, port, "/metrics", {}, None, keep_alive=False))
    finally:
        conn.close()
    for name, value in _GAUGE.findall(body):
        if name.decode() == provider:
            return float(value)
    return float("nan")


_OPENED: list[OneShot] = []


async def op_open(c: dict[str, Any]) -> dict[str, Any]:
    """Open ``n`` keep-alive connections for the next ``burst`` (a client's pool: not timed)."""
    host, port, n = c["host"], c["port"], c["n"]
    loop = asyncio.get_running_loop()
    connect_gate = asyncio.Semaphore(c.get("connect_concurrency", 500))  # stay inside the SYN backlog
    errors: Counter[str] = Counter()

    async def open_one() -> OneShot | None:
        try:
            async with connect_gate:
                _, conn = await loop.create_connection(lambda: OneShot(loop), host, port)
            return conn  # type: ignore[return-value]
        except OSError as exc:
            errors[type(exc).__name__] += 1
            return None

    t0 = perf()
    conns = [conn for conn in await asyncio.gather(*(open_one() for _ in range(n))) if conn is not None]
    for conn in _OPENED:
        conn.close()
    _OPENED[:] = conns
    return {"connected": len(conns), "connect_s": perf() - t0, "errors": dict(errors)}


async def op_burst(c: dict[str, Any]) -> dict[str, Any]:
    """Write one request on each connection ``open`` made (opening them first if it was not
    called), all at once, and time until the last answer; the connections are closed
    afterwards, so neither setting up nor tearing down 10,000 sockets is inside the timing."""
    host, port = c["host"], c["port"]
    raw = build_request(c.get("method", "POST"), host, port, c["path"], c.get("headers", {}), c.get("body"))
    if not _OPENED:
        await op_open(c)
    conns, n = list(_OPENED), len(_OPENED)
    _OPENED.clear()
    errors: Counter[str] = Counter()

    gauges: list[tuple[float, float]] = []

    async def scraper(t0: float) -> None:
        for at in c.get("scrape_at", []):
            await asyncio.sleep(max(0.0, t0 + at - perf()))
            try:
                gauges.append((round(perf() - t0, 3), await scrape_gauge(host, port, c["provider"])))
            except Exception as exc:  # noqa: BLE001
                errors["scrape_" + type(exc).__name__] += 1

    t0 = perf()
    for conn in conns:
        conn.send(raw)
    all_sent = perf() - t0
    scrape = asyncio.ensure_future(scraper(t0))
    waiting = [conn.done for conn in conns]
    _, pending = await asyncio.wait(waiting, timeout=c.get("timeout", 30.0))
    t_end = perf()
    await scrape
    for conn in conns:
        conn.close()
    statuses: Counter[str] = Counter()
    done_at: list[float] = []
    latencies: list[float] = []
    for conn in conns:
        if conn.done in pending:
            errors["timeout"] += 1
        elif conn.done.exception() is not None:
            errors[type(conn.done.exception()).__name__] += 1
        else:
            status, t = conn.done.result()
            statuses[str(status)] += 1
            done_at.append(t - t0)
            latencies.append(t - conn.sent)
    latencies.sort()
    return {
        "n": n,
        "statuses": dict(statuses),
        "errors": dict(errors),
        "elapsed": t_end - t0,
        "all_sent_after": all_sent,
        "first_done_after": min(done_at) if done_at else None,
        "last_done_after": max(done_at) if done_at else None,
        "latency_p50": quantile(latencies, 0.5),
        "latency_max": latencies[-1] if latencies else None,
        "gauges": gauges,
        "max_gauge": max((g for _, g in gauges), default=None),
    }


# -- open loop: a constant arrival rate ------------------------------------------------------
async def op_open_loop(c: dict[str, Any]) -> dict[str, Any]:
    host, port = c["host"], c["port"]
    rate, duration = float(c["rate"]), float(c["duration"])
    raw = build_request(c.get("method", "POST"), host, port, c["path"], c.get("headers", {}), c.get("body"))
    total = int(rate * duration)
    idle: list[HttpConn] = []
    for conn in await asyncio.gather(*(connect(host, port) for _ in range(c.get("prewarm", 200)))):
        idle.append(conn)
    latencies: list[float] = []
    lags: list[float] = []
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    tasks: list[asyncio.Task] = []

    async def one(due: float) -> None:
        try:
            conn = idle.pop() if idle else await connect(host, port)
            t = perf()
            lags.append(t - due)
            status, _, t_done = await conn.request(raw)
            latencies.append(t_done - t)
            statuses[str(status)] += 1
            if not conn.lost:
                idle.append(conn)
        except Exception as exc:  # noqa: BLE001
            errors[type(exc).__name__] += 1

    t0 = perf()
    sent = 0
    while sent < total:
        now = perf()
        due = min(total, int((now - t0) * rate) + 1)
        while sent < due:
            tasks.append(asyncio.ensure_future(one(t0 + sent / rate)))
            sent += 1
        await asyncio.sleep(max(0.0, t0 + sent / rate - perf()))
    send_time = perf() - t0
    await asyncio.gather(*tasks)
    elapsed = perf() - t0
    for conn in idle:
        conn.close()
    latencies.sort()
    lags.sort()
    return {
        "requests": total,
        "statuses": dict(statuses),
        "errors": dict(errors),
        "send_time": send_time,
        "elapsed": elapsed,
        "achieved_rate": total / send_time,
        "p50": quantile(latencies, 0.50),
        "p90": quantile(latencies, 0.90),
        "p99": quantile(latencies, 0.99),
        "max": latencies[-1] if latencies else None,
        "send_lag_p99": quantile(lags, 0.99),
        "send_lag_max": lags[-1] if lags else None,
    }


# -- streams: the pace of SSE chat completions ---------------------------------------------
async def op_streams(c: dict[str, Any]) -> dict[str, Any]:
    import aiohttp
    import orjson

    url, k = c["url"], c["k"]
    statuses: Counter[str] = Counter()
    results: list[dict[str, Any]] = []

    async def one(session: aiohttp.ClientSession) -> None:
        t_send = perf()
        async with session.post(url, data=c["body"], headers=c.get("headers", {})) as resp:
            statuses[str(resp.status)] += 1
            times: list[float] = []
            tokens = 0
            async for line in resp.content:
                if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                    continue
                t = perf()
                event = orjson.loads(line[6:])
                for choice in event.get("choices") or ():
                    if (choice.get("delta") or {}).get("content"):
                        times.append(t)
                        tokens += 1
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        results.append({
            "tokens": tokens,
            "ttft": times[0] - t_send if times else None,
            "span": span,
            "tps": (tokens - 1) / span if span > 0 else None,
        })

    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=c.get("timeout", 60))
    t0 = perf()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(one(session) for _ in range(k)))
    return {"k": k, "statuses": dict(statuses), "elapsed": perf() - t0, "streams": results}


OPS = {"open": op_open, "burst": op_burst, "open_loop": op_open_loop, "streams": op_streams}


async def main() -> None:
    raise_fd_limit()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ready", flush=True)
    while True:
        line = await reader.readline()
        if not line:
            return
        command = json.loads(line)
        try:
            result = await OPS[command["op"]](command)
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            result = {"exception": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover
        asyncio.run(main())
