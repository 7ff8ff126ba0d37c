"""One self-contained HTML page per report folder (``report.html``): its tables, its plots
inlined as SVG, the claim verdicts, the load spec; no scripts, styles or images from elsewhere.

The page is rebuilt from the files the folder already holds, so ``harness report DIR`` gives
the same page as the command that wrote the folder:

- ``report.json`` (+ ``time.svg``, ``throughput.svg``, ``latency.svg``): a sweep or a reproduction;
- ``load_spec.json``, ``LOAD_SPEC.md``, ``partner_notice.txt``: a load spec (its plots are drawn
  here from the JSON when missing);
- ``summary.json``: a run (``harness run --report DIR``; its plot likewise).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.format import fmt_value
from harness.planning.claims import CONTRADICTED, HOLDS

PAGE = "report.html"
SWEEP_PLOTS = ("time", "throughput", "latency")
_SVG_START = re.compile(r"<svg\b")


class NotAReportFolder(ValueError):
    """The folder holds none of the files a report is made from."""


def inline_svg(path: Path) -> str:
    """An SVG file's ``<svg>`` element, for pasting into HTML (no XML prolog or doctype)."""
    text = Path(path).read_text()
    m = _SVG_START.search(text)
    if m is None:
        raise ValueError(f"{path} holds no <svg> element")
    return text[m.start():]


def _markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def _sweep_view(folder: Path) -> dict[str, Any] | None:
    path = folder / "report.json"
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    claims = []
    for c in doc.get("claims") or []:
        unit = c.get("unit", "")
        claims.append({**c, "claimed_text": fmt_value(c.get("claimed"), unit),
                       "model_text": fmt_value(c["model"], unit) if c.get("model") is not None else "-",
                       "measured_text": fmt_value(c["measured"], unit) if c.get("measured") is not None else "-",
                       "css": {HOLDS: "holds", CONTRADICTED: "contradicted"}.get(c.get("status"), "unchecked")})
    latency = []
    for p in doc.get("points") or []:
        m = p.get("measured")
        if m:
            lat = m.get("latency_real_seconds") or {}
            latency.append([str(p["workers"]), str(m.get("sample_items")), f"{m.get('wall_seconds', 0):.1f}",
                            *(f"{lat.get(q, 0):.2f} s" for q in ("p50", "p95", "p99")),
                            f"{m.get('rate_limited_ratio') or 0:.3f}", str(m.get("items_failed") or 0)])
    plots = [{"name": s, "svg": inline_svg(folder / f"{s}.svg")} for s in SWEEP_PLOTS if (folder / f"{s}.svg").exists()]
    table = doc.get("table") or {"columns": [], "rows": []}
    return {"doc": doc, "table": table, "latency": latency, "claims": claims,
            "summary": doc.get("claims_summary"), "plots": plots}


def _loadspec_view(folder: Path) -> dict[str, Any] | None:
    path = folder / "load_spec.json"
    if not path.exists():
        return None
    from harness.reporting.plots import plot_claims_ratio, plot_loadspec

    spec = json.loads(path.read_text())
    if not (folder / "load.svg").exists():
        plot_loadspec(spec, folder)
    if spec.get("claims") and not (folder / "claims.svg").exists():
        plot_claims_ratio(spec, folder)
    plots = [{"name": s, "svg": inline_svg(folder / f"{s}.svg")} for s in ("load", "claims")
             if (folder / f"{s}.svg").exists()]
    md = folder / "LOAD_SPEC.md"
    notice = folder / "partner_notice.txt"
    return {"spec": spec, "plots": plots, "body": _markdown(md.read_text()) if md.exists() else "",
            "notice": notice.read_text() if notice.exists() else None}


def _run_view(folder: Path) -> dict[str, Any] | None:
    path = folder / "summary.json"
    if not path.exists():
        return None
    from harness.reporting.plots import plot_run

    s = json.loads(path.read_text())
    if not (folder / "run.svg").exists():
        plot_run(s, folder)
    lat = s.get("latency_real_seconds") or {}
    rows = [
        ("items", f"{s.get('items_done', 0):,} done, {s.get('items_failed', 0):,} failed of {s.get('items_total', 0):,}"),
        ("requests", f"{s.get('requests', 0):,}: " + ", ".join(f"{k} {v:,}" for k, v in
                                                              (s.get("requests_by_outcome") or {}).items())),
        ("retries", ", ".join(f"{k} {v:,}" for k, v in (s.get("retries_by_reason") or {}).items()) or "none"),
        ("429 share", f"{100 * (s.get('rate_limited_ratio') or 0):.2f}% of requests"),
        ("duration", f"{s.get('duration_real_seconds', 0):,.1f} s real time ({s.get('duration_wall_seconds', 0):,.1f} s "
                     f"wall at time scale {s.get('time_scale', 1):g})"),
        ("throughput", f"{s.get('items_per_second_real', 0):.3g} items/s, {s.get('requests_per_second_real', 0):.3g} "
                       "requests/s (real time)"),
        ("latency", ", ".join(f"{q} {lat[q]:.3g} s" for q in ("p50", "p95", "p99") if q in lat) or "-"),
        ("peak in flight", str(s.get("peak_in_flight", "-"))),
        ("tokens", ", ".join(f"{k} {v:,}" for k, v in (s.get("tokens") or {}).items())),
        ("cost", f"${s.get('cost_dollars', 0):,.4f}"),
        ("bytes", ", ".join(f"{k} {v:,}" for k, v in (s.get("bytes") or {}).items())),
        ("failure reasons", ", ".join(f"{k} ({v:,})" for k, v in (s.get("failure_reasons") or {}).items()) or "none"),
        ("stopped early", s.get("stop_reason") or "no"),
        ("workers", str(s.get("workers", "-"))),
        ("output", str(s.get("output", "-"))),
    ]
    return {"summary": s, "rows": rows, "plots": [{"name": "run", "svg": inline_svg(folder / "run.svg")}]}


def render_html(folder: Path, title: str | None = None) -> str:
    """The page for ``folder`` (see the module docstring for what it reads)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    folder = Path(folder)
    views = {"sweep": _sweep_view(folder), "loadspec": _loadspec_view(folder), "run": _run_view(folder)}
    if not any(views.values()):
        raise NotAReportFolder(f"{folder}: no report.json, load_spec.json or summary.json to make a report from "
                               "(give the folder `harness sweep`, `reproduce`, `loadspec` or `run --report` wrote)")
    if title is None:
        sweep, spec, run = views["sweep"], views["loadspec"], views["run"]
        title = ((sweep and (sweep["doc"].get("title") or f"Sweep: {sweep['doc']['scenario']}"))
                 or (spec and f"Load spec: {spec['spec']['scenario']} against {spec['spec']['partner']}")
                 or (run and f"Run: {run['summary'].get('scenario')} ({run['summary'].get('run_id')})") or "Report")
    env = Environment(loader=PackageLoader("harness.reporting", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    from markupsafe import Markup

    for view in views.values():
        for plot in (view or {}).get("plots", []):
            plot["svg"] = Markup(plot["svg"])  # our own matplotlib output
    if views["loadspec"]:
        views["loadspec"]["body"] = Markup(views["loadspec"]["body"])  # markdown-it escapes the source's HTML
    return env.get_template("report.html.j2").render(
        title=title, generated=datetime.now(timezone.utc).isoformat(timespec="seconds"), folder=folder.name, **views)


def write_html(folder: Path, title: str | None = None) -> Path:
    """Write ``folder/report.html`` and return its path."""
    page = Path(folder) / PAGE
    page.write_text(render_html(folder, title))
    return page
