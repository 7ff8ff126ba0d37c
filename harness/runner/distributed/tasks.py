"""The chunk task: run the engine on one chunk of the input, journaled, exactly once per item.

- A **lease** in Redis (a token with a TTL, kept alive by a heartbeat thread) makes one process
  at a time run a chunk; a redelivered copy finding it held comes back later (``retry``).
- The chunk's **checkpoint** (the engine's SQLite journal: result and done mark in one commit)
  makes a redelivered chunk resume where the killed one stopped: no done item is sent again;
  at most the items that were in flight are repeated.
- **Progress** goes to the run's Redis hash at every engine tick (absolute counts per chunk, so
  redelivery never double counts); the coordinator sums it.
- Every target's limiter is the **shared** one (:class:`RedisLimiter`), by run and target.

The engine is imported here, at module level: the worker loads this module before it forks its
pool, so a chunk starts at once instead of after each process's own imports.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from celery import shared_task

from harness.runner.checkpoint import CheckpointError
from harness.runner.distributed import chunks as ch
from harness.runner.distributed.keys import TTL_SECONDS, RunKeys
from harness.runner.distributed.metrics import worker_metrics, worker_name
from harness.runner.config import RunConfig
from harness.runner.engine import Engine
from harness.runner.redis_limiter import RedisLimiter
from harness.runner.run import build_targets, fingerprint
from harness.scenario import load_scenario

TASK_NAME = "harness.run_chunk"

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not v then return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') and 1 or 0 end
return -1
"""


def redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)


class Lease:
    """Who runs a chunk: SET NX with a TTL, renewed by a thread until released. Lost to another
    holder (only after our heartbeat missed a whole TTL): ``on_lost`` is called."""

    def __init__(self, client, key: str, ttl: float, on_lost=None) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = int(ttl * 1000)
        self.token = uuid.uuid4().hex
        self.on_lost = on_lost
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        if not self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return False
        self._thread = threading.Thread(target=self._beat, name=f"lease {self.key}", daemon=True)
        self._thread.start()
        return True

    def _beat(self) -> None:
        import redis

        renew = self.client.register_script(_RENEW)
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                if renew(keys=[self.key], args=[self.token, self.ttl_ms]) == -1:
                    if self.on_lost is not None:
                        self.on_lost()
                    return
            except redis.RedisError:
                continue  # Redis away: keep trying; the engine is paused on its limiter meanwhile

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self.client.register_script(_RELEASE)(keys=[self.key], args=[self.token])
        except Exception:  # noqa: BLE001 - it expires on its own
            pass


@shared_task(bind=True, name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def run_chunk(self, folder: str, index: int) -> dict[str, Any]:
    """Run chunk ``index`` of the run in ``folder`` to its end (or resume it)."""
    plan = ch.RunPlan.load(Path(folder))
    keys = RunKeys(plan.run_id)
    client = redis_client(plan.redis_url)
    marker = ch.chunk_done_marker(Path(folder), index)
    if marker.exists():
        _mark_done(client, keys, index)
        return {"chunk": index, "already_done": True}
    holder: dict[str, Any] = {}
    lease = Lease(client, keys.lease(index), plan.lease_seconds, on_lost=lambda: holder.get("stop", lambda: None)())
    if not lease.acquire():
        raise self.retry(countdown=max(0.5, plan.lease_seconds / 2))
    try:
        stats = run_chunk_engine(plan, Path(folder), index, client, keys, holder)
        if not stats.stop_reason:  # done before the lease goes, so nobody takes it for lost
            marker.write_text("done\n")
            # which process ran it and the engine's own time (start-up excluded), for the makespan
            client.hset(keys.timing, str(index), f"{worker_name()} {stats.elapsed():.6f}")
            client.expire(keys.timing, TTL_SECONDS)
            _mark_done(client, keys, index)
    except CheckpointError as exc:
        if "in use by another process" not in str(exc):
            _report(client, keys, index, exc)
            raise
        raise self.retry(countdown=max(0.5, plan.lease_seconds / 2))  # still running elsewhere here
    except Exception as exc:  # the chunk cannot run (scenario, input): tell the coordinator
        _report(client, keys, index, exc)
        raise
    finally:
        lease.release()
    if stats.stop_reason:
        raise self.retry(countdown=1.0)  # interrupted (SIGTERM, lost lease): the rest later
    return {"chunk": index, "done": stats.already_done + stats.done, "failed": stats.already_failed + stats.failed}


def _report(client, keys: RunKeys, index: int, exc: Exception) -> None:
    try:
        client.hset(keys.errors, str(index), f"{type(exc).__name__}: {str(exc)[:300]}")
        client.expire(keys.errors, TTL_SECONDS)
    except Exception:  # noqa: BLE001 - Redis away too: the lease expires and the chunk is sent again
        pass


def _mark_done(client, keys: RunKeys, index: int) -> None:
    pipe = client.pipeline()
    pipe.sadd(keys.done, index)
    pipe.expire(keys.done, TTL_SECONDS)
    pipe.execute()


def run_chunk_engine(plan: ch.RunPlan, folder: Path, index: int, client, keys: RunKeys, holder: dict):
    """The engine on one chunk, with shared limiters and progress in Redis; returns RunStats."""
    loaded = load_scenario(Path(plan.scenario))
    targets = build_targets(loaded, plan.target_kind, plan.mock_base, plan.time_scale)
    limiters: list[RedisLimiter] = []
    outage: dict[str, str | None] = {}
    share = plan.processes if plan.degraded else None

    def note(why: str | None) -> None:
        outage["now"] = why

    def shared(namespace: str, rates) -> RedisLimiter:
        lim = RedisLimiter(plan.redis_url, namespace, rates, degraded_share=share, on_outage=note)
        limiters.append(lim)
        return lim

    for name, target in targets.items():
        target.limiter = shared(keys.limiter_namespace(name), target.limiter.rates)  # type: ignore[assignment]
        if target.rules.per_operation:
            target.op_limiter_factory = (  # type: ignore[attr-defined]
                lambda endpoint, ns=keys.limiter_namespace(name): shared(f"{ns}:{endpoint}", {}))
    inp = ch.chunk_input(folder, index, plan.input_format)
    ckpt = ch.chunk_checkpoint(folder, index)
    opts = RunConfig(input=inp, output=ch.chunk_output(folder, index, plan.output_format), checkpoint=ckpt,
                     resume=ckpt.exists(), target=plan.target_kind, quiet=True, workers=int(os.environ.get("HARNESS_WORKERS_PER_PROCESS") or plan.workers_per_chunk), time_scale=plan.time_scale,
                      transport=plan.transport, run_id=plan.run_id, input_format=plan.input_format,
                      output_format=plan.output_format, total_hint=plan.sizes[index] if plan.sizes else None)
    metrics = worker_metrics(plan.run_id)

    def tick(stats) -> None:
        try:
            pipe = client.pipeline()
            pipe.hset(keys.progress, str(index),
                      f"{stats.already_done + stats.done} {stats.already_failed + stats.failed} "
                      f"{sum(stats.outcomes.values())} {stats.outcomes.get('rate_limited', 0)}")
            if outage.get("now"):
                pipe.hset(keys.status, str(index), outage["now"])
            else:
                pipe.hdel(keys.status, str(index))
            pipe.expire(keys.progress, TTL_SECONDS)
            pipe.expire(keys.status, TTL_SECONDS)
            pipe.execute()
        except Exception:  # noqa: BLE001 - Redis away: the limiter says so; the next tick retries
            pass

    engine = Engine(loaded, opts, targets, metrics, fingerprint(loaded, inp), on_tick=tick)

    async def main():
        loop = asyncio.get_running_loop()
        holder["stop"] = lambda: loop.call_soon_threadsafe(engine.stop, "lease lost to another worker")
        try:
            return await engine.run()
        finally:
            for lim in limiters:
                await lim.close()

    try:
        import uvloop

        return uvloop.run(main())
    except ImportError:  # pragma: no cover
        return asyncio.run(main())
