"""``harness run``: set up targets (a mock started here, or the real API), then run the engine.

Safety for real endpoints: only with ``--target real``; each key is read from the environment
variable the scenario names and only ever placed in request headers (or the query, where the
API wants it); ``--max-rps`` is a hard cap on requests per second across all targets.
"""

from __future__ import annotations


import asyncio
import gc
import hashlib
import os
import socket
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import orjson
from rich.console import Console

from mock_servers.rules import rules_for
from mock_servers.timescale import TimeScale

from harness.runner.caller import TargetRuntime
from harness.runner.config import RunConfig
from harness.runner.engine import Engine
from harness.errors import ScenarioError, TargetUnreachable
from harness.runner.limiter import Rate, RateLimiter
from harness.runner.metrics import NullMetrics, RunnerMetrics
from harness.runner.mockproc import start_mock_for
from harness.runner.progress import ProgressDisplay, summary_table
from harness.scenario import ClientLimits, LoadedScenario

MOCK_KEY = "mock-key-not-a-secret"


def limiter_for(limits: ClientLimits, time_scale: TimeScale) -> tuple[RateLimiter, set[str]]:
    """The client-side limiter a target's configured limits describe (rates in wall time)."""
    rates: dict[str, Rate] = {}
    time_scale = TimeScale.of(time_scale)
    if limits.requests_per_second:
        rates["requests_per_second"] = Rate(time_scale.per_second(limits.requests_per_second), limits.burst or 1.0)
    for dim in ("requests_per_minute", "tokens_per_minute", "input_tokens_per_minute", "output_tokens_per_minute"):
        value = getattr(limits, dim)
        if value:
            burst = (limits.burst or 1.0) if dim == "requests_per_minute" else None
            rates[dim] = Rate.per_minute(value, burst, time_scale)
    return RateLimiter(rates), set(rates)


def build_targets(loaded: LoadedScenario, target: str, mock_base: str | None,
                  time_scale: TimeScale) -> dict[str, TargetRuntime]:
    targets: dict[str, TargetRuntime] = {}
    time_scale = TimeScale.of(time_scale)
    for name, spec in loaded.scenario.targets.items():
        profile = loaded.profiles[name]
        secret: str | None
        if target == "real":
            if not spec.base_url:
                raise ScenarioError(f"targets.{name}.base_url: required with --target real (the API's base URL)")
            if not spec.api_key_env:
                raise ScenarioError(f"targets.{name}.api_key_env: required with --target real (the variable "
                                    "holding the API key; keys are never read from files)")
            secret = os.environ.get(spec.api_key_env, "").strip()
            if not secret:
                raise ScenarioError(f"targets.{name}: environment variable {spec.api_key_env} is not set or empty")
            base = spec.base_url.rstrip("/")
        else:
            secret = None
            base = (spec.mock_url or f"{mock_base}{profile.mount}").rstrip("/")
        rules = rules_for(profile)
        auth_headers, auth_query = rules.credentials(profile, secret or MOCK_KEY)
        limiter, configured = limiter_for(spec.limits, time_scale)
        targets[name] = TargetRuntime(
            name=name, profile=profile, base_url=base, auth_headers=auth_headers, auth_query=auth_query,
            static_headers={**rules.default_headers, **spec.headers}, limiter=limiter,
            configured=configured, learn=spec.limits.learn, secret=secret,
        )
    return targets


def fingerprint(loaded: LoadedScenario, input_path: Path) -> str:
    """What must not change between a run and its --resume: the steps, the input file."""
    sc = loaded.scenario
    stat = input_path.stat()
    doc = {
        "steps": [s.model_dump(mode="json", by_alias=True) for s in sc.steps],
        "function": sc.function,
        "id": sc.input.id,
        "input": str(input_path.resolve()),
        "input_size": stat.st_size,
    }
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def preflight(targets: dict[str, TargetRuntime], timeout: float = 5.0) -> None:
    """Fail within seconds, with a clear message, when a target's host cannot be reached."""
    for t in targets.values():
        parts = urlsplit(t.base_url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise TargetUnreachable(f"cannot reach target {t.name!r} at {safe_url(t.base_url)} ({host}:{port}): "
                                    f"{reason}") from None


def safe_url(url: str) -> str:
    """``url`` with the password of any ``user:password@`` masked, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***@{netloc[1]}").geturl()


def check_writable(path: Path, what: str) -> None:
    """Refuse up front (exit 2) a file that could not be written at the end of a long run: its
    folder is created if missing and a probe file is made in it (root ignores permission bits,
    so access() would not tell; a read-only mount still refuses)."""
    import tempfile

    folder = Path(path).parent if not Path(path).is_dir() else Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".harness-probe-"):
            pass
    except OSError as exc:
        raise ScenarioError(f"{what} {path}: cannot write in {folder} ({exc.strerror or exc}); "
                            "choose a writable folder") from None


def ready_targets(loaded: LoadedScenario, config: RunConfig, stack: ExitStack) -> dict[str, TargetRuntime]:
    """The run's targets, reachable: a mock started for the scenario's profiles (closed with
    ``stack``) unless every target names a running one or the run is ``--target real``."""
    mock_base = None
    if config.target == "mock" and any(t.mock_url is None for t in loaded.scenario.targets.values()):
        mock = stack.enter_context(start_mock_for(loaded, config.time_scale))
        mock_base = mock.base_url
    targets = build_targets(loaded, config.target, mock_base, config.time_scale)
    preflight(targets)
    return targets


def execute(loaded: LoadedScenario, config: RunConfig, console: Console | None = None,
            planned_duration_s: float | None = None) -> dict:
    """Run a scenario to the end (or a stop); returns the summary dictionary.

    ``planned_duration_s`` (the capacity model's, profile time) becomes
    ``harness_planned_duration_seconds`` in wall time, for the "ETA beyond plan" alert."""
    console = console or Console(stderr=True)
    req = opts = config
    if not opts.input.exists():
        raise ScenarioError(f"input file not found: {opts.input} (give --input FILE or input.path in the scenario)")
    check_writable(opts.output, "--output")
    check_writable(opts.checkpoint, "--checkpoint")
    if req.summary_json is not None:
        check_writable(req.summary_json, "--summary-json")
    _check_duplicates(loaded, opts, req.unique_ids, console)
    with ExitStack() as stack:
        targets = ready_targets(loaded, opts, stack)
        metrics = RunnerMetrics(opts.run_id) if req.metrics else NullMetrics(opts.run_id)
        if req.metrics and planned_duration_s is not None:
            metrics.planned_duration_g.set(opts.time_scale.seconds(planned_duration_s))
        if req.metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(req.metrics_port, addr=req.metrics_addr, registry=metrics.registry)
        display = None if req.quiet else stack.enter_context(ProgressDisplay(console, loaded.scenario.name))
        engine = Engine(loaded, opts, targets, metrics, fingerprint(loaded, opts.input),
                        on_tick=display.update if display else None)
        stats = _run_async(engine)
    summary = stats.summary()
    summary.update({"run_id": opts.run_id, "scenario": loaded.scenario.name, "target": req.target,
                    "workers": engine.workers, "output": str(opts.output), "checkpoint": str(opts.checkpoint)})
    if req.summary_json is not None:
        req.summary_json.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    if not req.quiet:
        console.print(summary_table(summary, f"{loaded.scenario.name}: run {opts.run_id}"))
    if req.pushgateway:
        from harness.runner.pushgateway import push_summary

        try:
            push_summary(req.pushgateway, metrics, summary)
        except OSError as exc:  # the run is done and recorded; a lost push is a warning
            console.print(f"[yellow]warning: could not push to the Pushgateway {req.pushgateway}: {exc}[/yellow]")
    if req.metrics_port is not None and req.metrics_linger > 0:
        time.sleep(req.metrics_linger)  # /metrics stays up (daemon thread) until scraped once more
    return summary


def _check_duplicates(loaded: LoadedScenario, opts: RunConfig, refuse: bool, console: Console) -> None:
    """Repeated ids make several output rows with one id: said before the run starts."""
    from harness.runner.inputs import duplicate_ids

    n, examples = duplicate_ids(opts.input, opts.input_format, loaded.scenario.input.id)
    if not n:
        return
    text = (f"{opts.input}: {n} item(s) repeat an earlier id ({', '.join(map(repr, examples))}"
            f"{', ...' if n > len(examples) else ''}); the output will have those ids more than once")
    if refuse:
        raise ScenarioError(text + "; make the ids unique, or run without --unique-ids")
    console.print(f"[yellow]warning: {text} (--unique-ids refuses such an input)[/yellow]")


def run_engine(loaded: LoadedScenario, opts: RunConfig, targets: dict[str, TargetRuntime],
               record_completions: bool = False):
    """One quiet run against ready targets (the sweep's points); returns its RunStats."""
    engine = Engine(loaded, opts, targets, RunnerMetrics(opts.run_id), fingerprint(loaded, opts.input))
    if record_completions:
        engine.stats.completions = []
    return _run_async(engine)


def _run_async(engine: Engine):
    # Everything built so far (modules, profiles, the mock's handle) lives for the whole run:
    # freeze it out of the collector's reach, and collect young objects less often, so full
    # collections do not stall every request in flight (figures in docs/transport.md).
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(20_000, *thresholds[1:])
    try:
        try:
            import uvloop

            return uvloop.run(engine.run())
        except ImportError:  # pragma: no cover
            return asyncio.run(engine.run())
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
