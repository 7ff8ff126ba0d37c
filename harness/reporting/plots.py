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
        if last.binding == c:
            return str(c), c.rate
    best = min(cons, key=lambda c: c.rate, default=None)
    return (str(best), best.rate) if best else None


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


# -- load spec and run summary (from their JSON, so `harness report DIR` can redraw them) ------
def _bar_labels(ax: Any, bars: Any, texts: list[str]) -> None:
    """Each bar's value just past its end, inside the axes (log axes too)."""
    for bar, text in zip(bars, texts):
        ax.annotate(text, xy=(bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=9)


def plot_loadspec(spec: dict[str, Any], out_dir: Path, stem: str = "load") -> dict[str, Path]:
    """The load asked of each API: sustained and peak requests/s (log axis when they span decades)."""
    targets = spec.get("targets") or []
    names = [t["name"] for t in targets] or [spec.get("scenario", "load")]
    sustained = [float(t["sustained_rps"]) for t in targets] or [float(spec.get("sustained_rps") or 0)]
    share = [t["sustained_rps"] / spec["sustained_rps"] if spec.get("sustained_rps") else 1.0 for t in targets] or [1.0]
    peak = [float(spec.get("peak_rps") or 0) * s for s in share]
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(FIG_SIZE[0], max(2.6, 1.2 + 0.9 * len(names))))
        ys = list(range(len(names)))
        b1 = ax.barh([y + 0.2 for y in ys], sustained, height=0.38, color="tab:blue", label="sustained")
        b2 = ax.barh([y - 0.2 for y in ys], peak, height=0.38, color="tab:orange", label="peak (any one second)")
        _bar_labels(ax, b1, [f"{v:.3g} req/s" for v in sustained])
        _bar_labels(ax, b2, [f"{v:.3g} req/s" for v in peak])
        ax.set_yticks(ys)
        ax.set_yticklabels(names)
        values = [v for v in sustained + peak if v > 0]
        if values and max(values) / min(values) >= 8:
            ax.set_xscale("log")
            ax.set_xlim(min(values) / 2, max(values) * 6)
        else:
            ax.set_xlim(0, max(values or [1]) * 1.3)
        ax.set_xlabel("requests per second (real time)")
        ax.set_title(f"{spec.get('scenario', '')}: load on each API at {spec.get('workers')} workers")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)  # beside the bars, never on them
        fig.tight_layout()
        return _save(fig, out_dir, stem)


def plot_claims_ratio(spec: dict[str, Any], out_dir: Path, stem: str = "claims") -> dict[str, Path]:
    """The document's figures over ours, one row each, on a log axis: 1 agrees, >1 overstated."""
    rows = []
    for c in spec.get("claims") or []:
        claimed, ours = c.get("claimed"), c.get("ours")
        lo_hi = claimed if isinstance(claimed, list) else [claimed, claimed]
        if ours and all(isinstance(x, (int, float)) and x > 0 for x in lo_hi) and ours > 0:
            rows.append((c["id"], lo_hi[0] / ours, lo_hi[1] / ours, bool(c.get("holds"))))
    if not rows:
        return {}
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(FIG_SIZE[0], max(2.6, 1.0 + 0.45 * len(rows))))
        for y, (name, lo, hi, holds) in enumerate(rows):
            color = "tab:green" if holds else "tab:red"
            ax.plot([lo, hi], [y, y], "-", color=color, linewidth=3)
            ax.plot([(lo * hi) ** 0.5], [y], "o", color=color, markersize=7)
        ax.axvspan(0.85, 1.15, color="tab:green", alpha=0.12, label="within 15% of ours")
        ax.axvline(1.0, color="gray", linewidth=1)
        ax.set_xscale("log")
        lo_all = min(min(r[1] for r in rows), 0.5)
        hi_all = max(max(r[2] for r in rows), 2.0)
        ax.set_xlim(lo_all / 1.5, hi_all * 1.5)
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}x"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _pos: f"{v:g}x" if f"{v:.0e}"[0] in "25" else ""))
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([r[0] for r in rows], fontsize=9)
        ax.invert_yaxis()
        ax.set_xlabel("the document's figure / ours (log scale; bars: its range)")
        ax.set_title("The document's figures against the load spec's (green: holds, red: contradicted)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
        fig.tight_layout()
        return _save(fig, out_dir, stem)


def plot_run(summary: dict[str, Any], out_dir: Path, stem: str = "run") -> dict[str, Path]:
    """A run at a glance: requests by outcome (log axis when they span decades) and latency percentiles."""
    outcomes = {k: v for k, v in (summary.get("requests_by_outcome") or {}).items() if v}
    latency = summary.get("latency_real_seconds") or {}
    colors = {"ok": "tab:green", "rate_limited": "tab:orange"}
    with plt.rc_context(_RC):
        fig, (left, right) = plt.subplots(1, 2, figsize=FIG_SIZE, gridspec_kw={"width_ratios": [3, 2]})
        names = list(outcomes) or ["no requests"]
        counts = [outcomes.get(n, 0) for n in names]
        bars = left.barh(names, counts, color=[colors.get(n, "tab:red") for n in names])
        _bar_labels(left, bars, [f"{c:,}" for c in counts])
        positive = [c for c in counts if c > 0]
        if positive and max(positive) / min(positive) >= 8:
            left.set_xscale("log")
            left.set_xlim(min(positive) / 2, max(positive) * 8)
        else:
            left.set_xlim(0, max(counts or [1]) * 1.35 or 1)
        left.invert_yaxis()
        left.set_xlabel("requests")
        left.set_title("requests by outcome")
        qs = [q for q in ("p50", "p95", "p99") if q in latency]
        lbars = right.bar(qs, [latency[q] for q in qs], color=["tab:green", "tab:orange", "tab:red"][:len(qs)])
        for bar, q in zip(lbars, qs):
            right.annotate(f"{latency[q]:.3g} s", xy=(bar.get_x() + bar.get_width() / 2, bar.get_height()),
                           xytext=(0, 3), textcoords="offset points", ha="center", fontsize=9)
        right.set_ylim(0, max([latency[q] for q in qs] or [1]) * 1.2 or 1)
        right.set_ylabel("request latency (seconds, real time)")
        right.set_title("latency percentiles")
        fig.suptitle(f"{summary.get('scenario', 'run')}: run {summary.get('run_id', '')}")
        fig.tight_layout()
        return _save(fig, out_dir, stem)
