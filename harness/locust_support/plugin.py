"""The Locust plugin of the harness: load shapes, pacing, 429s apart from errors, TTFT and
tokens/s entries, and the Prometheus export under the runner's metric names.

A locustfile imports what it needs from here (``from harness.locust_support.plugin import ...``);
importing this module registers the harness's command-line options and event hooks, and the
imported :class:`HarnessShape` makes ``--shape`` work. See README, "Ramp tests with Locust".
"""

from __future__ import annotations

import os
from typing import Any

from locust import events

from . import exporter as _exporter  # noqa: F401 - registers the export hooks
from .options import SHAPES, option
from .outcomes import (NON_HTTP_TYPES, OUTCOMES, RATE_LIMITED_SUFFIX, TOKENS_PER_S, TTFT, check, endpoint_of,
                       outcome_of_error, outcome_of_status)
from .pacing import PACER, PacedUser, Pacer
from .shapes import HarnessShape

__all__ = [
    "HarnessShape", "PacedUser", "Pacer", "PACER", "SHAPES", "OUTCOMES", "RATE_LIMITED_SUFFIX", "TTFT",
    "TOKENS_PER_S", "NON_HTTP_TYPES", "check", "endpoint_of", "outcome_of_error", "outcome_of_status", "option",
    "api_key", "is_loopback",
]


def is_loopback(host: str | None) -> bool:
    from urllib.parse import urlsplit

    name = urlsplit(host or "").hostname or ""
    return name in ("127.0.0.1", "localhost", "::1")


def api_key(environment: Any, variable: str, mock_default: str = "mock-key-not-a-secret") -> str:
    """The API key from the environment variable; a dummy one only when --host is a loopback mock."""
    key = os.environ.get(variable, "")
    if key:
        return key
    if is_loopback(environment.host):
        return mock_default
    raise RuntimeError(f"set {variable} in the environment to run against {environment.host}")


@events.init.add_listener
def _percentile_window(environment: Any, **_: Any) -> None:
    """Make the stats history's sliding-window percentiles fit a step (Locust's default is 10 s)."""
    import locust.stats

    window = float(option(environment, "percentile_window", 0.0) or 0.0)
    if not window and option(environment, "shape", "none") == "step":
        window = float(option(environment, "step_time", 10.0)) - 1
    if window >= 1:
        locust.stats.CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW = int(window)
