"""The runner's exceptions. Transport errors map to the outcome labels of the metrics."""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of the harness's own errors."""


class ScenarioError(HarnessError):
    """The scenario (or a command-line option) is invalid; the message names field and fix.
    The CLI exits 2 on it."""


class TargetUnreachable(HarnessError):
    """A target cannot be reached at all before the run starts."""


class TransportError(HarnessError):
    """A request got no HTTP answer; ``outcome`` is ``timeout`` or ``connection_error``."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
