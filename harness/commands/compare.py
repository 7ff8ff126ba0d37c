"""``harness compare``: a plan (or profile) beside a finished run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def compare(
    plan: Path = typer.Argument(..., help="What predicted the run: a scenario YAML (planned at the run's items and "
                                "workers), a profile YAML (the run's scenario on it, e.g. one `harness calibrate` "
                                "wrote) or a load_spec.json from `harness loadspec --plan`."),
    checkpoint: Path = typer.Argument(..., help="The run's checkpoint (OUTPUT.checkpoint.sqlite)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the comparison here (.md, and .json beside)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Plan against reality: every figure of the load spec (req/s, duration, bytes, bandwidth,
    error and 429 rates, latency percentiles) as predicted and as measured, with the error, and
    the profile fields the run contradicts (the profile's value outside the measured 95%
    interval). Exit status 1 when a profile field is contradicted."""
    import json

    from rich.console import Console
    from rich.table import Table

    from harness.errors import HarnessError
    from harness.format import fmt_figure as _n
    from harness.reporting.compare import _err, compare as run_compare, to_markdown

    try:
        for path in (plan, checkpoint):
            if not path.exists():
                raise ValueError(f"not found: {path}")
        cmp = run_compare(plan, checkpoint)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(to_markdown(cmp))
            out.with_suffix(".json").write_text(json.dumps(cmp.as_dict(), indent=2))
    except (HarnessError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if json_out:
        typer.echo(json.dumps(cmp.as_dict(), indent=2))
    else:
        con = Console(width=max(140, Console().width))
        t = Table(title=f"plan vs run: {cmp.items} items, {cmp.workers} workers", title_justify="left")
        for col in ("figure", "predicted", "measured", "error"):
            t.add_column(col)
        for r in cmp.rows:
            t.add_row(r.figure, _n(r.predicted), _n(r.measured), _err(r))
        con.print(t)
        if cmp.fields:
            f = Table(title="profile fields against the run", title_justify="left")
            for col in ("field", "profile", "measured", "95% interval", "n", "verdict"):
                f.add_column(col)
            for c in cmp.fields:
                f.add_row(c.field, _n(c.profile), _n(c.measured), f"{_n(c.low)} - {_n(c.high)}", str(c.n),
                          "[red]contradicted[/red]" if c.contradicted else "consistent")
            con.print(f)
        for note in cmp.notes:
            con.print(f"note: {note}")
        if cmp.contradicted:
            con.print("the run contradicts: " + ", ".join(c.field for c in cmp.contradicted))
    if cmp.contradicted:
        raise typer.Exit(1)
