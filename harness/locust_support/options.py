"""The harness's own Locust command-line options (shape, pacing, Prometheus export, LLM calls).

Registered on Locust's ``init_command_line_parser`` event when a locustfile imports
:mod:`harness.locust_support`; workers receive them from the master with each spawn message.
"""

from __future__ import annotations

from typing import Any

from locust import events

SHAPES = ("none", "step", "linear", "spike", "constant")


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    g = parser.add_argument_group("harness: load shape")
    g.add_argument("--shape", choices=SHAPES, default="none",
                   help="none: -u users at -r/s for -t; step: --users-start, +--users-step every --step-time up to -u; "
                        "linear: --users-start to -u over --ramp-time; spike: --users-start, -u for --spike-time "
                        "from --spike-at; constant: --rate requests/s (arrival rate) for -t")
    g.add_argument("--users-start", type=int, default=1, help="Users of the first step (step, linear, spike).")
    g.add_argument("--users-step", type=int, default=1, help="Users added per step (step).")
    g.add_argument("--step-time", type=float, default=10.0, help="Seconds per step (step).")
    g.add_argument("--ramp-time", type=float, default=60.0, help="Seconds from --users-start to -u (linear).")
    g.add_argument("--spike-at", type=float, default=10.0, help="Seconds before the spike (spike).")
    g.add_argument("--spike-time", type=float, default=10.0, help="Seconds the spike lasts (spike).")
    g.add_argument("--rate", type=float, default=0.0, help="Arrival rate, requests/s over all users (constant).")
    g.add_argument("--pacing", type=float, default=0.0,
                   help="Seconds between one user's requests, evenly spread over the users (0: send the next "
                        "as soon as the answer is in, as the runner's workers do). Users/pacing = requests/s.")
    g.add_argument("--percentile-window", type=float, default=0.0,
                   help="Seconds of the sliding window of the stats history's percentiles (default: "
                        "--step-time minus 1 for step, else Locust's 10).")
    p = parser.add_argument_group("harness: Prometheus export")
    p.add_argument("--prometheus-port", type=int, default=0,
                   help="Serve harness_* metrics (source=\"locust\") on this port (master or standalone; 0: off).")
    p.add_argument("--prometheus-host", default="127.0.0.1", help="Address of the metrics endpoint.")
    p.add_argument("--prometheus-textfile", default="",
                   help="Also write the final metrics to this file at exit (Prometheus text format).")
    p.add_argument("--run-id", default="", help="The run_id label (default: locust-<start time>).")
    p.add_argument("--target-name", default="", help="The target label (default: the locustfile's target).")
    llm = parser.add_argument_group("harness: LLM calls")
    llm.add_argument("--model", default="", help="Model name (default: the locustfile's).")
    llm.add_argument("--max-tokens", type=int, default=64, help="max_tokens of each call.")
    llm.add_argument("--stream", action="store_true", default=False,
                     help="Stream the answer (SSE) and report TTFT and tokens/s as their own entries.")


def option(environment: Any, name: str, default: Any = None) -> Any:
    """An option's value, or ``default`` when Locust was started without it (tests, library use)."""
    opts = getattr(environment, "parsed_options", None)
    return getattr(opts, name, default) if opts is not None else default
