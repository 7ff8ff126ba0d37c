"""``harness demo`` (``make demo``): one seed reproduced end to end, then its load spec.

Seed 003 sent 200,000 users to the CardGenius partner API, first one at a time (2.7 s each),
then with 20 workers, and wrote a speed table and a load notice by hand. The demo starts the
mock, sweeps the document's worker counts (time-compressed, sampled), prints model vs measured
vs claimed with a verdict on every claim, writes the report (Markdown, JSON, PNG/SVG plots),
and writes the DevOps load spec and the partner notice with the corrected figures.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console

SEED = Path(__file__).resolve().parents[1] / "scenarios" / "seeds" / "003-cardgenius.yaml"


def run_demo(out: Path = Path("reports/demo"), scenario: Path = SEED, budget: float = 8.0,
             console: Console | None = None) -> dict[str, Path]:
    from harness.planning.claims import check_claims
    from harness.reporting.loadspec import LoadSpec, write_loadspec
    from harness.reporting.console import make_console
    from harness.reporting.report import print_result, write_report
    from harness.scenario import load_scenario
    from harness.planning.sweep import run_sweep

    con = console or make_console()
    t0 = time.monotonic()
    loaded = load_scenario(scenario)
    claims = loaded.scenario.claims
    workers = claims.table_workers()
    items = claims.items or loaded.scenario.items
    con.print(f"[bold]Demo:[/] reproducing {claims.source or scenario.name} "
              f"({loaded.scenario.description or loaded.scenario.name}) on the mocks at {workers} workers")
    work = Path(tempfile.mkdtemp(prefix="harness-demo-"))
    try:
        result = run_sweep(loaded, workers, items=items, budget_s=budget, workdir=work,
                           progress=lambda m: con.print(f"[dim]{m}[/dim]"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    verdicts = check_claims(loaded, result)
    report_dir = out / "reproduction"
    files = write_report(result, report_dir, verdicts, title=f"Reproduction: {loaded.scenario.name}",
                         elapsed_s=time.monotonic() - t0)
    print_result(result, verdicts, con)
    spec = LoadSpec.from_plan(loaded, items, loaded.scenario.workers, partner="CardGenius")
    spec_files = write_loadspec(spec, out / "loadspec")
    v = spec.view()
    con.print(f"load spec at {loaded.scenario.workers} workers: {v['sustained_rps']} sustained, peak "
              f"{v['peak_rps']}, {v['bandwidth_out']} out, {v['bandwidth_in']} in, {v['daily_bytes']}, "
              f"{v['total_requests']} requests in {v['duration']}")
    con.print(f"[bold]report:[/] {report_dir}/ ({', '.join(sorted(p.name for p in files.values()))})")
    con.print(f"[bold]load spec and partner notice:[/] {out / 'loadspec'}/ "
              f"({', '.join(sorted(p.name for p in spec_files.values()))})")
    con.print(f"done in {time.monotonic() - t0:.0f} s")
    return {**files, **spec_files}
