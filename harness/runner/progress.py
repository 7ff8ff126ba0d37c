"""The live progress bar (rich) and the final summary table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harness.runner.stats import RunStats


class ProgressDisplay:
    """done/total, rate, ETA, errors by kind, 429s and spend, refreshed a few times a second."""

    def __init__(self, console: Console, title: str) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA {task.fields[eta]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[extra]}"),
            console=console,
            transient=False,
            refresh_per_second=4,
        )
        self.task = self.progress.add_task(title, total=None, rate="", eta="-", extra="")
        self._paused = False

    def __enter__(self) -> "ProgressDisplay":
        # the bar starts with the run's first figures: a run refused before it starts (a
        # checkpoint that exists, a bad input) prints no empty "0/? ETA" bar above its error
        self._started = False
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._started:
            self.progress.stop()

    def update(self, s: RunStats) -> None:
        if not self._started:
            self._started = True
            self.progress.start()
        total = s.total
        done_before = s.already_done + s.already_failed
        rate = s.rate()
        eta = s.eta_seconds()
        errors = {k: v for k, v in s.outcomes.items() if k != "ok"}
        extra = f"failed {s.failed}"
        if errors:
            extra += " | " + " ".join(f"{k} {v}" for k, v in sorted(errors.items()))
        if s.cost:
            extra += f" | ${s.cost:.4f}"
        if s.notice:
            extra += f" | [yellow]{s.notice}[/yellow]"
        if bool(s.notice) != self._paused:  # a line of its own too, kept in the scrollback and in logs
            self._paused = bool(s.notice)
            self.console.print(f"[yellow]{s.notice}[/yellow]" if s.notice else "target reachable again: going on")
        self.progress.update(self.task, total=total, completed=done_before + s.finished,
                             rate=f"{rate:,.1f} items/s", eta=_duration(eta) if eta is not None else "-", extra=extra)


def summary_table(summary: dict[str, Any], title: str) -> Table:
    t = Table(title=title, show_header=False)
    t.add_column("what", style="bold")
    t.add_column("value", justify="right")
    scale = summary["time_scale"]
    t.add_row("items done / failed / total",
              f"{summary['items_done']:,} / {summary['items_failed']:,} / {summary['items_total']:,}")
    t.add_row("requests", f"{summary['requests']:,}")
    for outcome, n in sorted(summary["requests_by_outcome"].items()):
        t.add_row(f"  {outcome}", f"{n:,}")
    if summary["retries_by_reason"]:
        t.add_row("retries", ", ".join(f"{k} {v}" for k, v in summary["retries_by_reason"].items()))
    wall = summary["duration_wall_seconds"]
    t.add_row("duration", _duration(wall) + (f" (real time {_duration(summary['duration_real_seconds'])}, "
                                             f"time scale {scale:g})" if scale != 1 else ""))
    t.add_row("throughput (real time)", f"{summary['items_per_second_real']:,.2f} items/s, "
                                        f"{summary['requests_per_second_real']:,.2f} req/s")
    lat = summary["latency_real_seconds"]
    t.add_row("latency p50 / p95 / p99 (real)", f"{lat['p50']:.3f} / {lat['p95']:.3f} / {lat['p99']:.3f} s")
    t.add_row("peak in flight", str(summary["peak_in_flight"]))
    tok = summary["tokens"]
    if tok["input"] or tok["output"]:
        t.add_row("tokens in / out", f"{tok['input']:,} / {tok['output']:,}")
    t.add_row("cost", f"${summary['cost_dollars']:.4f}")
    t.add_row("bytes out / in", f"{summary['bytes']['out']:,} / {summary['bytes']['in']:,}")
    for reason, n in summary["failure_reasons"].items():
        t.add_row("  failed: " + reason, str(n))
    if summary.get("output"):
        t.add_row("output", f"{summary['output']} (checkpoint {summary.get('checkpoint', '-')})")
    if summary.get("stop_reason"):
        t.add_row("stopped", summary["stop_reason"])
    return t


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"
