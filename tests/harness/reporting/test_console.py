"""Console tables: a table when every cell fits whole, else one block per row; nothing cut."""

from __future__ import annotations

import io
import re

from rich.console import Console

from harness.reporting.console import Col, print_rows

COLS = [Col("workers"), Col("items/s"), Col("binding constraint", prose=True)]
ROWS = [["1", "0.37", "concurrency (1 workers / 2.70s per item)"],
        ["50", "14.8", "cardgenius capacity 40 in flight (server): queueing beyond this point of the curve"]]


def _print(width: int) -> str:
    buf = io.StringIO()
    print_rows(Console(file=buf, width=width, force_terminal=False, color_system=None), "speed", COLS, ROWS)
    return buf.getvalue()


def test_a_wide_console_gets_the_table():
    out = _print(120)
    assert "┃ workers ┃" in out and ROWS[1][2] in out  # the sentence on one line of its cell


def test_a_narrow_console_gets_blocks_with_every_word():
    for width in (40, 60, 80):
        out = _print(width)
        assert "┃" not in out and "workers 50: items/s 14.8" in re.sub(r"\s+", " ", out)
        assert max(len(line.rstrip()) for line in out.splitlines()) <= width
        flat = re.sub(r"\s+", " ", out)
        assert all(cell in flat for row in ROWS for cell in row)
