"""Every exception the harness raises on purpose, in one tree rooted at :class:`HarnessError`.

Errors that stop a command carry the exit code the CLI uses; errors that stay inside a run
carry the outcome label of the metrics (``harness_requests_total{outcome}``) or fail one item::

    HarnessError                       exit 1
    ├── InvalidInput (ValueError)      exit 2: the message names the field, the value and the fix
    │   ├── ScenarioError              the scenario file or a command-line option
    │   ├── CheckpointError            the checkpoint cannot be used as asked
    │   └── OutputError                the output file does not match its checkpoint, or is in use
    ├── SetupError                     exit 2: the run cannot start, through no fault of the input
    │   ├── TargetUnreachable          a target's host cannot be reached at all
    │   └── MockStartError             the mock server did not come up
    ├── ItemFailed                     one item fails, the run goes on (recorded with its reason)
    │   ├── CallFailed                 a call ended without success (permanent, or retries exhausted)
    │   └── TemplateFailure            a step's template cannot be rendered for this item's row
    ├── TransportError                 outcome ``timeout`` or ``connection_error``: no HTTP answer
    ├── OutputWriteError (OSError)     rows could not be written (a full disk): the run stops, exit 3
    └── BreakerGaveUp                  a target stayed unreachable past the breaker's bound: exit 3

``InvalidInput`` is also a ``ValueError``, so code that validated with ``ValueError`` before
keeps catching it.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of the harness's own errors."""

    exit_code: int = 1


class InvalidInput(HarnessError, ValueError):
    """Bad input (a scenario field, an option, a file); the CLI exits 2 with the message."""

    exit_code = 2


class ScenarioError(InvalidInput):
    """The scenario (or a command-line option) is invalid; the message names field and fix."""


class CheckpointError(InvalidInput):
    """The checkpoint cannot be used as asked (exists, missing, other scenario, in use)."""


class OutputError(InvalidInput):
    """The output file does not match the checkpoint (shorter than recorded, other columns)."""


class SetupError(HarnessError):
    """The run cannot start: something it needs is not there. The CLI exits 2."""

    exit_code = 2


class TargetUnreachable(SetupError):
    """A target cannot be reached at all before the run starts."""


class MockStartError(SetupError):
    """The mock server did not come up; the message has its output."""


class ItemFailed(HarnessError):
    """One item failed; the engine records it as ``failed`` with the message as its reason."""


class CallFailed(ItemFailed):
    """A call ended without success: a permanent error or retries exhausted."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


class TemplateFailure(ItemFailed):
    """A template could not be rendered for this item."""


class TransportError(HarnessError):
    """A request got no HTTP answer; ``outcome`` is ``timeout`` or ``connection_error``."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


class OutputWriteError(HarnessError, OSError):
    """Rows could not be written (a full disk); the file is cut back to its last whole row and
    the run stops (exit 3, resumable)."""

    exit_code = 3


class BreakerGaveUp(HarnessError):
    """A target stayed unreachable for the whole probing bound of its circuit breaker; the run
    stops (exit 3, resumable)."""

    exit_code = 3


__all__ = [
    "BreakerGaveUp", "CallFailed", "CheckpointError", "HarnessError", "InvalidInput", "ItemFailed", "MockStartError", "OutputError",
    "OutputWriteError", "ScenarioError", "SetupError", "TargetUnreachable", "TemplateFailure", "TransportError",
]
