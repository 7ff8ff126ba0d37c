"""``harness calibrate``: a profile fitted from finished runs, and its fit report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def calibrate(
    checkpoints: list[Path] = typer.Argument(..., help="Checkpoints of finished runs (mock or real): "
                                             "OUTPUT.checkpoint.sqlite. Several are merged."),
    out: Path = typer.Option(Path("reports/calibrated/profile.yaml"), "--out",
                             help="The profile YAML to write (a folder when the runs used several profiles: "
                                  "one PROFILE.yaml each). The fit report goes beside it (.fit.md, .fit.json)."),
    scenario: Optional[Path] = typer.Option(None, "--scenario", help="The scenario the runs used (default: the "
                                            "one the checkpoint names); its profiles are the starting point."),
    knee: Optional[Path] = typer.Option(None, "--knee", help="A Locust step ramp's STATS_history.csv: its knee "
                                        "sets capacity.max_in_flight of the partner API."),
    knee_time_scale: float = typer.Option(1.0, "--knee-time-scale", help="The --time-scale of the mock the ramp ran "
                                          "against (1 for a real API)."),
    scenario_out: Optional[Path] = typer.Option(None, "--scenario-out", help="Where to write the scenario on the "
                                                "calibrated profiles (default: beside the profile, "
                                                "SCENARIO.calibrated.yaml)."),
) -> None:
    """Fit a profile from what runs measured: per target, endpoint and model the lognormal latency
    (median, p99), for LLM calls the time to first token, tokens/s and output tokens, bytes each
    way, error and 429 rates by class, the limits the headers state and their reset periods, and
    the capacity at a Locust knee. Writes the profile (the mock serves it, the planner predicts
    from it), a fit report with sample sizes, 95% intervals and warnings, and the scenario on the
    calibrated profiles, ready for `harness plan`, `sweep` and `loadspec`."""
    from rich.console import Console
    from rich.table import Table

    from harness.errors import HarnessError
    from harness.planning.calibrate import calibrate as fit, write_calibrated_scenario
    from harness.reporting.fit_report import rows, write_calibration

    try:
        if knee_time_scale <= 0:
            raise ValueError(f"--knee-time-scale must be > 0, got {knee_time_scale}")
        for path in checkpoints:
            if not path.exists():
                raise ValueError(f"checkpoint not found: {path} (a run writes OUTPUT.checkpoint.sqlite)")
        cal = fit(checkpoints, knee_csv=knee, knee_time_scale=knee_time_scale, scenario_path=scenario)
        written = write_calibration(cal, out)
        scen_path = None
        if cal.scenario and Path(cal.scenario).exists():
            profiles = {k.split(":", 1)[1]: v for k, v in written.items() if k.startswith("profile:")}
            dest = scenario_out or (written["report"].parent / f"{Path(cal.scenario).stem}.calibrated.yaml")
            scen_path = write_calibrated_scenario(Path(cal.scenario), profiles, dest)
    except (HarnessError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    con = Console(width=max(150, Console().width))
    table = Table(title="calibration: fitted figures (95% intervals)")
    for col in ("call", "figure", "value", "95% interval", "n", "unit", "warning"):
        table.add_column(col, overflow="fold")
    for r in rows(cal):
        table.add_row(r["slot"], r["figure"], r["value"], r["interval"], str(r["n"]), r["unit"], r["warning"])
    con.print(table)
    for w in cal.warnings:
        con.print(f"[yellow]warning: {w}[/yellow]")
    for key, path in written.items():
        con.print(f"{key.replace('profile:', 'profile ')}: {path}")
    if scen_path is not None:
        con.print(f"scenario on the calibrated profiles: {scen_path}")
