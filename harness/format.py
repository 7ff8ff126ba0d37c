"""Numbers and units for people: the one set of formatters every report, load spec, HTML page,
console table and claim verdict uses, so a figure reads the same wherever it is printed.

Units are the conventional decimal ones: bit/s, kbit/s, Mbit/s for bandwidth and B, kB, MB, GB
for sizes (SI prefixes, lower-case k). It sits below the runner, planning and reporting layers
because the planner's claim verdicts write their arithmetic with it too.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

SECONDS_PER_DAY = 86_400


# -- plain numbers -------------------------------------------------------------------------------
def fmt_num(x: float, digits: int = 3) -> str:
    """A readable number: thousands separators for big ones, 3 significant digits otherwise."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "inf"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax == 0:
        return "0"
    return f"{x:.{digits}g}"


def fmt_figure(x: float | None) -> str:
    """A measured or fitted figure in a table: thousands separators from 1,000, else 4 significant
    digits; ``-`` for none."""
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def fmt_rate(x: float) -> str:
    """7.4, 13.3, 444, 0.37, 1,250."""
    if not math.isfinite(x):
        return "unbounded"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:.1f}".removesuffix(".0")
    if x == 0:
        return "0"
    return f"{x:.2g}"


def fmt_rps(x: float) -> str:
    return f"{fmt_rate(x)} req/s"


def fmt_count(n: float) -> str:
    return f"{round(n):,}"


def fmt_pct(r: float) -> str:
    """A share (0.0123) as a percentage: 1.2%, 0.04%, 0%."""
    p = r * 100
    if p == 0:
        return "0%"
    if p < 0.1:
        return f"{p:.2g}%"
    return f"{p:.1f}%"


# -- sizes and bandwidth --------------------------------------------------------------------------
def _three(x: float, units: list[str], base: float) -> str:
    i = 0
    while abs(x) >= 999.5 and i < len(units) - 1:
        x /= base
        i += 1
    return f"{x:.3g} {units[i]}"


def fmt_bps(bps: float) -> str:
    """Bits per second, decimal units, three significant figures: 29.6 kbit/s, 2.07 Mbit/s."""
    return _three(bps, ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"], 1000.0)


def fmt_bytes(n: float) -> str:
    """Bytes, decimal units, three significant figures: 500 B, 35 kB, 22.7 GB."""
    return _three(n, ["B", "kB", "MB", "GB", "TB", "PB"], 1000.0)


# -- time ------------------------------------------------------------------------------------------
def fmt_duration(seconds: float) -> str:
    """A duration in arithmetic, to a tenth: 45 s, 7.4 min, 7.5 h, 6.25 days."""
    if seconds is None or not math.isfinite(seconds):
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 4 * SECONDS_PER_DAY:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / SECONDS_PER_DAY:.2f} days"


def fmt_duration_round(s: float) -> str:
    """A duration rounded for a notice: 45 s, 22 min, 7.5 h, 3.1 days (75 h)."""
    if not math.isfinite(s):
        return "never (nothing gets through)"
    if s < 120:
        return f"{s:.0f} s"
    if s < 2 * 3600:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / SECONDS_PER_DAY:.1f} days ({s / 3600:.0f} h)"


def fmt_seconds(s: float) -> str:
    """A latency: 350 ms, 2.70 s, 12 s."""
    if s < 1:
        return f"{s * 1000:.0f} ms"
    return f"{s:.2f} s" if s < 10 else f"{s:.0f} s"


def fmt_when(d: datetime) -> str:
    return d.strftime("%Y-%m-%d %H:%M") if (d.hour or d.minute) else d.strftime("%Y-%m-%d")


# -- a value in a unit ------------------------------------------------------------------------------
def fmt_one(x: float, unit: str) -> str:
    """``x`` in ``unit`` (s, bps, bytes/day, $, x, %, or any unit written after the number)."""
    if unit == "s":
        return fmt_duration(x)
    if unit == "bps":
        return fmt_bps(x)
    if unit == "bytes/day":
        return fmt_bytes(x) + "/day"
    if unit == "$":
        return f"${x:,.2f}" if x >= 1 else f"${x:.4f}".rstrip("0")
    if unit == "x":
        return f"{fmt_num(x)}x"
    if unit == "%":
        return f"{x:.0f}%"
    return f"{fmt_num(x)} {unit}".strip()


def fmt_value(v: Any, unit: str) -> str:
    """A number or a ``[min, max]`` range in ``unit``; anything else as text."""
    if isinstance(v, (list, tuple)) and len(v) == 2:
        lo, hi = v
        if unit == "s":
            return f"{fmt_duration(lo)}-{fmt_duration(hi)}"
        return f"{fmt_one(lo, unit)}-{fmt_one(hi, unit)}"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return fmt_one(float(v), unit)
    return str(v)
