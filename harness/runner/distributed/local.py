"""The embedded cluster of ``harness run --engine celery`` without ``--broker``: a local
redis-server on a free port and one local ``harness worker`` with P pool processes, both
stopped when the run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.errors import SetupError
from harness.runner.distributed.redisproc import RedisProcess, start_redis


class WorkerStartError(SetupError):
    """The local Celery worker did not come up."""


class LocalWorker:
    """``python -m harness worker`` as a child process (its own session), logging to a file."""

    def __init__(self, broker: str, concurrency: int, log: Path, *, metrics_port: int | None = None,
                 env: dict[str, str] | None = None, hostname: str | None = None) -> None:
        cmd = [sys.executable, "-m", "harness", "worker", "--broker", broker, "--concurrency", str(concurrency),
               "--loglevel", "INFO"]
        if metrics_port is not None:
            cmd += ["--metrics-port", str(metrics_port)]
        if hostname:
            cmd += ["--hostname", hostname]
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as f:
            self.proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        self.concurrency = concurrency

    def pool_pids(self) -> list[int]:
        """The pool's child processes (those that run chunks)."""
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise WorkerStartError(f"harness worker exited ({self.proc.returncode}):\n{self.tail()}")
            if "ready." in self.log.read_text(errors="replace") and len(self.pool_pids()) >= self.concurrency:
                return
            time.sleep(0.1)
        raise WorkerStartError(f"harness worker not ready within {timeout:g} s:\n{self.tail()}")

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # warm shutdown of the worker and its pool
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        else:
            try:  # pool children left behind by a killed main process
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


class LocalCluster:
    """redis-server + one worker with ``processes`` pool processes, in ``folder``."""

    def __init__(self, folder: Path, processes: int, *, metrics_port: int | None = None) -> None:
        self.folder = Path(folder)
        self.processes = processes
        self.metrics_port = metrics_port
        self.redis: RedisProcess | None = None
        self.worker: LocalWorker | None = None

    @property
    def broker(self) -> str:
        assert self.redis is not None
        return self.redis.url

    def __enter__(self) -> "LocalCluster":
        self.redis = start_redis(self.folder / "redis")
        try:
            self.worker = LocalWorker(self.broker, self.processes, self.folder / "worker.log",
                                      metrics_port=self.metrics_port)
            self.worker.wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.redis is not None:
            self.redis.stop()
