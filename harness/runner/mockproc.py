"""Starting the mock server as a child process on a free port, and stopping it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import orjson

from mock_servers.timescale import TimeScale

from harness.errors import MockStartError

if TYPE_CHECKING:
    from harness.scenario import LoadedScenario

_LISTEN = re.compile(r"listening on (http://\S+)")


@dataclass
class MockProcess:
    """A running mock server. Use as a context manager, or call :meth:`stop`."""

    base_url: str
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text()

    def url(self, provider: str) -> str:
        return f"{self.base_url}/{provider}"

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> "MockProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent(parent: int):
    """In the child before exec: SIGTERM when the parent dies, however it dies (kill -9
    included), so no mock is left listening. Linux's parent-death signal; elsewhere nothing.
    Linux sends it when the *thread* that started the child ends: start mocks from a thread
    that lives as long as they should (the main thread, as the runner and the sweep do)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return preexec


def start_mock(
    providers: Sequence[str] = ("openai",),
    *,
    time_scale: TimeScale | float = 1.0,
    sets: Sequence[str] = (),
    profiles: Sequence[str] = (),
    seed: int | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    cpu: int | None = None,
    timeout: float = 20.0,
    args: Sequence[str] = (),
) -> MockProcess:
    """Start ``python -m mock_servers`` and wait until it listens; ``cpu`` pins it with taskset,
    ``args`` are more of its options (``--admin-token``, ``--header-timeout``, ...)."""
    cmd = [sys.executable, "-m", "mock_servers", "--providers", ",".join(providers), "--host", host,
           "--port", str(port), "--time-scale", repr(TimeScale.of(time_scale).factor)]
    for s in sets:
        cmd += ["--set", s]
    for p in profiles:
        cmd += ["--profile", str(p)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    cmd += list(args)  # any other option of the mock's command line
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # output goes to a file, not a pipe nobody reads, so a chatty server never blocks
    log = tempfile.NamedTemporaryFile("w+", prefix="mock-server-", suffix=".log", delete=False)
    # its own session: a Ctrl-C in the terminal reaches the runner (which drains and stops
    # cleanly), not the mock it still needs for the items in flight
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True,
                            preexec_fn=_die_with_parent(os.getpid()))
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = Path(log.name).read_text()
        m = _LISTEN.search(text)
        if m and text.count("\n") >= (len(providers) or len(profiles)) + 2:
            return MockProcess(m.group(1), proc, Path(log.name))
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise MockStartError(f"mock server did not start ({' '.join(cmd)}):\n{text}")


def start_mock_for(loaded: "LoadedScenario", time_scale: TimeScale, **options) -> MockProcess:
    """The mock serving exactly the scenario's validated profiles (its ``mock:`` overrides
    applied once, at load): each is handed over as the JSON of the validated model, so the
    mock serves the numbers the runner paces by and the planner predicts from."""
    profiles = {}
    for profile in loaded.profiles.values():
        profiles.setdefault(profile.name, profile)
    folder = Path(tempfile.mkdtemp(prefix="mock-profiles-"))
    try:
        files = []
        for name, profile in profiles.items():
            path = folder / f"{name}.json"
            path.write_bytes(orjson.dumps(profile.model_dump(mode="json", exclude_defaults=True)))
            files.append(str(path))
        return start_mock((), profiles=files, time_scale=time_scale, **options)
    finally:  # the mock has read them once it listens
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
