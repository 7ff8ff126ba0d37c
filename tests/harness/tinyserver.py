"""A tiny aiohttp server in a thread, for attack tests: it records every request (method, the
raw request target, headers) and answers with a handler the test gives. 127.0.0.x only."""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterator

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    target: str  # the request line's target, as sent (raw_path, query included)
    headers: dict[str, str]


@dataclass
class TinyServer:
    host: str
    port: int = 0
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextmanager
def tiny_server(handler: Handler, host: str = "127.0.0.1") -> Iterator[TinyServer]:
    """Serve ``handler`` for every method and path until the block ends."""
    server = TinyServer(host)
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    state: dict = {}

    async def record(request: web.Request) -> web.StreamResponse:
        server.seen.append(Seen(request.method, request.raw_path, dict(request.headers)))
        return await handler(request)

    async def start() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        server.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        state["runner"] = runner
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()
        loop.run_until_complete(state["runner"].cleanup())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "tiny server did not start"
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
