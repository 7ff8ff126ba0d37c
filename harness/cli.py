"""The ``harness`` command line (typer). Each subcommand lives in its own module."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import __version__

app = typer.Typer(
    name="harness",
    help="Load-test and capacity-plan batch jobs against rate-limited APIs, on mocks first.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"harness {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Load-test and capacity-plan batch jobs against rate-limited APIs, on mocks first."""


@app.command()
def mock(
    providers: str = typer.Option(
        "openai,anthropic,cardgenius,spapi,keepa,drive,research,email", "--providers",
        help="Comma-separated shipped profiles to serve (each under /NAME/).",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, help="Port to listen on (0 picks a free one and prints it)."),
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
) -> None:
    """Serve mock provider APIs with realistic latency, rate limits (429s with the real
    headers and bodies) and injected faults. Point an SDK at http://HOST:PORT/NAME."""
    import random

    from mock_servers import MockContext, ProfileError, TimeScale, load_profiles
    from mock_servers.server import serve

    names = [p.strip() for p in providers.split(",") if p.strip()]
    try:
        if time_scale <= 0:
            raise ProfileError(f"--time-scale must be > 0, got {time_scale}")
        profiles = load_profiles(names, profile or [], set_ or [])
    except ProfileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    ctx = MockContext(time_scale=TimeScale(time_scale), rng=random.Random(seed))
    try:
        serve(profiles, ctx, host=host, port=port, announce=lambda line: typer.echo(line))
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass


@app.command()
def demo(
    time_scale: float = typer.Option(0.01, "--time-scale", help="Compression of the mock's time (0.01 = 100x)."),
    sample: int = typer.Option(60, help="Users sent per worker count."),
) -> None:
    """Start the mocks and run a time-compressed seed batch, printing its speed table."""
    from .demo import run_demo

    run_demo(time_scale=time_scale, sample=sample)


@app.command()
def run(
    scenario: Path = typer.Argument(..., help="The scenario YAML (see README, 'Scenario format')."),
    input: Optional[Path] = typer.Option(None, "--input", help="CSV or JSONL input; default input.path of the scenario."),
    output: Optional[Path] = typer.Option(None, "--output", help="Output file (.csv or .jsonl), rows in input order."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Requests in flight at most (default: scenario)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="SQLite journal; default OUTPUT.checkpoint.sqlite."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run recorded in the checkpoint."),
    target: str = typer.Option("mock", "--target", help="mock (start or use a mock server) or real (the real API)."),
    time_scale: float = typer.Option(1.0, "--time-scale", help="Mock time compression (0.01 = 100x faster)."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", help="Stop cleanly once this many dollars are spent."),
    max_rps: Optional[float] = typer.Option(None, "--max-rps", help="Hard cap on requests per second (real time)."),
    metrics_port: Optional[int] = typer.Option(None, "--metrics-port", help="Serve Prometheus /metrics on 127.0.0.1:P."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar or table (CI)."),
    summary_json: Optional[Path] = typer.Option(None, "--summary-json", help="Write the run summary as JSON."),
    transport: str = typer.Option("aiohttp", "--transport", help="HTTP client: aiohttp (fast) or httpx."),
) -> None:
    """Run a batch: every input row through the scenario's steps, with workers, client-side
    limits, retries, checkpoint/resume, progress, cost and Prometheus metrics."""
    from .errors import HarnessError
    from .engine import RunOptions
    from .run import RunRequest, execute
    from .scenario import load_scenario

    try:
        if target not in ("mock", "real"):
            raise _usage(f"--target must be 'mock' or 'real', got {target!r}")
        if time_scale <= 0:
            raise _usage(f"--time-scale must be > 0, got {time_scale}")
        loaded = load_scenario(scenario)
        sc = loaded.scenario
        in_path = input or loaded.resolve(sc.input.path)
        if in_path is None:
            raise _usage("no input: give --input FILE or input.path in the scenario")
        out_path = output or loaded.resolve(sc.output.path) or Path(f"{sc.name}-output.jsonl")
        ckpt = checkpoint or out_path.with_name(out_path.name + ".checkpoint.sqlite")
        opts = RunOptions(input=in_path, output=out_path, checkpoint=ckpt, resume=resume, workers=workers,
                          time_scale=time_scale, max_cost=max_cost, max_rps=max_rps, transport=transport,
                          input_format=sc.input.format, output_format=sc.output.format)
        summary = execute(RunRequest(loaded, opts, target, metrics_port, quiet, summary_json))  # type: ignore[arg-type]
    except HarnessError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # CheckpointError, ValueError from inputs: a message, not a traceback
        if type(exc).__name__ in ("CheckpointError",) or isinstance(exc, (ValueError, OSError)):
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        raise
    if quiet:
        typer.echo(f"{summary['items_done']} done, {summary['items_failed']} failed of {summary['items_total']}"
                   f" -> {summary['output']}")
    if summary.get("stop_reason"):
        raise typer.Exit(3)


@app.command()
def failed(
    checkpoint: Path = typer.Argument(..., help="The run's checkpoint (SQLite)."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write the failed input rows here (JSONL); default stdout."),
) -> None:
    """Export the failed items of a run (their input rows, with the reason) so they can be re-run."""
    import orjson

    from .checkpoint import Checkpoint, CheckpointError
    from .inputs import read_items

    try:
        ckpt = Checkpoint.open_existing(checkpoint)
    except CheckpointError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    failed_rows = {seq: (item_id, reason) for seq, item_id, reason, _ in ckpt.failed()}
    in_path = Path(ckpt.get_meta("input") or "")
    fmt = ckpt.get_meta("input_format") or None
    ckpt.close()
    out = output.open("wb") if output else None
    n = 0
    try:
        for item in read_items(in_path, fmt):
            if item.seq in failed_rows:
                row = dict(item.row or {})
                row["_failed_reason"] = failed_rows[item.seq][1]
                line = orjson.dumps(row) + b"\n"
                if out:
                    out.write(line)
                else:
                    typer.echo(line.decode(), nl=False)
                n += 1
    finally:
        if out:
            out.close()
    typer.echo(f"{n} failed item(s) exported" + (f" to {output}" if output else ""), err=True)


def _usage(message: str) -> Exception:
    from .errors import ScenarioError

    return ScenarioError(message)


def main() -> None:
    app()


def mock_main() -> None:
    """Entry point of ``python -m mock_servers``: the ``mock`` subcommand alone."""
    typer.run(mock)
