"""The Redis keys of one distributed run (all under ``harness:run:{run_id}:``)."""

from __future__ import annotations

from dataclasses import dataclass

TTL_SECONDS = 7 * 86_400  # a run's keys outlive it by a week, then Redis forgets them


@dataclass(frozen=True)
class RunKeys:
    run_id: str

    @property
    def prefix(self) -> str:
        return f"harness:run:{{{self.run_id}}}"

    @property
    def progress(self) -> str:
        """Hash: chunk index -> "done failed requests" (absolute, so a redelivered chunk overwrites)."""
        return f"{self.prefix}:progress"

    @property
    def done(self) -> str:
        """Set of finished chunk indexes."""
        return f"{self.prefix}:done"

    @property
    def errors(self) -> str:
        """Hash: chunk index -> why it failed for good."""
        return f"{self.prefix}:errors"

    @property
    def status(self) -> str:
        """Hash: chunk index -> what its worker says now (e.g. a Redis outage)."""
        return f"{self.prefix}:status"

    @property
    def timing(self) -> str:
        """Hash: chunk index -> "worker engine_seconds" of the run that finished it."""
        return f"{self.prefix}:timing"

    @property
    def alive(self) -> str:
        """Set by the coordinator: its absence means Redis lost the run's keys (and queue)."""
        return f"{self.prefix}:alive"

    def lease(self, index: int) -> str:
        """Who runs chunk ``index`` now (a token, kept alive by its worker's heartbeat)."""
        return f"{self.prefix}:lease:{index}"

    def limiter_namespace(self, target: str) -> str:
        return f"{self.run_id}:{target}"
