"""The batch engine: items from the input, through the steps, into the checkpoint and output.

``workers`` coroutines take items from a bounded queue fed by the streamed input; every call
goes through :class:`~harness.runner.caller.Caller` (adaptive concurrency, client-side limits,
retries, metrics), each finished item is committed to the checkpoint with its result, and the
output file is written in input order as the finished prefix grows.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any, Callable

import orjson

from harness.runner.adaptive import AdaptiveConcurrency
from harness.runner.breaker import BreakerGaveUp
from harness.runner.caller import Caller, CallFailed, TargetRuntime
from harness.runner.checkpoint import CONNECTION_FAILED, Checkpoint
from harness.runner.config import RunConfig
from harness.runner.inputs import InputItem, count_items, read_items
from harness.runner.metrics import RunnerMetrics
from harness.runner.output import OrderedWriter, OutputWriteError, lock_output
from harness.runner.retry import RetryPolicy
from harness.scenario import LoadedScenario
from harness.runner.stats import RunStats
from harness.runner.templates import TemplateFailure, compile_path, compile_tree


class _CompiledStep:
    def __init__(self, step, target: TargetRuntime) -> None:
        self.name = step.name
        self.target = target
        self.method = step.method
        self.endpoint = step.name
        where = f"steps.{step.name}"
        self.path = compile_path(step.path, f"{where}.path")
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
        self.caller = Caller(targets, policy=policy, timeout=options.time_scale.seconds(sc.timeout),
                             concurrency=self.concurrency, metrics=metrics, stats=self.stats,
                             max_rps=options.max_rps, time_scale=options.time_scale, transport=options.transport,
                             breaker_threshold=options.breaker_threshold, breaker_give_up=options.breaker_give_up,
                             on_give_up=self.halt)
        self.steps = [_CompiledStep(s, targets[s.target]) for s in sc.steps]
        self.function = _load_function(sc.function, loaded.base_dir) if sc.function else None
        self.fingerprint = fingerprint
        self.on_tick = on_tick
        self.stop_reason: str | None = None
        self._stopping = asyncio.Event()
        self._halted = False
        self._tasks: list[asyncio.Task] = []
        self._storage_error: BaseException | None = None
        self._ckpt: Checkpoint | None = None
        self._writer: OrderedWriter | None = None
        self.retried = 0  # items failed by connection errors, reopened on --resume

    # -- the run ---------------------------------------------------------------------------
    async def run(self) -> RunStats:
        opts = self.options
        # the output is locked before anything is created, like the checkpoint: two runs never
        # write one file
        out_fd = lock_output(opts.output)
        try:
            ckpt = Checkpoint(opts.checkpoint, fingerprint=self.fingerprint, resume=opts.resume)
        except BaseException:
            os.close(out_fd)
            raise
        try:
            if opts.resume and opts.retry_connection_failures:
                self.retried = ckpt.reopen_failed(CONNECTION_FAILED)
            ckpt.set_meta("input", str(opts.input.resolve()))
            ckpt.set_meta("input_format", opts.input_format or "")
            if self.loaded.path is not None:
                ckpt.set_meta("scenario", str(self.loaded.path.resolve()))
            ckpt.set_meta("time_scale", repr(opts.time_scale.factor))
            writer = OrderedWriter(opts.output, _fmt(opts.output, opts.output_format),
                                   self.loaded.scenario.output.columns, ckpt, fd=out_fd)
        except BaseException:
            ckpt.close()
            os.close(out_fd)
            raise
        self._ckpt, self._writer = ckpt, writer
        if opts.resume:
            writer.skip_finished()
        total = opts.total_hint if opts.total_hint is not None else count_items(opts.input, opts.input_format)
        if opts.resume:
            self.caller.figures.resume_from(ckpt.get_figures())
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
        errors: list[BaseException] = []
        try:
            producer = asyncio.create_task(self._produce(queue, ckpt))
            workers = [asyncio.create_task(self._work(queue, commits)) for _ in range(self.workers)]
            self._tasks = [producer, *workers]
            results = await asyncio.gather(producer, *workers, return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
        finally:
            ticker.cancel()
            self._remove_signals(loop)
            await self.caller.close()
            self._finish_storage(commits, writer, ckpt)
            if self.on_tick:
                self.on_tick(self.stats)
        if errors:
            raise errors[0]
        return self.stats

    def _finish_storage(self, commits: "_GroupCommit", writer: OrderedWriter, ckpt: Checkpoint) -> None:
        """Commit what is pending and close; a storage error here (disk still full) is the stop
        reason already given, so it is not raised again."""
        for step in (commits.close, writer.close):
            try:
                step()
            except (OSError, sqlite3.Error) as exc:
                self._storage_failed(exc)
        self.stats.finish(self.stop_reason)
        try:
            # what was measured, for `harness loadspec --run CHECKPOINT`
            ckpt.set_meta("summary", orjson.dumps({**self.stats.summary(), "workers": self.workers}).decode())
            ckpt.set_figures(self.caller.figures.to_dict())  # for `harness calibrate CHECKPOINT`
        except sqlite3.Error as exc:
            self._storage_failed(exc)
            self.stats.stop_reason = self.stop_reason
        ckpt.close()

    async def _produce(self, queue: asyncio.Queue, ckpt: Checkpoint) -> None:
        # items finished in an earlier run (resume) are skipped unparsed and never sent again
        try:
            for item in read_items(self.options.input, self.options.input_format, self.loaded.scenario.input.id,
                                   skip=ckpt.finished_filter(), max_bytes=self.options.max_item_bytes):
                if self._stopping.is_set():
                    break
                await queue.put(item)
                if self._stopping.is_set():
                    break
            for _ in range(self.workers):
                await queue.put(None)
        except asyncio.CancelledError:
            raise
        except BaseException:
            self.halt("the input could not be read")
            raise

    async def _work(self, queue: asyncio.Queue, commits: "_GroupCommit") -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            if self._stopping.is_set():
                continue  # drain: unsent items stay unfinished and run on --resume
            try:
                status, result, reason, attempts, calls = await self._process(item)
            except BreakerGaveUp:
                return  # the run is stopping; this item stays unfinished (--resume)
            except asyncio.CancelledError:
                raise
            except BaseException:
                self.halt("internal error")
                raise
            # not finished until committed: a kill -9 repeats at most the items in flight
            try:
                await commits.submit((item.seq, item.item_id, status, result, reason, attempts, calls))
            except asyncio.CancelledError:
                # halted while committing: close() commits it, so it counts as finished
                self.stats.item_finished(status, reason)
                raise
            except (OSError, sqlite3.Error) as exc:
                self._storage_failed(exc)
                return
            self.stats.item_finished(status, reason)
            self.metrics.child(self.metrics.items, status).inc()
            max_cost = self.options.max_cost
            if max_cost is not None and self.stats.cost >= max_cost and not self._stopping.is_set():
                self.stop(f"--max-cost ${max_cost:g} reached (${self.stats.cost:.4f} spent)")

    def _storage_failed(self, exc: BaseException) -> None:
        """The output or the checkpoint cannot be written (a full disk): stop at once, saying
        what is safe and what to do."""
        if self._storage_error is not None:
            return
        self._storage_error = exc
        if isinstance(exc, OutputWriteError) or (isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error)):
            what, path = "OUTPUT", self.options.output
        else:
            what, path = "CHECKPOINT", self.options.checkpoint
        done = self._ckpt.counts().get("done", 0) if self._ckpt is not None else 0
        full = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "disk is full" in str(exc) \
            or "database or disk is full" in str(exc)
        cause = "disk full" if full else f"cannot write ({exc})"
        self.halt(f"{cause} writing {what} {path}: {done} done are safe; "
                  f"{'free space' if full else 'fix it'} and --resume")

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
            return "failed", None, self.caller.redact(f"line {item.line}: {exc}"), attempts, calls
        except CallFailed as exc:
            return "failed", None, exc.reason, attempts + exc.attempts, calls + 1
        except BreakerGaveUp:
            raise
        except Exception as exc:  # a user's function raised: that item fails, the run goes on
            return "failed", None, self.caller.redact(f"{type(exc).__name__}: {str(exc)[:200]}"), attempts, calls

    # -- stopping and ticking --------------------------------------------------------------
    def stop(self, reason: str) -> None:
        """Stop taking items; those in flight finish (``--max-cost``)."""
        if not self._stopping.is_set():
            self.stop_reason = reason
            self._stopping.set()

    def halt(self, reason: str) -> None:
        """Stop now: every wait (limiter, Retry-After, backoff, breaker, a request that never
        ends) is cancelled; unfinished items stay in the input for ``--resume``."""
        self.stop(reason)
        if self._halted:
            return
        self._halted = True
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current and not task.done():
                task.cancel()

    def _save_figures(self) -> None:
        ckpt = getattr(self, "_ckpt", None)
        if ckpt is None:
            return
        try:
            ckpt.set_figures(self.caller.figures.to_dict())
        except Exception:  # noqa: BLE001 - a busy journal retries at the next tick or the end
            pass

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
        self.halt(f"interrupted by {signal.Signals(sig).name}; items in flight are left for --resume")

    async def _tick(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(0.25)
            ticks += 1
            if ticks % 40 == 0:  # every ~10 s, so a kill -9 loses at most that much of the figures
                self._save_figures()
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


