"""The ``harness`` command line (typer). Each subcommand lives in its own module."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from harness import __version__
from mock_servers.cli import mock as mock_command
from harness.commands.worker import worker as worker_command

app = typer.Typer(
    name="harness",
    help="Load-test and capacity-plan batch jobs against rate-limited APIs, on mocks first.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # docstrings reflow: single newlines join, blank lines split
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


app.command(name="mock")(mock_command)
app.command(name="worker")(worker_command)
# -- plugin (issue 13): commands in their own modules ---------------------------------------
from harness.commands.locustfile import locustfile  # noqa: E402
from harness.commands.report import report  # noqa: E402
app.command()(locustfile)
app.command()(report)


def _report_errors(fn):
    """Every command maps errors the same way: a harness error is one line on stderr and its
    class's exit code (2 for bad input, naming the field and value); a ValueError or OSError
    from below (a bad file, a full disk) is bad input too. Never a traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from harness.errors import HarnessError

        try:
            return fn(*args, **kwargs)
        except HarnessError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except (ValueError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper


@app.command()
@_report_errors
def demo(
    out: Path = typer.Option(Path("reports/demo"), "--out", help="Where the report and the load spec go."),
    budget: float = typer.Option(8.0, "--budget", min=0.5, help="Wall seconds per worker count of the sweep."),
) -> None:
    """Reproduce seed 003 end to end on the mocks (sweep, model vs measured vs claimed, plots)
    and write its load spec and partner notice; prints where the report is."""
    from harness.demo import run_demo

    run_demo(out=out, budget=budget)

@app.command()
@_report_errors
def run(
    scenario: Path = typer.Argument(..., help="The scenario YAML (see README, 'Scenario format')."),
    input: Optional[Path] = typer.Option(None, "--input", help="CSV or JSONL input; default input.path of the scenario."),
    output: Optional[Path] = typer.Option(None, "--output", help="Output file (.csv or .jsonl), rows in input order."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Requests in flight at most (default: scenario)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="SQLite journal; default OUTPUT.checkpoint.sqlite."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run recorded in the checkpoint."),
    target: str = typer.Option("mock", "--target", help="mock (start or use a mock server) or real (the real API)."),
    time_scale: float = typer.Option(1.0, "--time-scale", help="Mock time compression (0.01 = 100x faster)."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", help="Stop cleanly once this many dollars are spent (> 0)."),
    max_rps: Optional[float] = typer.Option(None, "--max-rps", help="Hard cap on requests per second (real time, > 0)."),
    metrics_port: Optional[int] = typer.Option(None, "--metrics-port", min=1, max=65535,
                                               help="Serve Prometheus /metrics on 127.0.0.1:P."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar or table (CI)."),
    summary_json: Optional[Path] = typer.Option(None, "--summary-json", help="Write the run summary as JSON."),
    transport: str = typer.Option("fast", "--transport", help="HTTP client: fast (harness.runner.transports.fast, the default), aiohttp or httpx."),
    metrics_addr: str = typer.Option("127.0.0.1", "--metrics-addr", help="Address /metrics listens on (0.0.0.0 "
                                     "inside a container)."),
    metrics_linger: float = typer.Option(0.0, "--metrics-linger", min=0.0, help="Keep /metrics up S seconds "
                                         "after the run, so Prometheus scrapes its final values."),
    pushgateway: Optional[str] = typer.Option(None, "--pushgateway", help="Push the final metrics to this "
                                              "Pushgateway (http://HOST:9091; job harness, grouped by run_id)."),
    no_metrics: bool = typer.Option(False, "--no-metrics", help="Record no metrics at all (measures their cost)."),
    max_item_bytes: int = typer.Option(10 * 1024 * 1024, "--max-item-bytes", min=1,
                                       help="An input record larger than this fails (its line named) instead of "
                                            "being sent as a huge body."),
    unique_ids: bool = typer.Option(False, "--unique-ids", help="Refuse an input whose ids repeat (default: a "
                                    "warning before the run)."),
    keep_connection_failures: bool = typer.Option(False, "--keep-connection-failures", help="On --resume, do "
                                                  "not run again the items that failed because the target "
                                                  "could not be reached (they are run again by default)."),
    breaker_after: int = typer.Option(10, "--breaker-after", min=1, help="Consecutive connection failures (all "
                                      "workers) after which a target's calls pause while it is probed."),
    breaker_give_up: float = typer.Option(60.0, "--breaker-give-up", min=0.0, help="Seconds of probing an "
                                          "unreachable target before the run stops (exit 3, resumable)."),
    mode: str = typer.Option("online", "--mode", help="online (the runner calls the API) or batch (one LLM call "
                             "per item through the provider's Batch API at its batch price; see README)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="--mode batch: requests per batch "
                                             "(default: the provider's most, as the profile says)."),
    engine: str = typer.Option("local", "--engine", help="local (one asyncio process) or celery (chunk tasks on "
                               "Celery workers sharing one limit in Redis; see README 'Scaling out')."),
    broker: Optional[str] = typer.Option(None, "--broker", help="--engine celery: the Redis URL of the workers "
                                         "(default: start a local redis-server and --processes workers)."),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", min=1, help="--engine celery: items per chunk "
                                             "task (default: one chunk per process)."),
    processes: Optional[int] = typer.Option(None, "--processes", min=1, help="--engine celery: worker processes "
                                            "(local default 2; with --broker: counted from the workers)."),
    degraded: bool = typer.Option(False, "--degraded-ok", help="--engine celery: while Redis is down, let each "
                                  "process run on limit/processes instead of pausing."),
    report_dir: Optional[Path] = typer.Option(None, "--report", help="Write summary.json and report.html (one "
                                              "page: the summary table and plots) into this folder."),
) -> None:
    """Run a batch: every input row through the scenario's steps, with workers, client-side
    limits, retries, checkpoint/resume, progress, cost and Prometheus metrics; or, with
    `--mode batch`, through the provider's Batch API (submit, poll, download, rows in order,
    a journal so that `--resume` never submits a batch twice)."""
    from harness.api import run as run_scenario
    from harness.runner.config import RunConfig
    from harness.scenario import load_scenario

    loaded = load_scenario(scenario)
    config = RunConfig.for_scenario(
        loaded, input=input, output=output, checkpoint=checkpoint, resume=resume, workers=workers,
        time_scale=time_scale, max_cost=max_cost, max_rps=max_rps, transport=transport, target=target,
        metrics_port=metrics_port, quiet=quiet, summary_json=summary_json, metrics=not no_metrics,
        metrics_linger=metrics_linger, pushgateway=pushgateway, metrics_addr=metrics_addr,
        max_item_bytes=max_item_bytes, unique_ids=unique_ids, breaker_threshold=breaker_after,
        breaker_give_up=breaker_give_up, retry_connection_failures=not keep_connection_failures)
    if mode not in ("online", "batch"):
        raise _usage(f"--mode must be 'online' or 'batch', got {mode!r}")
    if engine not in ("local", "celery"):
        raise _usage(f"--engine must be 'local' or 'celery', got {engine!r}")
    if engine != "celery" and (broker or chunk_size or processes or degraded):
        raise _usage("--broker, --chunk-size, --processes and --degraded-ok need --engine celery")
    if mode == "batch":
        if engine == "celery":
            raise _usage("--mode batch runs through the provider's Batch API; it takes no --engine celery")
        from harness.runner.batch_mode import execute_batch

        done = execute_batch(loaded, config, batch_size)
        typer.echo(f"{done['items_done']} done, {done['items_failed']} failed of {done['items_total']} in "
                   f"{done['batches_submitted']} batch(es) -> {done['output']}", err=not quiet)
        return
    if batch_size is not None:
        raise _usage("--batch-size applies to --mode batch only")
    if engine == "celery":
        from harness.runner.distributed.coordinator import CeleryOptions, execute_distributed
        from harness.runner.summary import RunSummary

        summary = RunSummary.from_dict(execute_distributed(loaded, config, CeleryOptions(
            broker=broker, chunk_size=chunk_size, processes=processes, degraded=degraded, metrics_port=metrics_port)))
    else:
        summary = run_scenario(loaded, config)
    if report_dir is not None:
        import json

        from harness.reporting.html import write_html

        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "summary.json").write_text(json.dumps(summary.as_dict(), indent=2, default=str))
        typer.echo(f"report: {write_html(report_dir)}", err=True)
    # where the output went, always (on stderr beside the progress; on stdout with --quiet)
    typer.echo(f"{summary.items_done} done, {summary.items_failed} failed of {summary.items_total}"
               f" -> {summary.output} (checkpoint {summary.checkpoint})", err=not quiet)
    if summary.stop_reason:
        typer.echo(f"stopped: {summary.stop_reason}", err=True)
        raise typer.Exit(3)


@app.command()
@_report_errors
def failed(
    checkpoint: Path = typer.Argument(..., help="The run's checkpoint (SQLite)."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write the failed input rows here (JSONL); default stdout."),
) -> None:
    """Export the failed items of a run (their input rows, with the reason) so they can be re-run."""
    import orjson

    from harness.runner.checkpoint import Checkpoint
    from harness.runner.inputs import read_items
    from harness.runner.run import check_writable

    if output is not None:
        check_writable(output, "--output")
    ckpt = Checkpoint.open_existing(checkpoint)
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
    from harness.errors import ScenarioError

    return ScenarioError(message)


@app.command()
@_report_errors
def loadspec(
    plan: Optional[Path] = typer.Option(None, "--plan", help="A scenario: predict its load with the capacity model."),
    run_ckpt: Optional[Path] = typer.Option(None, "--run", help="A finished run's checkpoint: use what it measured."),
    items: Optional[int] = typer.Option(None, "--items", min=1,
                                        help="Items in the batch (--plan: default the scenario's `items`; "
                                             "--run: project the measured rates to N items)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1,
                                          help="Workers (--plan only; default the scenario's)."),
    start: Optional[str] = typer.Option(None, "--start", help="Start date (ISO: 2025-07-01 or 2025-07-01T09:00)."),
    partner: Optional[str] = typer.Option(None, "--partner", help="The partner's name in the notice (default: the "
                                                                   "scenario's target names)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder; default reports/loadspec-SCENARIO/."),
) -> None:
    """Write the DevOps load spec (LOAD_SPEC.md, load_spec.json) and the partner notice
    (partner_notice.txt): req/s, peak, connections, bandwidth, daily volume, duration,
    errors, our limits and retries, monitoring, rollback, questions for the partner."""
    from harness.reporting.loadspec import LoadSpec, parse_start, write_loadspec
    from harness.scenario import load_scenario

    if (plan is None) == (run_ckpt is None):
        raise _usage("give exactly one of --plan SCENARIO or --run CHECKPOINT")
    when = parse_start(start)
    if plan is not None:
        loaded = load_scenario(plan)
        n = items if items is not None else loaded.scenario.items
        if not n:
            raise _usage("--items N is required (the scenario has no `items`)")
        spec = LoadSpec.from_plan(loaded, n, workers or loaded.scenario.workers, partner=partner, start=when)
    else:
        if workers is not None:
            raise _usage("--workers applies to --plan only (a run was measured at its own worker count)")
        spec = LoadSpec.from_run(run_ckpt, items=items, partner=partner, start=when)  # type: ignore[arg-type]
    # a run's spec and a plan's go to different folders by default, so one never replaces the other
    folder = out or Path("reports") / (f"loadspec-{spec.scenario}" + ("-run" if spec.source == "run" else ""))
    replaced = _spec_source(folder / "load_spec.json")
    if replaced is not None and replaced != spec.source:
        typer.echo(f"note: {folder}/ held the load spec of a {replaced}; it is replaced by this {spec.source}'s",
                   err=True)
    written = write_loadspec(spec, folder)
    if plan is not None:
        _batch_route_section(loaded, n, [workers or loaded.scenario.workers], None,
                             written.get("LOAD_SPEC.md"), written.get("load_spec.json"))
    v = spec.view()
    typer.echo(f"{spec.scenario} ({spec.source}): {v['concurrency']} connections, {v['sustained_rps']} sustained, "
               f"peak {v['peak_rps']}, {v['bandwidth_out']} out, {v['bandwidth_in']} in, {v['daily_bytes']}, "
               f"{v['total_requests']} requests in {v['duration']}")
    for path in written.values():
        typer.echo(f"  {path}")


def _spec_source(path: Path) -> Optional[str]:
    """``plan`` or ``run``: where the load spec already in a folder came from (None: none)."""
    import json

    try:
        return json.loads(path.read_text()).get("source")
    except (OSError, ValueError, AttributeError):
        return None


def _batch_route_section(loaded, items, workers, console, markdown, json_path) -> None:
    """The provider Batch API route beside an online plan (harness/planning/batch_route.py)."""
    from harness.commands.batch_plan import add_to_reports, route_for_scenario
    from harness.reporting.batch_view import print_batch_route

    route = route_for_scenario(loaded, items, workers)
    add_to_reports(route, markdown, json_path)
    if console is not None:
        print_batch_route(route, console)


def _parse_workers(text: str) -> list[int]:
    try:
        ws = sorted({int(w) for w in text.replace(" ", "").split(",") if w})
    except ValueError:
        raise _usage(f"--workers must be comma-separated integers, e.g. 1,3,5,10; got {text!r}") from None
    if not ws or ws[0] < 1:
        raise _usage(f"--workers must be integers >= 1, got {text!r}")
    return ws


def _parse_sets(sets: Optional[list[str]]) -> dict:
    """``PROVIDER.FIELD=VALUE`` pairs (VALUE read as YAML: numbers, null, lists) for load_scenario."""
    import yaml

    out: dict = {}
    for text in sets or []:
        key, sep, value = text.partition("=")
        if not sep or "." not in key:
            raise _usage(f"--set must be PROVIDER.FIELD=VALUE, e.g. openai.limits.requests_per_minute=60; got {text!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


@app.command()
@_report_errors
def plan(
    scenario: Path = typer.Argument(..., help="The scenario YAML."),
    items: Optional[int] = typer.Option(None, "--items", min=1, help="Items in the batch (default: the scenario's items or input)."),
    workers: str = typer.Option("1,3,5,10", "--workers", help="Comma-separated worker counts."),
    latency_factor: float = typer.Option(1.0, "--latency-factor", help="What if every call took F times as long."),
    limit_factor: float = typer.Option(1.0, "--limit-factor", help="What if every rate limit were F times as high."),
    set_: Optional[list[str]] = typer.Option(
        None, "--set", help="What if a profile field were VALUE: PROVIDER.FIELD=VALUE (repeatable)."),
    json_out: bool = typer.Option(False, "--json", help="Print the table as JSON instead."),
    deadline: Optional[str] = typer.Option(None, "--deadline", help="Batch route: the time the batch must be "
                                           "done in (3600, 90m, 24h, 2d); decides online vs the Batch API."),
    budget: Optional[float] = typer.Option(None, "--budget", help="Batch route: the most the batch may cost (dollars)."),
    processes: Optional[int] = typer.Option(None, "--processes", min=1, help="Topology: the workers spread over "
                                            "P processes (Celery); a note per worker count says what binds."),
    chunk_size: Optional[int] = typer.Option(None, "--chunk-size", min=1, help="Topology: static chunks of N "
                                             "items (seed 001: 125) instead of a shared queue."),
) -> None:
    """The capacity model alone: for each worker count, items/s (and per minute), the time for
    N items, speed-up and % faster vs one worker, the binding constraint and the 429 risk; for
    OpenAI and Anthropic calls also the provider's Batch API route (cost, expected and p99
    completion) and which route to take. With --processes (and --chunk-size), also the makespan on
    that topology (static chunks vs a shared queue)."""
    import json

    from harness.api import plan as plan_scenario
    from harness.reporting.console import make_console
    from harness.reporting.report import print_table, to_json
    from harness.scenario import load_scenario

    ws = _parse_workers(workers)
    if latency_factor <= 0 or limit_factor <= 0:
        raise _usage("--latency-factor and --limit-factor must be > 0")
    loaded = load_scenario(scenario, extra_sets=_parse_sets(set_))
    result = plan_scenario(loaded, ws, items, latency_factor=latency_factor, limit_factor=limit_factor)
    sc, n = loaded.scenario, result.items
    if processes is not None or chunk_size is not None:
        from harness.planning.planner import CapacityModel, WhatIf
        from harness.planning.topology import Topology

        model = CapacityModel(loaded, WhatIf(latency_factor, limit_factor))
        for w in ws:
            p = min(processes or w, w)
            topo = Topology(p, max(1, w // p), chunk_size)
            result.notes.append(f"{w} workers as {model.predict_topology(topo, n).describe()}")
    if latency_factor != 1.0 or limit_factor != 1.0 or set_:
        result.notes.append(f"what if: latency x{latency_factor:g}, limits x{limit_factor:g}"
                            + (f", {', '.join(set_ or [])}" if set_ else ""))
    from harness.commands.batch_plan import batch_route_for
    from harness.planning.planner import CapacityModel, WhatIf

    route = batch_route_for(CapacityModel(loaded, WhatIf(latency_factor, limit_factor)), n,
                            [p.predicted for p in result.points], deadline, budget)
    if json_out:
        typer.echo(json.dumps({**to_json(result), "batch_route": route.as_dict()}, indent=2, default=str))
        return
    con = make_console()
    print_table(result, con, title=f"{sc.name}: plan for {n:,} items", with_claims=False)
    for note in result.notes:
        con.print(f"note: {note}")
    from harness.reporting.batch_view import print_batch_route

    print_batch_route(route, con)


def _report(loaded, result, verdicts, out: Optional[Path], title: str, elapsed: float) -> None:
    from harness.reporting.console import make_console
    from harness.reporting.report import default_out_dir, print_result, write_report

    con = make_console()
    out_dir = out or default_out_dir(loaded.scenario.name)
    files = write_report(result, out_dir, verdicts, title=title, elapsed_s=elapsed)
    print_result(result, verdicts, con)
    _batch_route_section(loaded, result.items, [p.workers for p in result.points], con, files.get("report.md"),
                         files.get("report.json"))
    con.print(f"report: {out_dir}/ ({', '.join(sorted(p.name for p in files.values()))}) in {elapsed:.0f} s")


def _check_out(loaded, out: Optional[Path]) -> None:
    """The report folder is writable: found before the sweep, not after it."""
    from harness.reporting.report import default_out_dir
    from harness.runner.run import check_writable

    check_writable((out or default_out_dir(loaded.scenario.name)) / "report.md", "--out")


def _check_time_scale(value: Optional[float]) -> None:
    """nan compares false with everything, so it is tested as "not > 0"."""
    if value is not None and not value > 0:
        raise _usage(f"--time-scale must be a number > 0 (0.01 = 100x faster), got {value}")


def _progress(message: str) -> None:
    from harness.reporting.console import make_console

    make_console().print(f"[dim]{message}[/dim]")


@app.command()
@_report_errors
def sweep(
    scenario: Path = typer.Argument(..., help="The scenario YAML."),
    workers: str = typer.Option("1,3,5,10", "--workers", help="Comma-separated worker counts."),
    items: Optional[int] = typer.Option(None, "--items", min=1, help="Items to predict for (default: scenario/input)."),
    sample: Optional[int] = typer.Option(None, "--sample", min=1, help="Items actually run per worker count (default: what fits the budget)."),
    time_scale: Optional[float] = typer.Option(None, "--time-scale", help="Mock time compression (default: chosen for accuracy)."),
    budget: float = typer.Option(12.0, "--budget", min=0.1, help="Wall seconds per worker count when choosing the sample."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default reports/SCENARIO-TIMESTAMP/)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="The mock's random seed: the same latencies drawn in the "
                                       "same order, so two sweeps differ by their profiles alone."),
) -> None:
    """Run the scenario on the mocks at each worker count (sampled, time-compressed), print the
    model next to the measurement with the error, and write report.md, report.json and plots."""
    import time

    from harness.api import sweep as sweep_scenario
    from harness.scenario import load_scenario

    t0 = time.monotonic()
    ws = _parse_workers(workers)
    _check_time_scale(time_scale)
    loaded = load_scenario(scenario)
    _check_out(loaded, out)
    result = sweep_scenario(loaded, ws, items, sample=sample, time_scale=time_scale, budget_s=budget,
                            progress=_progress, seed=seed)
    _report(loaded, result, None, out, f"Sweep: {loaded.scenario.name}", time.monotonic() - t0)


@app.command()
@_report_errors
def reproduce(
    scenario: Path = typer.Argument(..., help="A seed scenario with a claims: section (scenarios/seeds/*.yaml)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default reports/SCENARIO-TIMESTAMP/)."),
    time_scale: Optional[float] = typer.Option(None, "--time-scale", help="Mock time compression (default: chosen for accuracy)."),
    budget: float = typer.Option(12.0, "--budget", min=0.1, help="Wall seconds per worker count."),
    engine: str = typer.Option("local", "--engine", help="local (one asyncio process) or celery (the document's "
                               "static chunk tasks on real Celery worker processes and a local redis-server)."),
) -> None:
    """A sweep at every worker count of the document's table, with its claims as a third column
    and a verdict on every claim (holds within 15%, or contradicted with the arithmetic)."""
    import time

    from harness.api import reproduce as reproduce_scenario
    from harness.scenario import load_scenario

    if engine not in ("local", "celery"):
        raise _usage(f"--engine must be 'local' or 'celery', got {engine!r}")
    t0 = time.monotonic()
    _check_time_scale(time_scale)
    loaded = load_scenario(scenario)
    _check_out(loaded, out)
    if engine == "celery":
        from harness.planning.celery_sweep import reproduce_on_celery

        done = reproduce_on_celery(loaded, time_scale=time_scale, budget_s=budget, progress=_progress)
    else:
        done = reproduce_scenario(loaded, time_scale=time_scale, budget_s=budget, progress=_progress)
    claims = loaded.scenario.claims or {}
    _report(loaded, done.result, done.verdicts, out,
            f"Reproduction: {loaded.scenario.name} ({claims.get('source', 'document')})", time.monotonic() - t0)


@app.command()
@_report_errors
def knee(
    history: Path = typer.Argument(..., help="Locust's PREFIX_stats_history.csv (run with --csv PREFIX --csv-full-history)."),
    slo_p95: Optional[float] = typer.Option(None, "--slo-p95", help="p95 latency SLO in seconds (real time with --time-scale)."),
    max_error_ratio: float = typer.Option(0.01, "--max-error-ratio", help="Largest share of errors (and of 429s) a step may have."),
    max_429_ratio: Optional[float] = typer.Option(None, "--max-429-ratio", help="Largest share of 429s (default: --max-error-ratio)."),
    min_growth: float = typer.Option(0.25, "--min-growth", help="A step must raise req/s by this share of its users' rise."),
    time_scale: float = typer.Option(1.0, "--time-scale", help="The mock's --time-scale: report rates and p95 in real time."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Find the knee of a Locust step ramp: the highest sustainable req/s and users before p95
    latency, the 429 ratio or the error ratio breaks the SLO (or the throughput stops growing)."""
    import json

    from harness.planning.knee import KneeConfig, format_report, knee_from_csv

    _check_time_scale(time_scale)
    config = KneeConfig(slo_p95=slo_p95, max_error_ratio=max_error_ratio, max_rate_limited_ratio=max_429_ratio,
                        min_growth=min_growth, time_scale=time_scale)
    report = knee_from_csv(history, config)
    typer.echo(json.dumps(report.to_dict(), indent=2) if json_out else format_report(report))
    if report.knee is None:
        raise typer.Exit(1)


# -- commands in their own modules (harness/commands/) --
from harness.commands.calibrate import calibrate as _calibrate  # noqa: E402

app.command(name="calibrate")(_calibrate)
from harness.commands.compare import compare as _compare  # noqa: E402

app.command(name="compare")(_compare)


def main() -> None:
    app()
