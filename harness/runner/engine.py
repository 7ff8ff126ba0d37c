"""The batch engine: items from the input, through the steps, into the checkpoint and output.

``workers`` coroutines take items from a bounded queue fed by the streamed input; every call
goes through :class:`~harness.runner.caller.Caller` (adaptive concurrency, client-side limits,
retries, metrics), each finished item is committed to the checkpoint with its result, and the
output file is written in input order as the finished prefix grows.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
from pathlib import Path
from typing import Any, Callable

import orjson

from harness.runner.adaptive import AdaptiveConcurrency
from harness.runner.caller import Caller, CallFailed, TargetRuntime
from harness.runner.checkpoint import Checkpoint
from harness.runner.config import RunConfig
from harness.runner.inputs import InputItem, count_items, read_items
from harness.runner.metrics import RunnerMetrics
from harness.runner.output import OrderedWriter
from harness.runner.retry import RetryPolicy
from harness.scenario import LoadedScenario
from harness.runner.stats import RunStats
from harness.runner.templates import TemplateFailure, compile_tree


class _CompiledStep:
    def __init__(self, step, target: TargetRuntime) -> None:
        self.name = step.name
        self.target = target
        self.method = step.method
        self.endpoint = step.name
        where = f"steps.{step.name}"
        self.path = compile_tree(step.path, f"{where}.path")
        self.query = compile_tree(step.query, f"{where}.query")
        self.headers = compile_tree(step.headers, f"{where}.headers")
        self.body = compile_tree(step.body, f"{where}.json")
        self.keep = {k: compile_tree(v, f"{where}.keep.{k}") for k, v in step.keep.items()}


class Engine:
    """One run of a scenario. Build it, then ``await engine.run()``."""

    def __init__(self, loaded: LoadedScenario, options: RunConfig, targets: dict[str, TargetRuntime],
                 metrics: RunnerMetrics, fingerprint: str, on_tick: Callable[[RunStats], None] | None = None) -> None:
        sc = loaded.scenario
        self.loaded = loaded
        self.options = options
        self.workers = options.workers or sc.workers
        self.metrics = metrics
        self.stats = RunStats(time_scale=options.time_scale)
        self.concurrency = AdaptiveConcurrency(self.workers) if sc.adaptive else None
        policy = RetryPolicy(max_attempts=sc.retry.max_attempts, base_delay=sc.retry.base_delay,
                             max_delay=sc.retry.max_delay, jitter=sc.retry.jitter).scaled(options.time_scale)
        self.caller = Caller(targets, policy=policy, timeout=sc.timeout * options.time_scale,
                             concurrency=self.concurrency, metrics=metrics, stats=self.stats,
                             max_rps=options.max_rps, time_scale=options.time_scale, transport=options.transport)
        self.steps = [_CompiledStep(s, targets[s.target]) for s in sc.steps]
        self.function = _load_function(sc.function, loaded.base_dir) if sc.function else None
        self.fingerprint = fingerprint
        self.on_tick = on_tick
        self.stop_reason: str | None = None
        self._stopping = asyncio.Event()

    # -- the run ---------------------------------------------------------------------------
    async def run(self) -> RunStats:
        opts = self.options
        ckpt = Checkpoint(opts.checkpoint, fingerprint=self.fingerprint, resume=opts.resume)
        ckpt.set_meta("input", str(opts.input.resolve()))
        ckpt.set_meta("input_format", opts.input_format or "")
        if self.loaded.path is not None:
            ckpt.set_meta("scenario", str(self.loaded.path.resolve()))
        ckpt.set_meta("time_scale", repr(opts.time_scale))
        writer = OrderedWriter(opts.output, _fmt(opts.output, opts.output_format),
                               self.loaded.scenario.output.columns, ckpt)
        if opts.resume:
            writer.skip_finished()
        total = opts.total_hint if opts.total_hint is not None else count_items(opts.input, opts.input_format)
        counts = ckpt.counts()
        self.stats.start(total=total, already_done=counts.get("done", 0), already_failed=counts.get("failed", 0))
        m = self.metrics
        m.planned_g.set(total)
        m.workers_g.set(self.workers)
        queue: asyncio.Queue[InputItem | None] = asyncio.Queue(maxsize=self.workers * 2)
        loop = asyncio.get_running_loop()
        self._install_signals(loop)
        ticker = asyncio.create_task(self._tick())
        commits = _GroupCommit(ckpt, writer, loop)
        try:
            producer = asyncio.create_task(self._produce(queue, ckpt))
            workers = [asyncio.create_task(self._work(queue, commits)) for _ in range(self.workers)]
            await producer
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        finally:
            ticker.cancel()
            self._remove_signals(loop)
            await self.caller.close()
            commits.close()  # items finished but not yet committed (an interrupted run)
            writer.close()
            self.stats.finish(self.stop_reason)
            # what was measured, for `harness loadspec --run CHECKPOINT`
            ckpt.set_meta("summary", orjson.dumps({**self.stats.summary(), "workers": self.workers}).decode())
            ckpt.close()
            if self.on_tick:
                self.on_tick(self.stats)
        return self.stats

    async def _produce(self, queue: asyncio.Queue, ckpt: Checkpoint) -> None:
        # items finished in an earlier run (resume) are skipped unparsed and never sent again
        for item in read_items(self.options.input, self.options.input_format, self.loaded.scenario.input.id,
                               skip=ckpt.finished_filter()):
            if self._stopping.is_set():
                return
            await queue.put(item)
            if self._stopping.is_set():
                return

    async def _work(self, queue: asyncio.Queue, commits: "_GroupCommit") -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            if self._stopping.is_set():
                continue  # drain: unsent items stay unfinished and run on --resume
            status, result, reason, attempts, calls = await self._process(item)
            # not finished until committed: a kill -9 repeats at most the items in flight
            await commits.submit((item.seq, item.item_id, status, result, reason, attempts, calls))
            self.stats.item_finished(status, reason)
            self.metrics.child(self.metrics.items, status).inc()
            max_cost = self.options.max_cost
            if max_cost is not None and self.stats.cost >= max_cost and not self._stopping.is_set():
                self.stop(f"--max-cost ${max_cost:g} reached (${self.stats.cost:.4f} spent)")

    async def _process(self, item: InputItem) -> tuple[str, dict | None, str | None, int, int]:
        if item.error is not None:
            return "failed", None, item.error, 0, 0
        ctx: dict[str, Any] = {"row": item.row, "item": {"id": item.item_id, "seq": item.seq, "line": item.line},
                               "steps": {}}
        attempts = calls = 0
        try:
            if self.function is not None:
                handle = self.caller.handle(ctx)
                result = await self.function(dict(ctx["item"], row=item.row), handle)
                attempts, calls = handle.attempts, handle.calls
                if result is not None and not isinstance(result, dict):
                    return "failed", None, f"function returned {type(result).__name__}, not a dict", attempts, calls
                return "done", result or {}, None, attempts, calls
            result: dict[str, Any] = {}
            for step in self.steps:
                path = step.path(ctx)
                query = step.query(ctx)
                headers = step.headers(ctx)
                body = step.body(ctx)
                response, n = await self.caller.call(step.target, step.method, path, query=query, headers=headers,
                                                     body=body, endpoint=step.endpoint)
                attempts += n
                calls += 1
                kctx = {**ctx, "response": response}
                kept = {k: r(kctx) for k, r in step.keep.items()}
                ctx["steps"][step.name] = kept
                result.update(kept)
            return "done", result, None, attempts, calls
        except TemplateFailure as exc:
            return "failed", None, f"line {item.line}: {exc}", attempts, calls
        except CallFailed as exc:
            return "failed", None, exc.reason, attempts + exc.attempts, calls + 1
        except Exception as exc:  # a user's function raised: that item fails, the run goes on
            return "failed", None, f"{type(exc).__name__}: {str(exc)[:200]}", attempts, calls

    # -- stopping and ticking --------------------------------------------------------------
    def stop(self, reason: str) -> None:
        if not self._stopping.is_set():
            self.stop_reason = reason
            self._stopping.set()

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def _remove_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def _on_signal(self, sig: int) -> None:
        if self._stopping.is_set():
            raise KeyboardInterrupt  # second signal: stop now; the checkpoint is consistent anyway
        self.stop(f"interrupted by {signal.Signals(sig).name}; finishing items in flight (--resume continues)")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            self.stats.sample()
            eta = self.stats.eta_seconds()
            if eta is not None:
                self.metrics.eta_g.set(eta)
            if self.concurrency is not None:
                self.metrics.limit_g.set(self.concurrency.limit)
            if self.on_tick:
                self.on_tick(self.stats)


class _GroupCommit:
    """Group commit of finished items: the checkpoint records of every item that finishes in
    one turn of the event loop, and their output rows, go in one transaction
    (:meth:`Checkpoint.batch`) instead of one commit each.

    A worker awaits the commit of its item before it takes the next, so at any moment at most
    one uncommitted item per worker exists: kill -9 repeats no more than the items in flight,
    as with a commit per item. Output rows are written inside the transaction, after their
    records (the writer's contract) and before the position is committed with them.
    """

    def __init__(self, ckpt: Checkpoint, writer: OrderedWriter, loop: asyncio.AbstractEventLoop) -> None:
        self._ckpt = ckpt
        self._writer = writer
        self._loop = loop
        self._pending: list[tuple] = []
        self._done: asyncio.Future[None] | None = None

    def submit(self, record: tuple) -> "asyncio.Future[None]":
        """Queue ``(seq, item_id, status, result, reason, attempts, calls)``; the future is done
        once it is committed (it raises what the commit raised)."""
        self._pending.append(record)
        done = self._done
        if done is None:
            done = self._done = self._loop.create_future()
            self._loop.call_soon(self._flush)
        return done

    def close(self) -> None:
        """Commit what is pending now (the loop may not turn again); errors are the workers'."""
        if self._pending:
            done = self._done
            self._flush()
            if done is not None and done.done() and not done.cancelled():
                done.exception()  # retrieved: whoever awaited it has seen it already

    def _flush(self) -> None:
        if not self._pending:  # close() got there first
            return
        batch, done = self._pending, self._done
        self._pending, self._done = [], None
        assert done is not None
        ckpt = self._ckpt
        try:
            with ckpt.batch():
                ckpt.record_many(batch)
                self._writer.add_many([rec[:5] for rec in batch])
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting worker
            if not done.done():
                done.set_exception(exc)
            return
        if not done.done():
            done.set_result(None)


def _fmt(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    return "csv" if path.suffix.lower() == ".csv" else "jsonl"


def _load_function(spec: str, base_dir: Path):
    import sys

    module_name, _, func_name = spec.partition(":")
    if str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        from harness.errors import ScenarioError

        raise ScenarioError(f"function: cannot import module {module_name!r}: {exc}") from None
    fn = getattr(module, func_name, None)
    if fn is None or not asyncio.iscoroutinefunction(fn):
        from harness.errors import ScenarioError

        raise ScenarioError(f"function: {spec!r} is not an async function in {module_name}")
    return fn


