"""Streaming input readers: CSV and JSON Lines, one :class:`InputItem` per record.

Files are read a line at a time and never held whole, so a million-row input costs the same
memory as a ten-row one. A record that cannot be parsed becomes an item with ``row=None`` and
an ``error`` naming its line; the runner fails that item with the reason and goes on.

Numbering: ``seq`` is the 0-based position among the items (the order of the output);
``line`` is the 1-based physical line where the record starts (for CSV the header is line 1,
and a record with quoted newlines spans several lines). Without an ``id_field`` an item's id is
``str(line)``, so ids and error messages point at the same line in an editor.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Literal

import orjson

__all__ = ["InputItem", "detect_format", "read_items", "count_items"]

Format = Literal["csv", "jsonl"]

_FORMAT_NAMES: dict[str, Format] = {
    "csv": "csv",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "jsonlines": "jsonl",
    "json-lines": "jsonl",
    "json lines": "jsonl",
}
_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonlines": "jsonl",
}
_BOM = b"\xef\xbb\xbf"
# Strict quoting: a stray quote is a bad row, not silently glued text.
_CSV_OPTIONS: dict[str, Any] = {"strict": True}


@dataclass(frozen=True, slots=True)
class InputItem:
    """One record of the input, parsed or not."""

    seq: int
    item_id: str
    line: int
    row: dict[str, Any] | None
    error: str | None = None


def detect_format(path: Path, declared: str | None = None) -> Format:
    """The input format: ``declared`` if given (csv, jsonl, ndjson), else from the extension."""
    if declared is not None:
        fmt = _FORMAT_NAMES.get(declared.strip().lower())
        if fmt is None:
            raise ValueError(
                f"unknown input format {declared!r}; use one of: csv, jsonl (or ndjson)"
            )
        return fmt
    suffix = Path(path).suffix.lower()
    fmt = _EXTENSIONS.get(suffix)
    if fmt is None:
        hint = " (a JSON array cannot be streamed; write one object per line as .jsonl)" if (
            suffix == ".json"
        ) else ""
        raise ValueError(
            f"cannot tell the input format of {str(path)!r} from its extension {suffix or '(none)'!r}"
            f"{hint}; name it .csv, .jsonl or .ndjson, or declare the format (csv or jsonl)"
        )
    return fmt


def read_items(
    path: Path,
    fmt: str | None = None,
    id_field: str | None = None,
    start_seq: int = 0,
    skip: Callable[[int], bool] | None = None,
    stop_seq: int | None = None,
) -> Iterator[InputItem]:
    """Stream the items of ``path`` in file order.

    ``start_seq``/``stop_seq``: yield only items with ``start_seq <= seq < stop_seq`` (numbering
    always counts from the start of the file, so a range is a chunk of the same run).
    ``skip(seq)``: called in increasing seq order for each item in range; true leaves the item
    out (already finished on resume). JSONL lines left out are not even parsed.
    ``id_field``: the column/field holding the item id; a row without it is an error item.
    For CSV, an unreadable header, duplicate column names or a header without the id column
    raise ValueError at the call, before any item.
    """
    found = detect_format(Path(path), fmt)
    if found == "csv":
        header = _csv_header(Path(path), id_field)  # header errors now, not at first next()
        return _read_csv(Path(path), header, id_field, start_seq, skip, stop_seq)
    return _read_jsonl(Path(path), id_field, start_seq, skip, stop_seq)


def count_items(path: Path, fmt: str | None = None) -> int:
    """How many items :func:`read_items` will yield (for the progress bar).

    CSV records are counted by the same parser, so quoted newlines are one record and bad rows
    count as (error) items; JSONL counts non-blank lines.
    """
    found = detect_format(Path(path), fmt)
    if found == "jsonl":
        count = 0
        with open(path, "rb") as f:
            for raw in f:
                if not raw.isspace():
                    count += 1
        return count
    with _open_csv(path) as f:
        reader = csv.reader(f, **_CSV_OPTIONS)
        count = 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error:
                count += 1
                continue
            if fields:
                count += 1
        return max(count - 1, 0)  # the header


# --- JSON Lines -------------------------------------------------------------------------------


def _read_jsonl(
    path: Path,
    id_field: str | None,
    start_seq: int,
    skip: Callable[[int], bool] | None,
    stop_seq: int | None,
) -> Iterator[InputItem]:
    seq = -1
    with open(path, "rb") as f:
        for line, raw in enumerate(f, start=1):
            if line == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            if raw.isspace():
                continue
            seq += 1
            if seq < start_seq:
                continue
            if stop_seq is not None and seq >= stop_seq:
                return
            if skip is not None and skip(seq):
                continue
            yield _jsonl_item(seq, line, raw, id_field)


def _jsonl_item(seq: int, line: int, raw: bytes, id_field: str | None) -> InputItem:
    try:
        row = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return InputItem(seq, str(line), line, None, f"line {line}: invalid JSON: {exc}")
    if not isinstance(row, dict):
        kind = "array" if isinstance(row, list) else type(row).__name__
        return InputItem(
            seq, str(line), line, None, f"line {line}: expected a JSON object, got {kind}"
        )
    return _with_id(seq, line, row, id_field)


def _with_id(seq: int, line: int, row: dict[str, Any], id_field: str | None) -> InputItem:
    if id_field is None:
        return InputItem(seq, str(line), line, row)
    value = row.get(id_field)
    if value is None or value == "":
        return InputItem(seq, str(line), line, row, f"line {line}: missing id field {id_field!r}")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return InputItem(
            seq, str(line), line, row,
            f"line {line}: id field {id_field!r} must be a string or an integer, "
            f"got {type(value).__name__}",
        )
    return InputItem(seq, str(value), line, row)


# --- CSV --------------------------------------------------------------------------------------


def _open_csv(path: Path) -> IO[str]:
    # surrogateescape: a bad byte sequence spoils only its own record (reported as an error
    # item by _csv_records) instead of aborting the read.
    return open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _valid_utf8(fields: list[str]) -> bool:
    for value in fields:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def _csv_records(path: Path) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(start line, fields or None, error) for every non-blank record, header included."""
    with _open_csv(path) as f:
        reader = csv.reader(f, **_CSV_OPTIONS)
        end = 0  # last physical line consumed so far
        while True:
            start = end + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                end = reader.line_num
                yield start, None, f"line {start}: malformed CSV: {exc}"
                continue
            end = reader.line_num
            if not fields:
                continue
            if not _valid_utf8(fields):
                yield start, None, f"line {start}: invalid UTF-8"
                continue
            yield start, fields, None


def _csv_header(path: Path, id_field: str | None) -> list[str] | None:
    """The header's column names (None for an empty file); ValueError if unusable."""
    records = _csv_records(path)
    try:
        first = next(records, None)
    finally:
        records.close()
    if first is None:
        return None
    _line, fields, error = first
    if fields is None:
        raise ValueError(f"{path}: cannot read the CSV header: {error}")
    header = [name.strip() for name in fields]
    if len(set(header)) != len(header):
        dupes = sorted({name for name in header if header.count(name) > 1})
        raise ValueError(f"{path}: duplicate column names in the header: {', '.join(dupes)}")
    if id_field is not None and id_field not in header:
        raise ValueError(
            f"{path}: id column {id_field!r} is not in the header ({', '.join(header)})"
        )
    return header


def _read_csv(
    path: Path,
    header: list[str] | None,
    id_field: str | None,
    start_seq: int,
    skip: Callable[[int], bool] | None,
    stop_seq: int | None,
) -> Iterator[InputItem]:
    if header is None:
        return
    records = _csv_records(path)
    next(records, None)  # the header, checked by _csv_header
    width = len(header)
    seq = -1
    for line, fields, error in records:
        seq += 1
        if seq < start_seq:
            continue
        if stop_seq is not None and seq >= stop_seq:
            return
        if skip is not None and skip(seq):
            continue
        if fields is None:
            yield InputItem(seq, str(line), line, None, error)
        elif len(fields) != width:
            yield InputItem(
                seq, str(line), line, None,
                f"line {line}: expected {width} fields, got {len(fields)}",
            )
        else:
            yield _with_id(seq, line, dict(zip(header, fields)), id_field)
