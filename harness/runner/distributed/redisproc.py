"""A local ``redis-server`` on a free loopback port: the embedded broker of ``--engine celery``
without ``--broker``, and the tests' fixture. Started with its append-only file on, so a
restart (``restart()``) keeps the queue and the shared limits, as a production Redis would."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import SetupError


class RedisStartError(SetupError):
    """redis-server is missing or did not come up."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_port_block(n: int, host: str = "127.0.0.1", *, low: int = 20000, high: int = 32000) -> int:
    """A base port with ``base .. base+n-1`` all free, drawn below Linux's ephemeral range
    (32768-60999) so that servers later binding port 0 cannot take one of them before the
    processes meant to serve on ``base+i`` have started."""
    import random

    for _ in range(200):
        base = random.randrange(low, high - n)
        try:
            for port in range(base, base + n):
                with socket.socket() as s:
                    s.bind((host, port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no block of {n} free ports in {low}-{high} on {host}")


@dataclass
class RedisProcess:
    """A running redis-server; :meth:`stop` ends it, :meth:`restart` stops and starts it again
    on the same port and data directory."""

    port: int
    data_dir: Path
    host: str = "127.0.0.1"
    persist: bool = True
    proc: subprocess.Popen | None = None
    _own_dir: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "RedisProcess":
        exe = shutil.which("redis-server")
        if exe is None:
            raise RedisStartError("redis-server not found: install it (Debian: apt-get install redis-server; "
                                  "`make test` does it via scripts/system-deps.sh) or give --broker URL")
        cmd = [exe, "--bind", self.host, "--port", str(self.port), "--dir", str(self.data_dir),
               "--save", "", "--appendonly", "yes" if self.persist else "no", "--appendfsync", "everysec",
               "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning"]
        log = open(self.data_dir / "redis.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RedisStartError(f"redis-server exited ({self.proc.returncode}): "
                                      f"{(self.data_dir / 'redis.log').read_text()[-2000:]}")
            if self.ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RedisStartError(f"redis-server did not answer on {self.host}:{self.port} within {timeout:g} s")

    def ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: redis flushes its append-only file and exits
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: a crash, not a shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def restart(self, down_seconds: float = 0.0, *, crash: bool = False) -> None:
        self.kill() if crash else self.stop()
        if down_seconds > 0:
            time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> "RedisProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_redis(data_dir: Path | None = None, *, port: int | None = None, persist: bool = True) -> RedisProcess:
    """Start redis-server on ``port`` (default: a free one); data in ``data_dir`` (default: a
    temporary directory removed by :meth:`RedisProcess.close`)."""
    own = data_dir is None
    path = Path(tempfile.mkdtemp(prefix="harness-redis-")) if own else Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    proc = RedisProcess(port or free_port(), path, persist=persist, _own_dir=own)
    return proc.start()
