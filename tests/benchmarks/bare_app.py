"""The yardstick: a bare aiohttp JSON endpoint, served the way the mock is served (uvloop, no
access log, one process), so the mock's throughput can be given as a fraction of it.

``python -m tests.benchmarks.bare_app`` prints ``listening on http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import orjson
from aiohttp import web

BODY = orjson.dumps({
    "id": "chatcmpl-bare", "object": "chat.completion", "created": 1_700_000_000, "model": "bare",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
})


async def chat(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BODY, content_type="application/json")


async def serve(host: str = "127.0.0.1", port: int = 0) -> None:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app, access_log=None, handle_signals=True)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    await web.SockSite(runner, sock, backlog=16384).start()
    print(f"listening on http://{host}:{sock.getsockname()[1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    import uvloop

    uvloop.install()
    asyncio.run(serve(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0))
