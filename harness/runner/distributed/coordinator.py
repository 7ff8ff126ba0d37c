"""``harness run --engine celery``: split the input into chunk tasks, send them, show one
progress bar from the run's Redis counters, requeue the chunk of a worker that vanished, and
merge the chunks' outputs in input order.

The run folder (``OUTPUT.run/``) holds the plan, the chunk inputs and each chunk's checkpoint
and output; ``--resume`` sends again every chunk without its done marker, and each resumes
from its own journal.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from rich.console import Console

from harness.errors import CheckpointError, HarnessError, ScenarioError, SetupError
from harness.runner.distributed import chunks as ch
from harness.runner.distributed.keys import RunKeys
from harness.runner.redis_limiter import safe_url
from harness.runner.stats import RunStats

POLL_SECONDS = 0.25
RUN_META = "run.sqlite"  # the whole run's summary, as a checkpoint's meta: `harness loadspec --run` reads it
LEASE_GRACE = 1.0  # seconds a chunk's lease may be missing before its worker counts as gone


class DistributedRunError(HarnessError):
    """A chunk failed for good, or the run did not finish in the time given (exit 1)."""


@dataclass
class CeleryOptions:
    broker: str | None = None        # None: start a local redis-server and local workers
    chunk_size: int | None = None    # None: one chunk per process (the seeds' static chunks)
    processes: int | None = None     # pool processes in the cluster (None: ask the workers; local: 2)
    degraded: bool = False           # while Redis is down, each process takes limit/processes
    run_dir: Path | None = None
    metrics_port: int | None = None  # local workers: pool process i serves /metrics on PORT+i
    timeout: float | None = None     # give up (exit with a resume hint) after this many wall seconds
    mock_base: str | None = None     # a mock already running (a sweep's); None: start one if the scenario needs it
    lease_seconds: float = field(default_factory=lambda: float(os.environ.get("HARNESS_LEASE_SECONDS", "10")))


def run_folder(output: Path, given: Path | None) -> Path:
    return Path(given) if given is not None else output.with_name(output.name + ".run")


def execute_distributed(loaded, config, copts: CeleryOptions, console: Console | None = None) -> dict:
    """Run ``loaded`` with ``config`` (a :class:`harness.runner.config.RunConfig`) on Celery
    workers; returns the summary dictionary (as :func:`harness.runner.run.execute`)."""
    from harness.runner.run import build_targets, preflight
    from harness.runner.inputs import count_items
    from harness.runner.mockproc import start_mock_for
    from harness.runner.progress import ProgressDisplay, summary_table

    console = console or Console(stderr=True)
    req = opts = config
    if opts.max_cost is not None:
        raise ScenarioError("--max-cost is not supported with --engine celery yet (each chunk would stop on "
                            "its own share); run with --engine local")
    if not opts.input.exists():
        raise ScenarioError(f"input file not found: {opts.input} (give --input FILE or input.path in the scenario)")
    if loaded.path is None:
        raise ScenarioError("--engine celery needs the scenario as a file (workers load it from its path)")
    folder = run_folder(opts.output, copts.run_dir).resolve()
    plan_path = folder / ch.PLAN
    if opts.resume and not plan_path.exists():
        raise CheckpointError(f"{folder} holds no distributed run to resume (no {ch.PLAN}); run without --resume")
    if not opts.resume and folder.exists() and any(folder.iterdir()):
        raise CheckpointError(f"run folder {folder} exists; use --resume to continue it or remove it")
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        processes = copts.processes
        if copts.broker is None:
            from harness.runner.distributed.local import LocalCluster

            processes = processes or 2
            console.print(f"[dim]starting a local redis-server and {processes} worker processes[/dim]")
            cluster = stack.enter_context(LocalCluster(folder / "local", processes, metrics_port=copts.metrics_port))
            broker = cluster.broker
        else:
            broker = copts.broker
        from harness.runner.distributed.app import QUEUE, make_app
        from harness.runner.distributed.tasks import TASK_NAME, redis_client

        app = make_app(broker)
        client = redis_client(broker)
        _check_redis(client, broker)
        if processes is None:
            processes = _cluster_processes(app)
            if not processes:
                raise SetupError(f"no harness worker answers on {safe_url(broker)}: start some (harness worker "
                                 "--broker URL), or give --processes P to send the chunks anyway")
        if opts.resume:
            plan = ch.RunPlan.load(folder)
            mock_base = plan.mock_base
        else:
            plan = None
            mock_base = None
        if copts.mock_base is not None:
            mock_base = copts.mock_base
        elif req.target == "mock" and any(t.mock_url is None for t in loaded.scenario.targets.values()):
            mock = stack.enter_context(start_mock_for(loaded, opts.time_scale))
            mock_base = mock.base_url
        preflight(build_targets(loaded, req.target, mock_base, opts.time_scale))
        if plan is None:
            total = opts.total_hint if opts.total_hint is not None else count_items(opts.input, opts.input_format)
            size = copts.chunk_size or max(1, math.ceil(total / processes))
            fmt, sizes = ch.split_input(opts.input, opts.input_format, folder, size)
            workers = opts.workers or loaded.scenario.workers
            out_fmt = opts.output_format or ("csv" if opts.output.suffix.lower() == ".csv" else "jsonl")
            plan = ch.RunPlan(run_id=opts.run_id, scenario=str(loaded.path.resolve()), input=str(opts.input.resolve()),
                              output=str(opts.output.resolve()), input_format=fmt, output_format=out_fmt,
                              chunks=len(sizes), chunk_size=size, items=sum(sizes),
                              workers_per_chunk=max(1, workers // processes), time_scale=opts.time_scale.factor,
                              transport=opts.transport, target_kind=req.target, mock_base=mock_base,
                              redis_url=broker, degraded=copts.degraded, processes=processes, sizes=sizes,
                              lease_seconds=copts.lease_seconds)
        else:  # a resumed run: this cluster's broker and mock now
            plan.redis_url, plan.mock_base, plan.processes = broker, mock_base, processes
        plan.save(folder)
        keys = RunKeys(plan.run_id)
        display = None if req.quiet else stack.enter_context(ProgressDisplay(console, loaded.scenario.name))
        stats = _watch(app, client, keys, plan, folder, display, copts.timeout, QUEUE, TASK_NAME)
        timings = {int(k): v.decode().split() for k, v in client.hgetall(keys.timing).items()}
    rows = ch.merge_outputs(folder, plan)
    summary = stats.summary()
    _add_chunk_figures(summary, folder, plan)
    summary.update({"run_id": plan.run_id, "scenario": loaded.scenario.name, "target": req.target,
                    "workers": plan.workers_per_chunk * processes, "output": plan.output, "rows": rows,
                    "checkpoint": str(folder), "engine": "celery", "chunks": plan.chunks,
                    "chunk_size": plan.chunk_size, "processes": processes,
                    "workers_per_process": plan.workers_per_chunk,
                    "chunk_timings": {str(i): {"worker": w, "engine_wall_seconds": float(t)}
                                      for i, (w, t) in sorted(timings.items())},
                    "makespan_wall_seconds": makespan(timings)})
    _write_run_meta(folder / RUN_META, {"summary": orjson.dumps(summary).decode(), "scenario": plan.scenario,
                                        "input": plan.input, "time_scale": repr(plan.time_scale)})
    if req.summary_json is not None:
        req.summary_json.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    if not req.quiet:
        console.print(summary_table(summary, f"{loaded.scenario.name}: run {plan.run_id} on {processes} processes"))
    return summary


def _check_redis(client, broker: str) -> None:
    import redis

    try:
        client.ping()
    except redis.RedisError as exc:
        raise SetupError(f"cannot reach Redis at {safe_url(broker)}: {exc} (start redis-server, or "
                                  "leave out --broker to start a local one)") from None


def _cluster_processes(app, attempts: int = 4) -> int:
    """Pool processes of every worker answering (0 if none answers in ``attempts`` tries of
    2 s: a busy worker answers control messages late)."""
    for _ in range(attempts):
        stats = app.control.inspect(timeout=2.0).stats() or {}
        n = sum(int(s.get("pool", {}).get("max-concurrency", 0) or 0) for s in stats.values())
        if n:
            return n
    return 0


def _watch(app, client, keys: RunKeys, plan: ch.RunPlan, folder: Path, display, timeout: float | None,
           queue: str, task_name: str) -> RunStats:
    """Send the unfinished chunks, then follow the run to its end."""
    import redis

    pending = [i for i in range(plan.chunks) if not ch.chunk_done_marker(folder, i).exists()]
    done_before = sum(plan.sizes[i] for i in range(plan.chunks) if i not in set(pending))
    stats = RunStats(time_scale=plan.time_scale)
    stats.start(total=plan.items, already_done=done_before)
    for i in pending:
        client.hdel(keys.progress, str(i))
        app.send_task(task_name, args=[str(folder), i], queue=queue)
    # a key only this run sets: gone means Redis lost its data (restarted without persistence),
    # queued chunks with it; every unfinished chunk not running then is sent again
    client.set(keys.alive, "1", ex=7 * 86_400)
    lost_at: float | None = None
    seen_leased: set[int] = set()
    lost_since: dict[int, float] = {}
    deadline = None if timeout is None else time.monotonic() + timeout
    todo = set(pending)
    outage = ""
    while todo:
        time.sleep(POLL_SECONDS)
        try:
            finished = {int(x) for x in client.smembers(keys.done)}
            progress = client.hgetall(keys.progress)
            statuses = client.hgetall(keys.status)
            errors = client.hgetall(keys.errors)
            leased = {i for i in todo if client.exists(keys.lease(i))}
            outage = ""
        except redis.RedisError as exc:
            outage = f"Redis unreachable ({type(exc).__name__}); waiting for it"
            _show(display, stats, outage)
            continue
        todo -= finished
        if not client.exists(keys.alive):
            client.set(keys.alive, "1", ex=7 * 86_400)
            lost_at = time.monotonic()
        if lost_at is not None and time.monotonic() - lost_at > plan.lease_seconds + LEASE_GRACE:
            lost_at = None  # running chunks have taken their leases again by now
            for i in todo - {i for i in todo if client.exists(keys.lease(i))}:
                if not ch.chunk_done_marker(folder, i).exists():
                    app.send_task(task_name, args=[str(folder), i], queue=queue)
        if errors:
            msg = "; ".join(f"chunk {k.decode()}: {v.decode()}" for k, v in errors.items())
            raise DistributedRunError(f"{msg} (fix it, then --resume)")
        _progress(stats, progress, pending)
        outage = "; ".join(sorted({v.decode() for v in statuses.values()}))[:200]
        now = time.monotonic()
        # a chunk whose lease vanished while unfinished: its worker died; send it again
        for i in list(todo):
            if i in leased:
                seen_leased.add(i)
                lost_since.pop(i, None)
            elif i in seen_leased:
                first = lost_since.setdefault(i, now)
                if now - first > LEASE_GRACE and not ch.chunk_done_marker(folder, i).exists():
                    seen_leased.discard(i)
                    lost_since.pop(i, None)
                    app.send_task(task_name, args=[str(folder), i], queue=queue)
        _show(display, stats, outage)
        if deadline is not None and now > deadline:
            raise DistributedRunError(f"{len(todo)} chunks unfinished after {timeout:g} s; --resume continues")
    _progress(stats, client.hgetall(keys.progress), pending)
    stats.finish(None)
    _show(display, stats, "")
    return stats


def _progress(stats: RunStats, progress: dict, pending: list[int]) -> None:
    done = failed = requests = limited = 0
    wanted = {str(i).encode() for i in pending}
    for k, v in progress.items():
        if k not in wanted:
            continue
        d, f, r, q = (int(x) for x in v.split())
        done, failed, requests, limited = done + d, failed + f, requests + r, limited + q
    # chunks resumed from their journals count their earlier items as this run's here
    stats.done, stats.failed = done, failed
    stats.outcomes.clear()
    stats.outcomes.update({"ok": requests - limited, "rate_limited": limited})
    stats.sample()


def _show(display, stats: RunStats, outage: str) -> None:
    if display is None:
        return
    display.update(stats)
    if outage:
        display.progress.update(display.task, extra=f"[yellow]{outage}[/yellow]")


def makespan(timings: dict[int, list[str]]) -> float:
    """The run's length without the chunks' start-up: the busiest process's engine time (the
    sum over the chunks it ran). Start-up (task dispatch, engine start) is real time, not
    compressed by --time-scale, so a time-compressed run leaves it out to compare with the model."""
    per: dict[str, float] = {}
    for worker, seconds in timings.values():
        per[worker] = per.get(worker, 0.0) + float(seconds)
    return max(per.values(), default=0.0)


def _add_chunk_figures(summary: dict, folder: Path, plan: ch.RunPlan) -> None:
    """What only the chunks measured (from each chunk checkpoint's final summary): requests by
    outcome, retries, failures, tokens, cost, bytes (summed), peak in flight (summed: the chunks
    ran side by side) and latency percentiles (the largest chunk's: an upper bound)."""
    import sqlite3
    from collections import Counter

    parts = []
    for i in range(plan.chunks):
        path = ch.chunk_checkpoint(folder, i)
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            row = db.execute("SELECT value FROM meta WHERE key = 'summary'").fetchone()
            db.close()
        except sqlite3.Error:
            continue
        if row:
            parts.append(orjson.loads(row[0]))
    if not parts:
        return
    for key in ("requests_by_outcome", "retries_by_reason", "failure_reasons"):
        total: Counter = Counter()
        for p in parts:
            total.update(p.get(key) or {})
        summary[key] = dict(total)
    requests = sum(summary["requests_by_outcome"].values())
    real = summary["duration_real_seconds"]
    summary["requests"] = requests
    summary["rate_limited_ratio"] = summary["requests_by_outcome"].get("rate_limited", 0) / requests if requests else 0.0
    summary["requests_per_second_real"] = requests / real if real > 0 else 0.0
    summary["tokens"] = {k: sum(p["tokens"][k] for p in parts) for k in ("input", "output")}
    summary["cost_dollars"] = round(sum(p["cost_dollars"] for p in parts), 6)
    summary["bytes"] = {k: sum(p["bytes"][k] for p in parts) for k in ("out", "in")}
    summary["peak_in_flight"] = sum(p["peak_in_flight"] for p in parts)
    summary["latency_real_seconds"] = {q: max(p["latency_real_seconds"][q] for p in parts)
                                       for q in parts[0]["latency_real_seconds"]}


def _write_run_meta(path: Path, meta: dict[str, str]) -> None:
    """The merged summary in a checkpoint-shaped meta table (written whole, then renamed)."""
    import os
    import sqlite3

    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        with db:
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
    finally:
        db.close()
    os.replace(tmp, path)
