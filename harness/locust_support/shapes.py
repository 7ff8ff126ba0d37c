"""Load shapes chosen by ``--shape``: step ramp, linear ramp, spike, constant arrival rate.

One shape class, :class:`HarnessShape`, reads the options (and ``-u``, ``-r``, ``-t``), so a
locustfile that imports it gets every shape; ``--shape none`` behaves as plain ``-u/-r/-t``.
Every shape stops by itself at ``-t`` (Locust applies ``-t`` only after a shape has finished),
and the step ramp also after its last step.
"""

from __future__ import annotations

import math
from typing import Any

from locust import LoadTestShape

from .options import option


class HarnessShape(LoadTestShape):
    use_common_options = True

    def _opt(self, name: str, default: Any = None) -> Any:
        return option(self.runner.environment, name, default) if self.runner is not None else default

    def plan(self, t: float) -> tuple[int, float] | None:
        """Users and spawn rate at ``t`` seconds into the test, or None to stop."""
        max_users = int(self._opt("num_users") or 1)
        spawn_rate = float(self._opt("spawn_rate") or max_users)
        run_time = self._opt("run_time")
        if run_time and t >= run_time:
            return None
        shape = self._opt("shape", "none")
        start = max(1, int(self._opt("users_start", 1)))
        if shape == "step":
            step_time = float(self._opt("step_time", 10.0))
            step = max(1, int(self._opt("users_step", 1)))
            n_steps = max(1, math.ceil((max_users - start) / step) + 1)
            i = int(t // step_time)
            if i >= n_steps:
                return None
            return min(max_users, start + i * step), spawn_rate
        if shape == "linear":
            ramp = max(1e-9, float(self._opt("ramp_time", 60.0)))
            if not run_time and t >= ramp:
                return None
            return min(max_users, start + int((max_users - start) * min(1.0, t / ramp))), spawn_rate
        if shape == "spike":
            at, length = float(self._opt("spike_at", 10.0)), float(self._opt("spike_time", 10.0))
            if not run_time and t >= 2 * at + length:
                return None
            return (max_users if at <= t < at + length else min(start, max_users)), spawn_rate
        if shape == "constant":
            rate = float(self._opt("rate", 0.0))
            pacing = float(self._opt("pacing", 0.0)) or 1.0
            if rate <= 0:
                raise ValueError("--shape constant needs --rate R (requests/s) and, for the users, --pacing")
            users = max(1, math.ceil(rate * pacing))
            return users, max(spawn_rate, float(users))
        return max_users, spawn_rate

    def tick(self) -> tuple[int, float] | None:
        return self.plan(self.get_run_time())


def constant_users(rate: float, pacing: float) -> int:
    """Users that --shape constant runs for ``rate`` requests/s at ``pacing`` seconds per user."""
    return max(1, math.ceil(rate * (pacing or 1.0)))
