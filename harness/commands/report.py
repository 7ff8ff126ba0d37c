"""``harness report DIR``: rebuild the one-page HTML report of a report folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def report(
    folder: Path = typer.Argument(..., help="A folder written by `harness sweep`, `reproduce`, `loadspec` or "
                                            "`run --report`."),
    title: Optional[str] = typer.Option(None, "--title", help="The page's title (default: from the folder's files)."),
) -> None:
    """Rebuild FOLDER/report.html, one self-contained page (tables, inline SVG plots, claim
    verdicts, the load spec) from the files in FOLDER (report.json, load_spec.json, summary.json
    and their plots); open it in any browser."""
    from harness.reporting.html import NotAReportFolder, write_html

    if not folder.is_dir():
        typer.echo(f"error: {folder} is not a folder (give the report folder, e.g. reports/demo/reproduction)",
                   err=True)
        raise typer.Exit(2)
    try:
        page = write_html(folder, title)
    except (NotAReportFolder, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(str(page))
