"""A seed scenario's ``claims:`` section as a typed model: the source document's speed table and
its statements, validated when the scenario loads (a typo'd field or a figure that is not a
number says which field and value), so the checker, the sweep and the load spec read fields, not
``dict.get``. Figures keep the type the document gave (an int stays an int in the reports)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _figure(v: Any) -> Any:
    """A number or a ``[min, max]`` range, kept as given."""
    if _number(v) or (isinstance(v, (list, tuple)) and len(v) == 2 and all(_number(x) for x in v)):
        return list(v) if isinstance(v, tuple) else v
    raise ValueError("give a number or a [min, max] pair of numbers")


def _statement_value(v: Any) -> Any:
    """A figure, or (for ``kind: other`` statements the model does not predict) a flag or a text."""
    return v if isinstance(v, (bool, str)) else _figure(v)


Figure = Annotated[Any, BeforeValidator(_figure)]
StatementValue = Annotated[Any, BeforeValidator(_statement_value)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimRow(_Model):
    """One row of the document's speed table: a worker count and what the document says it does."""

    workers: int = Field(ge=1)
    quote: str = ""
    duration_s: Figure | None = None
    throughput_per_min: Figure | None = None
    speedup: Figure | None = None
    faster_pct: Figure | None = None
    limit_requests_per_second: Figure | None = Field(None, description="a limit quoted beside the row (shown only)")

    def as_dict(self) -> dict[str, Any]:
        """The row as the document gave it (the fields it set), for the sweep's points and reports."""
        return self.model_dump(exclude_unset=True)


class ClaimStatement(_Model):
    """One figure the document states in prose, with its verbatim quote."""

    id: str
    kind: str = Field(description="what the figure is: duration_s, requests_per_second, limit_..., other, ...")
    value: StatementValue
    quote: str = ""
    note: str | None = None
    workers: int | None = Field(None, ge=1)
    items: int | None = Field(None, ge=0)
    target: str | None = None
    model: str | None = Field(None, description="the model the figure is priced at (cost claims)")
    tokens: Annotated[list[int], Field(min_length=2, max_length=2)] | None = Field(
        None, description="[input, output] tokens a cost claim is priced for")


class Claims(_Model):
    """The source document's claims (reports and reproductions read them; a run does not)."""

    source: str = ""
    items: int | None = Field(None, ge=0, description="the item count the document's table is for")
    workers: int | None = Field(None, ge=1, description="the worker count the document recommends")
    model: str | None = None
    table: list[ClaimRow] = Field(default_factory=list)
    statements: list[ClaimStatement] = Field(default_factory=list)

    def rows_by_workers(self) -> dict[int, dict[str, Any]]:
        """The table's rows by worker count, as the document gave them."""
        return {r.workers: r.as_dict() for r in self.table}

    def table_workers(self) -> list[int]:
        return sorted({r.workers for r in self.table})
