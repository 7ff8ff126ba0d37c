"""Tables of a plan, a sweep or a reproduction: rich for the terminal, Markdown and JSON for the
report folder (``report.md``, ``report.json``, next to the plots of :mod:`harness.reporting.plots`).

Every table has the columns the seed documents wrote by hand: workers, items/s and per minute,
time for N items, speed-up and "% faster" against one worker, the binding constraint and the
429 (or queueing) risk; a sweep adds the measured time and the error of the model, and a
reproduction adds the document's claim and the verdicts of :mod:`harness.planning.claims`.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from harness.planning.claims import CONTRADICTED, HOLDS, Verdict, fmt_duration, fmt_num, fmt_value, summarize
from harness.planning.results import SweepResult

from harness.planning.diagnosis import ACCURACY_BAR  # predicted vs measured duration within 10%


# -- rows ------------------------------------------------------------------------------------
def rows(result: SweepResult) -> list[dict[str, Any]]:
    """One dict per worker count: the model, the measurement (if any) and the claim (if any)."""
    seq = result.sequential
    out = []
    for p in result.points:
        pr = p.predicted
        row: dict[str, Any] = {
            "workers": p.workers,
            "items": pr.items,
            "items_per_s": pr.items_per_s,
            "items_per_min": pr.items_per_s * 60,
            "duration_s": pr.duration_s,
            "speedup": (seq.duration_s / pr.duration_s) if (seq and pr.duration_s > 0) else None,
            "faster_pct": (100 * (1 - pr.duration_s / seq.duration_s)) if (seq and seq.duration_s > 0) else None,
            "binding": str(pr.binding),
            "risk": pr.risk,
            "requests_per_s": pr.requests_per_s,
            "peak_requests_per_s": pr.peak_requests_per_s,
            "concurrency": pr.concurrency,
            "bandwidth_out_bps": pr.bandwidth_out_bps,
            "bandwidth_in_bps": pr.bandwidth_in_bps,
            "cost_total": pr.cost_total,
        }
        if p.measured is not None:
            m = p.measured
            row["measured"] = {
                "sample_items": m.sample_items,
                "wall_seconds": m.wall_seconds,
                "duration_s": m.duration_s,
                "items_per_s": m.items_per_s,
                "error_pct": 100 * p.error if p.error is not None else None,
                "latency_real_seconds": m.summary.get("latency_real_seconds"),
                "rate_limited_ratio": m.summary.get("rate_limited_ratio"),
                "items_failed": m.summary.get("items_failed"),
                "requests": m.summary.get("requests"),
                "requests_by_outcome": m.summary.get("requests_by_outcome"),
            }
        if p.claim:
            row["claim"] = {k: v for k, v in p.claim.items() if k != "workers"}
        out.append(row)
    return out


def _pct(x: float | None, signed: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:+.1f}%" if signed else f"{x:.0f}%"


def _claim_text(claim: dict | None) -> str:
    if not claim:
        return "-"
    parts = []
    if claim.get("duration_s") is not None:
        parts.append(fmt_value(claim["duration_s"], "s"))
    if claim.get("throughput_per_min") is not None:
        parts.append(fmt_value(claim["throughput_per_min"], "") + "/min")
    if claim.get("speedup") is not None:
        parts.append(fmt_value(claim["speedup"], "x"))
    if claim.get("faster_pct") is not None:
        parts.append(fmt_value(claim["faster_pct"], "%") + " faster")
    return ", ".join(parts) or "-"


def table_columns(result: SweepResult, with_claims: bool) -> list[str]:
    measured = any(p.measured is not None for p in result.points)
    cols = ["workers", "items/s", "items/min", f"time for {fmt_num(result.items)}", "speed-up vs 1", "faster vs 1"]
    if measured:
        cols += ["measured time", "error"]
    if with_claims:
        cols += ["claimed"]
    cols += ["binding constraint", "429 risk"]
    return cols


def table_cells(result: SweepResult, with_claims: bool) -> list[list[str]]:
    measured = any(p.measured is not None for p in result.points)
    out = []
    for r, p in zip(rows(result), result.points):
        cells = [str(r["workers"]), fmt_num(r["items_per_s"]), fmt_num(r["items_per_min"]), fmt_duration(r["duration_s"]),
                 f"{r['speedup']:.1f}x" if r["speedup"] else "-", _pct(r["faster_pct"])]
        if measured:
            m = r.get("measured")
            cells += [fmt_duration(m["duration_s"]) if m else "-", _pct(m["error_pct"], True) if m else "-"]
        if with_claims:
            cells += [_claim_text(p.claim)]
        cells += [r["binding"], r["risk"]]
        out.append(cells)
    return out


# -- terminal ----------------------------------------------------------------------------------
PROSE_COLUMNS = ("binding constraint", "429 risk", "claimed")


def print_table(result: SweepResult, console: Any, title: str | None = None, with_claims: bool | None = None) -> None:
    """The speed table: a table when it fits the console, else one block per worker count."""
    from harness.reporting.console import Col, print_rows

    claims = with_claims if with_claims is not None else any(p.claim for p in result.points)
    cols = [Col(c, prose=c in PROSE_COLUMNS) for c in table_columns(result, claims)]
    styles = ["red" if (p.error is not None and abs(p.error) > ACCURACY_BAR) else None for p in result.points]
    print_rows(console, title or f"{result.scenario}: {fmt_num(result.items)} items", cols,
               table_cells(result, claims), styles)


def print_verdicts(verdicts: Iterable[Verdict], console: Any, title: str = "Claims") -> None:
    """One block per claim: its figures on one line, its arithmetic as a paragraph (never cut)."""
    from rich.padding import Padding
    from rich.text import Text

    console.print(Text(title, style="italic"))
    for v in verdicts:
        style = {CONTRADICTED: "red", HOLDS: "green"}.get(v.status, "dim")
        head = Text()
        head.append(v.status, style=f"bold {style}")
        workers = f" ({v.workers} {'worker' if v.workers == 1 else 'workers'})" if v.workers else ""
        head.append(f"  {v.id}{workers}: claimed {v.claimed_text}")
        if v.model is not None:
            head.append(f", model {fmt_value(v.model, v.unit)}")
        if v.measured is not None:
            head.append(f", measured {fmt_value(v.measured, v.unit)}")
        console.print(head)
        console.print(Padding(Text(v.arithmetic), (0, 0, 0, 2), expand=False))


def print_result(result: SweepResult, verdicts: list[Verdict] | None = None, console: Any = None) -> None:
    from harness.reporting.console import make_console

    con = console or make_console()
    print_table(result, con)
    for note in result.notes:
        con.print(f"note: {note}")
    if verdicts:
        print_verdicts(verdicts, con)
        s = summarize(verdicts)
        con.print(f"{s[HOLDS]} hold, {s[CONTRADICTED]} contradicted, {s['not checked']} not checked")


# -- files -----------------------------------------------------------------------------------
def _md_escape(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def to_markdown(result: SweepResult, verdicts: list[Verdict] | None = None, plots: dict[str, Path] | None = None,
                title: str | None = None, elapsed_s: float | None = None) -> str:
    claims = any(p.claim for p in result.points)
    lines = [f"# {title or result.scenario}", ""]
    lines.append(f"{fmt_num(result.items)} items; model = the capacity model (harness/planner.py)"
                 + (f"; measured = a sample run on the mocks at time scale {result.time_scale:g}, "
                    "extrapolated from its steady throughput" if any(p.measured for p in result.points) else "")
                 + (f"; claimed = the source document" if claims else "") + ".")
    if elapsed_s is not None:
        lines.append(f"Made in {elapsed_s:.0f} s.")
    lines.append("")
    cols = table_columns(result, claims)
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("| " + " | ".join("---" for _ in cols) + " |")
    for cells in table_cells(result, claims):
        lines.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
    lines.append("")
    errs = [abs(p.error) for p in result.points if p.error is not None]
    if errs:
        worst = max(errs)
        lines.append(f"Largest model error: {100 * worst:.1f}% "
                     f"({'within' if worst <= ACCURACY_BAR else 'OUTSIDE'} the {100 * ACCURACY_BAR:.0f}% bar).")
        lines.append("")
    if any(p.measured for p in result.points):
        lines += ["## Measured latency (real time, per request)", "",
                  "| workers | sample | wall s | p50 | p95 | p99 | 429 ratio | failed |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for p in result.points:
            if p.measured is None:
                continue
            lat = p.measured.summary.get("latency_real_seconds") or {}
            lines.append(f"| {p.workers} | {p.measured.sample_items} | {p.measured.wall_seconds:.1f} | "
                         f"{lat.get('p50', 0):.2f} s | {lat.get('p95', 0):.2f} s | {lat.get('p99', 0):.2f} s | "
                         f"{p.measured.summary.get('rate_limited_ratio', 0):.3f} | {p.measured.summary.get('items_failed', 0)} |")
        lines.append("")
    for note in result.notes:
        lines.append(f"- {note}")
    if result.notes:
        lines.append("")
    if plots:
        lines += ["## Plots", ""]
        for name, path in plots.items():
            if path.suffix == ".png":
                lines.append(f"![{path.stem}]({path.name})  ([SVG]({path.with_suffix('.svg').name}))")
        lines.append("")
    if verdicts:
        s = summarize(verdicts)
        lines += ["## Claims", "",
                  f"{s[HOLDS]} hold, {s[CONTRADICTED]} contradicted, {s['not checked']} not checked. A claim holds "
                  "when it (or its range) is within 15% of the model's value; the measured value is the evidence.", "",
                  "| claim | workers | claimed | model | measured | verdict | arithmetic | quote |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for v in verdicts:
            status = f"**{v.status}**" if v.status == CONTRADICTED else v.status
            lines.append("| " + " | ".join(_md_escape(x) for x in (
                v.id, str(v.workers or "-"), v.claimed_text,
                fmt_value(v.model, v.unit) if v.model is not None else "-",
                fmt_value(v.measured, v.unit) if v.measured is not None else "-",
                status, v.arithmetic, v.quote)) + " |")
        lines.append("")
    return "\n".join(lines)


def to_json(result: SweepResult, verdicts: list[Verdict] | None = None, elapsed_s: float | None = None,
            title: str | None = None) -> dict[str, Any]:
    claims = any(p.claim for p in result.points)
    doc: dict[str, Any] = {
        "title": title,
        "scenario": result.scenario,
        "items": result.items,
        "time_scale": result.time_scale,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "points": rows(result),
        "sequential": result.sequential.as_dict() if result.sequential else None,
        "notes": list(result.notes),
        # the table as printed (report.md, the HTML page), so a page rebuilt from this file matches
        "table": {"columns": table_columns(result, claims), "rows": table_cells(result, claims)},
    }
    if elapsed_s is not None:
        doc["elapsed_s"] = elapsed_s
    if verdicts is not None:
        doc["claims"] = [v.as_dict() for v in verdicts]
        doc["claims_summary"] = summarize(verdicts)
    return doc


def default_out_dir(scenario_name: str, root: Path = Path("reports")) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return root / f"{scenario_name}-{stamp}"


def write_report(result: SweepResult, out_dir: Path, verdicts: list[Verdict] | None = None,
                 title: str | None = None, elapsed_s: float | None = None, plots: bool = True) -> dict[str, Path]:
    """Write report.md, report.json, the plots (PNG and SVG) and report.html into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    plot_files: dict[str, Path] = {}
    if plots:
        from harness.reporting.plots import plot_all

        plot_files = plot_all(result, out_dir)
        files.update(plot_files)
    md = out_dir / "report.md"
    md.write_text(to_markdown(result, verdicts, plot_files, title, elapsed_s))
    js = out_dir / "report.json"
    js.write_text(json.dumps(to_json(result, verdicts, elapsed_s, title), indent=2, default=_json_default))
    files["report.md"], files["report.json"] = md, js
    from harness.reporting.html import write_html

    files["report.html"] = write_html(out_dir)
    return files


def _json_default(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "__dict__"):
        return o.__dict__
    return str(o)
