"""Plots of a sweep (matplotlib, Agg backend), each written as PNG and SVG:

- ``time``: time for the batch vs workers: the model (line), the measurement (points) and the
  document's claims (error bars for ranges, crosses for single figures);
- ``throughput``: items/s vs workers, model and measured, with the binding limit drawn as a
  labelled horizontal line;
- ``latency``: measured p50/p95/p99 request latency per worker count (real time).

Every figure is FIG_SIZE at DPI (PNG pixels = FIG_SIZE x DPI), with a title, axes labelled with
their units and a legend; SVG text stays text (``svg.fonttype = none``) so it can be searched.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from harness.planning.claims import bounds  # noqa: E402
from harness.planning.results import SweepResult  # noqa: E402

FIG_SIZE = (9.0, 5.5)  # inches
DPI = 100  # PNG: 900 x 550 pixels

_RC = {"svg.fonttype": "none", "font.size": 10, "axes.grid": True, "grid.alpha": 0.3}


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG from its IHDR header."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _time_unit(seconds: list[float]) -> tuple[str, float]:
    top = max([s for s in seconds if s and math.isfinite(s)] or [1.0])
    if top >= 3 * 86400:
        return "days", 86400.0
    if top >= 3 * 3600:
        return "hours", 3600.0
    if top >= 180:
        return "minutes", 60.0
    return "seconds", 1.0


def _log_if_wide(ax: Any, axis: str, values: list[float]) -> None:
    vals = [v for v in values if v and v > 0 and math.isfinite(v)]
    if vals and max(vals) / min(vals) >= 8:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        if axis == "y":  # plain numbers (45, 2), not 4.5 x 10^1
            from matplotlib.ticker import FuncFormatter

            plain = FuncFormatter(lambda v, _pos: f"{v:g}")
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(FuncFormatter(
                lambda v, _pos: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))


def _workers_axis(ax: Any, workers: list[int]) -> None:
    _log_if_wide(ax, "x", [float(w) for w in workers])
    ax.set_xticks(workers)
    ax.set_xticklabels([str(w) for w in workers])
    ax.minorticks_off()
    ax.set_xlabel("workers (requests in flight at most)")


def _save(fig: Any, out_dir: Path, stem: str) -> dict[str, Path]:
    out = {}
    out_dir = Path(out_dir)
    for ext in ("png", "svg"):
        path = out_dir / f"{stem}.{ext}"
        fig.savefig(path, dpi=DPI, format=ext)
        out[f"{stem}.{ext}"] = path
    plt.close(fig)
    return out


def plot_time(result: SweepResult, out_dir: Path, stem: str = "time") -> dict[str, Path]:
    """Time for the batch vs workers: model, measured, claimed."""
    pts = result.points
    ws = [p.workers for p in pts]
    all_s = [p.predicted.duration_s for p in pts] + [p.measured.duration_s for p in pts if p.measured]
    for p in pts:
        if p.claim and p.claim.get("duration_s") is not None:
            all_s += list(bounds(p.claim["duration_s"]))
    unit, div = _time_unit(all_s)
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=FIG_SIZE)
        ax.plot(ws, [p.predicted.duration_s / div for p in pts], "o-", color="tab:blue", label="model (capacity model)")
        meas = [(p.workers, p.measured.duration_s / div) for p in pts if p.measured]
        if meas:
            ax.plot([w for w, _ in meas], [d for _, d in meas], "s", color="tab:orange", markersize=8,
                    label=f"measured on the mock (time scale {result.time_scale:g}, extrapolated)")
        claimed = [(p.workers, bounds(p.claim["duration_s"])) for p in pts
                   if p.claim and p.claim.get("duration_s") is not None]
        if claimed:
            xs = [w for w, _ in claimed]
            mid = [(lo + hi) / 2 / div for _, (lo, hi) in claimed]
            err = [[(mid_v - lo / div) for (_, (lo, _hi)), mid_v in zip(claimed, mid)],
                   [(hi / div - mid_v) for (_, (_lo, hi)), mid_v in zip(claimed, mid)]]
            ax.errorbar(xs, mid, yerr=err, fmt="x", color="tab:red", capsize=6, markersize=9, linewidth=1.5,
                        label="claimed by the document (bars: its range)")
        _workers_axis(ax, ws)
        _log_if_wide(ax, "y", [v / div for v in all_s])
        ax.set_ylabel(f"time for {result.items:,} items ({unit})")
        ax.set_title(f"{result.scenario}: time for {result.items:,} items vs workers")
        ax.legend(loc="best")
        fig.tight_layout()
        return _save(fig, out_dir, stem)


def _binding_limit(result: SweepResult) -> tuple[str, float] | None:
    """The limit that binds at the largest worker count (else the tightest one), as items/s."""
    if not result.points:
        return None
    last = max(result.points, key=lambda p: p.workers).predicted
    cons = [c for c in last.constraints if c.rate > 0 and math.isfinite(c.rate)]
    for c in cons:
        if last.binding == f"{c.name}: {c.note}":
            return f"{c.name}: {c.note}", c.rate
    best = min(cons, key=lambda c: c.rate, default=None)
    return (f"{best.name}: {best.note}", best.rate) if best else None


def plot_throughput(result: SweepResult, out_dir: Path, stem: str = "throughput") -> dict[str, Path]:
    """Items/s vs workers, with the tightest limit as a labelled horizontal line."""
    pts = result.points
    ws = [p.workers for p in pts]
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=FIG_SIZE)
        ax.plot(ws, [p.predicted.items_per_s for p in pts], "o-", color="tab:blue", label="model")
        seq = result.sequential
        if seq is not None and seq.item_time_s > 0:
            ax.plot(ws, [w / seq.item_time_s for w in ws], ":", color="gray",
                    label=f"workers / {seq.item_time_s:.2f} s per item (no limits)")
        meas = [(p.workers, p.measured.items_per_s) for p in pts if p.measured]
        if meas:
            ax.plot([w for w, _ in meas], [x for _, x in meas], "s", color="tab:orange", markersize=8,
                    label="measured on the mock (steady rate)")
        claimed = [(p.workers, bounds(p.claim["throughput_per_min"])) for p in pts
                   if p.claim and p.claim.get("throughput_per_min") is not None]
        if claimed:
            mid = [(lo + hi) / 120 for _, (lo, hi) in claimed]
            err = [[m - lo / 60 for m, (_, (lo, _h)) in zip(mid, claimed)],
                   [hi / 60 - m for m, (_, (_l, hi)) in zip(mid, claimed)]]
            ax.errorbar([w for w, _ in claimed], mid, yerr=err, fmt="x", color="tab:red", capsize=6, markersize=9,
                        label="claimed by the document")
        limit = _binding_limit(result)
        if limit is not None:
            name, rate = limit
            ax.axhline(rate, color="tab:red", linestyle="--", linewidth=1.5, label=f"limit: {name}")
            ax.annotate(f"limit {rate:.3g} items/s: {name.split(':')[0]}", xy=(ws[-1], rate), xytext=(0, -13),
                        textcoords="offset points", color="tab:red", fontsize=9, ha="right")
        _workers_axis(ax, ws)
        ax.set_ylabel("throughput (items per second, real time)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{result.scenario}: throughput vs workers")
        ax.legend(loc="upper left", fontsize=9, framealpha=0.95)
        fig.tight_layout()
        return _save(fig, out_dir, stem)


def plot_latency(result: SweepResult, out_dir: Path, stem: str = "latency") -> dict[str, Path]:
    """Measured request latency percentiles per worker count."""
    pts = [p for p in result.points if p.measured]
    ws = [p.workers for p in pts]
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=FIG_SIZE)
        styles = {"p50": ("o-", "tab:green"), "p95": ("s-", "tab:orange"), "p99": ("^-", "tab:red")}
        for q, (fmt, color) in styles.items():
            ys = [((p.measured.summary.get("latency_real_seconds") or {}).get(q)) for p in pts]
            xs = [w for w, y in zip(ws, ys) if y is not None]
            ys = [y for y in ys if y is not None]
            if ys:
                ax.plot(xs, ys, fmt, color=color, label=f"measured {q}")
        if pts:
            pr = pts[0].predicted
            calls = pr.requests_per_s / pr.items_per_s if pr.items_per_s > 0 else 1.0
            per_request = pr.item_time_s / max(calls, 1e-9)
            ax.axhline(per_request, color="tab:blue", linestyle=":",
                       label=f"model: mean time per request ({per_request:.2f} s)")
            _workers_axis(ax, ws)
        else:
            ax.text(0.5, 0.5, "no measurement", ha="center", va="center", transform=ax.transAxes)
            ax.set_xlabel("workers (requests in flight at most)")
        ax.set_ylabel("request latency (seconds, real time)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{result.scenario}: measured latency percentiles vs workers")
        ax.legend(loc="best")
        fig.tight_layout()
        return _save(fig, out_dir, stem)


def plot_all(result: SweepResult, out_dir: Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    files.update(plot_time(result, out_dir))
    files.update(plot_throughput(result, out_dir))
    files.update(plot_latency(result, out_dir))
    return files
