"""The batch route beside the online table: a rich table for the console, Markdown for the
load spec and reports."""

from __future__ import annotations

from typing import Any

from harness.format import fmt_duration
from harness.planning.batch_route import BatchRoute


def _rows(route: BatchRoute) -> list[tuple[str, str, str]]:
    online = (f"{route.online_workers} workers", fmt_duration(route.online_seconds), f"${route.online_cost:,.2f}")
    batch_desc = "; ".join(
        f"{c.target} {c.model}: {c.batches} batch(es) of {c.per_batch:,} ({c.concurrent} at a time), "
        f"{(1 - c.terms.discount):.0%} of the price" for c in route.calls)
    if route.prep_seconds:
        batch_desc += f"; the other calls online first ({fmt_duration(route.prep_seconds)})"
    batch = (batch_desc, f"{fmt_duration(route.expected_seconds)} expected, {fmt_duration(route.p99_seconds)} p99",
             f"${route.cost:,.2f}")
    return [("online", *online), ("batch API", *batch)]


def render_batch_table(route: BatchRoute, title: str = "Batch API route"):
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for col in ("route", "how", "completion", "cost"):
        t.add_column(col, overflow="fold")
    for name, how, when, cost in _rows(route):
        t.add_row(name, how, when, cost)
    return t


def print_batch_route(route: BatchRoute, console: Any) -> None:
    if not route.applicable:
        console.print(f"batch route: {route.reason}")
        if route.recommendation:
            console.print(f"recommendation: {route.recommendation}")
        return
    console.print(render_batch_table(route))
    for c in route.calls:
        console.print(f"  {c.target} {c.model}: {c.queue_note}; turnaround median {fmt_duration(c.terms.turnaround_median)}, "
                      f"p99 {fmt_duration(c.terms.turnaround_p99)}, window {fmt_duration(c.terms.window_seconds)} "
                      f"({c.terms.source})")
    console.print(f"recommendation: {route.recommendation} (deciding factor: {route.deciding_factor})")


def batch_markdown(route: BatchRoute) -> str:
    lines = ["## Batch API route", ""]
    if not route.applicable:
        lines.append(f"Not applicable: {route.reason}.")
        if route.recommendation:
            lines.append(f"Recommendation: {route.recommendation}.")
        return "\n".join(lines) + "\n"
    lines += ["| route | how | completion | cost |", "| --- | --- | --- | --- |"]
    for name, how, when, cost in _rows(route):
        lines.append(f"| {name} | {how} | {when} | {cost} |")
    lines.append("")
    for c in route.calls:
        lines.append(f"- {c.target} {c.model}: {c.requests:,} requests of {c.bytes_per_request:,.0f} bytes; "
                     f"{c.queue_note}; turnaround median {fmt_duration(c.terms.turnaround_median)}, p99 "
                     f"{fmt_duration(c.terms.turnaround_p99)} ({c.terms.source})")
    lines += ["", f"**Recommendation:** {route.recommendation} (deciding factor: {route.deciding_factor})."]
    return "\n".join(lines) + "\n"
