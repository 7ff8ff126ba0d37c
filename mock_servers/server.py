"""Running the mock server: one process, uvloop, a large backlog and file-descriptor limit."""

from __future__ import annotations

import asyncio
import gc
import resource
import socket
import sys
from typing import Callable

from aiohttp import web

from .app import BODY_LIMITS_KEY, FAST_ROUTES_KEY, create_app
from .front import Front
from .guards import Guards, beyond_loopback
from .profile import Profile
from .providers.base import MockContext


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one (10,000 connections need it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the hot path.

    10,000 requests in flight are hundreds of thousands of live objects; with CPython's default
    thresholds (700, 10, 10) the collector walks them, and every object left from start-up,
    again and again while they pile up (measured: a burst of 10,000 five-second requests ended
    after 7.6-9.4 s instead of 6.4-6.6 s). Start-up objects are frozen out of collection, and
    young collections run every 20,000 allocations instead of 700.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def serve(
    profiles: dict[str, Profile],
    ctx: MockContext,
    host: str = "127.0.0.1",
    port: int = 8080,
    announce: Callable[[str], None] = print,
    guards: Guards | None = None,
    warn: Callable[[str], None] | None = None,
    fast_front: bool = True,
) -> None:
    """Serve until interrupted; ``announce`` gets a line per base URL once listening, ``warn``
    a warning when the address is reachable beyond this machine. ``fast_front``: the hot routes
    are answered by mock_servers/front.py (False: every request through aiohttp)."""
    guards = guards or Guards()
    if beyond_loopback(host):
        (warn or announce)(
            f"warning: listening on {host}, beyond loopback: anyone who can reach this machine can use the "
            "mock" + (" (the admin API needs the admin token)" if guards.admin_token else
                      " and its /admin API (change profiles, reset limits); give --admin-token TOKEN"))
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        pass
    asyncio.run(_serve(profiles, ctx, host, port, announce, guards, fast_front))


async def _serve(profiles, ctx, host, port, announce, guards: Guards, fast_front: bool = True) -> None:
    app = create_app(profiles, ctx, guards)
    # keepalive_timeout is aiohttp's idle timeout (its default is an hour)
    runner = web.AppRunner(app, access_log=None, handle_signals=True, keepalive_timeout=guards.idle_timeout)
    await runner.setup()
    tune_gc()  # after the app is built, so its objects are frozen too
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    front = None
    if fast_front:
        # the front answers the hot routes itself and hands every other connection to aiohttp
        front = Front(app, app[FAST_ROUTES_KEY], runner.server, lambda: app[BODY_LIMITS_KEY].floor)
        listener = await asyncio.get_running_loop().create_server(front.protocol, sock=sock, backlog=16384)
    else:
        await web.SockSite(runner, sock, backlog=16384).start()
    real_port = sock.getsockname()[1]
    base = f"http://{host}:{real_port}"
    announce(f"mock server listening on {base} (time_scale {ctx.time_scale.factor:g})")
    for name, p in profiles.items():
        # the base URL a client is given: the OpenAI SDK's includes /v1 (its paths start after it)
        announce(f"  {name:<11} {base}{p.mount}{'/v1' if p.kind == 'openai' else ''}")
    announce(f"  {'metrics':<11} {base}/metrics")
    sys.stdout.flush()
    sweeper = asyncio.create_task(guards.sweep(runner.server, front=front))
    try:
        await asyncio.Event().wait()
    finally:
        sweeper.cancel()
        if front is not None:
            listener.close()
            front.close_all()
        await runner.cleanup()
