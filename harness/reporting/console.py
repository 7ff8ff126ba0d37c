"""Tables on the terminal that never cut text, at any width, piped or not.

A table is printed as a rich table when every cell fits the console whole, on one line.
Otherwise each row becomes a block: its short cells on one wrapped line, each prose cell
(``prose=True``: a sentence, such as a binding constraint) on its own indented paragraph. Rich
wraps at spaces, so no word is split and nothing is cropped, whatever the width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

@dataclass(frozen=True)
class Col:
    name: str
    justify: str = "right"
    prose: bool = False


def make_console(stderr: bool = False) -> Console:
    """The console at the terminal's width (``COLUMNS`` when piped; 80 if unset)."""
    return Console(stderr=stderr)


def _width(text: str) -> int:
    return max((Text(line).cell_len for line in text.splitlines() or [""]), default=0)


def fits(console: Console, columns: Sequence[Col], rows: Sequence[Sequence[str]]) -> bool:
    """Whether the table fits with every cell whole on one line."""
    natural = sum(max([_width(col.name)] + [_width(r[i]) for r in rows]) for i, col in enumerate(columns))
    borders = 3 * len(columns) + 1  # "│ " before each cell, " " after, and the last "│"
    return natural + borders <= console.width


def print_rows(console: Console, title: str, columns: Sequence[Col], rows: Sequence[Sequence[str]],
               styles: Sequence[str | None] | None = None) -> None:
    """Print ``rows`` as a table when it fits, else one block per row (see the module docstring)."""
    styles = list(styles or [None] * len(rows))
    if fits(console, columns, rows):
        table = Table(title=title, title_justify="left")
        for col in columns:
            table.add_column(col.name, justify=col.justify if not col.prose else "left",  # type: ignore[arg-type]
                             no_wrap=True)
        for cells, style in zip(rows, styles):
            table.add_row(*(Text(c) for c in cells), style=style)
        console.print(table)
        return
    console.print(Text(title, style="italic"))
    for cells, style in zip(rows, styles):
        head = Text(f"{columns[0].name} {cells[0]}", style="bold")
        short = [f"{c.name} {v}" for c, v in zip(columns[1:], cells[1:]) if not c.prose and v not in ("", "-")]
        if short:
            head.append(": " + ", ".join(short))
        console.print(head, style=style)
        for c, v in zip(columns[1:], cells[1:]):
            if c.prose and v not in ("", "-"):
                console.print(Padding(Text(f"{c.name}: {v}"), (0, 0, 0, 2), expand=False), style=style)
