"""The mock servers' command line: ``python -m mock_servers`` and ``harness mock`` run this."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def mock(
    providers: Optional[str] = typer.Option(
        None, "--providers",
        help="Comma-separated profiles to serve (each under /NAME/): shipped ones or the names of your --profile "
             "files. Default: every shipped profile, or only your --profile files when you give some.",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, min=0, max=65535, help="Port to listen on (0 picks a free one and prints it)."),
    profile: Optional[list[Path]] = typer.Option(
        None, "--profile", help="A profile YAML of your own (repeatable); same name replaces a shipped one."
    ),
    set_: Optional[list[str]] = typer.Option(
        None, "--set", help="Override a field: PROVIDER.FIELD=VALUE, e.g. openai.limits.requests_per_minute=60."
    ),
    time_scale: float = typer.Option(
        1.0, "--time-scale", help="Multiply every duration (latency, refill, reset headers) by F; 0.01 = 100x faster."
    ),
    seed: Optional[int] = typer.Option(None, help="Random seed for latencies and faults (repeatable runs)."),
    admin_token: Optional[str] = typer.Option(
        None, "--admin-token", envvar="MOCK_ADMIN_TOKEN",
        help="Require this token on /admin (header X-Admin-Token or Authorization: Bearer); also from $MOCK_ADMIN_TOKEN.",
    ),
    max_body_bytes: int = typer.Option(
        64 * 1024**2, "--max-body-bytes", min=1, help="Refuse larger request bodies (413) before reading them."
    ),
    header_timeout: float = typer.Option(
        20.0, "--header-timeout", min=0.1, help="Close a connection that sends no complete request head in S seconds."
    ),
    idle_timeout: float = typer.Option(75.0, "--idle-timeout", min=0.1, help="Close a keep-alive connection idle S seconds."),
    fast_front: bool = typer.Option(
        True, "--fast-front/--aiohttp-only",
        help="Answer the hot non-streaming routes (chat, messages, embeddings, REST endpoints) without aiohttp's "
             "server machinery, about twice the requests per CPU second; --aiohttp-only sends every request "
             "through aiohttp (to compare).",
    ),
) -> None:
    """Serve mock provider APIs with realistic latency, rate limits (429s with the real
    headers and bodies) and injected faults. Point an SDK at http://HOST:PORT/NAME."""
    import random

    from mock_servers import MockContext, ProfileError, TimeScale, load_profiles
    from mock_servers.guards import Guards
    from mock_servers.server import serve

    names = [p.strip() for p in providers.split(",") if p.strip()] if providers else None
    try:
        try:
            scale = TimeScale(time_scale)
        except ValueError:
            raise ProfileError(f"--time-scale must be a number > 0 (0.01 = 100x faster), got {time_scale}") from None
        profiles = load_profiles(names, profile or [], set_ or [])
    except ProfileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    ctx = MockContext(time_scale=scale, rng=random.Random(seed))
    try:
        serve(profiles, ctx, host=host, port=port, announce=lambda line: typer.echo(line),
              guards=Guards(max_body_bytes=max_body_bytes, header_timeout=header_timeout, idle_timeout=idle_timeout,
                            admin_token=admin_token or None),
              warn=lambda line: typer.echo(line, err=True), fast_front=fast_front)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass


def main() -> None:
    """Entry point of ``python -m mock_servers``."""
    typer.run(mock)
