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
from typing import IO, Any, Callable, Iterable, Iterator, Literal, TypeVar

import orjson

T = TypeVar("T")

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
    max_bytes: int | None = None,
) -> Iterator[InputItem]:
    """Stream the items of ``path`` in file order.

    ``start_seq``/``stop_seq``: yield only items with ``start_seq <= seq < stop_seq`` (numbering
    always counts from the start of the file, so a range is a chunk of the same run).
    ``skip(seq)``: called in increasing seq order for each item in range; true leaves the item
    out (already finished on resume). JSONL lines left out are not even parsed.
    ``id_field``: the column/field holding the item id; a row without it is an error item.
    For CSV, an unreadable header, duplicate column names or a header without the id column
    raise ValueError at the call, before any item.
    ``max_bytes``: a record larger than this is an error item (never sent as a huge body).
    """
    found = detect_format(Path(path), fmt)
    if found == "csv":
        header = _csv_header(Path(path), id_field)  # header errors now, not at first next()
        return _read_csv(Path(path), header, id_field, start_seq, skip, stop_seq, max_bytes)
    return _read_jsonl(Path(path), id_field, start_seq, skip, stop_seq, max_bytes)


def duplicate_ids(path: Path, fmt: str | None, id_field: str | None, examples: int = 3) -> tuple[int, list[str]]:
    """How many items repeat an earlier item's id, and a few of those ids. One streamed pass;
    ids are kept as 8-byte hashes (numpy), so a million ids cost 8 MB."""
    import hashlib

    import numpy as np

    if id_field is None:
        return 0, []
    hashes: list[int] = []
    chunks = []
    for item in read_items(path, fmt, id_field):
        if item.row is None:
            continue
        digest = hashlib.blake2b(item.item_id.encode("utf-8", "surrogateescape"), digest_size=8).digest()
        hashes.append(int.from_bytes(digest, "little", signed=True))
        if len(hashes) >= 65536:
            chunks.append(np.array(hashes, dtype=np.int64))
            hashes = []
    chunks.append(np.array(hashes, dtype=np.int64))
    every = np.sort(np.concatenate(chunks))
    repeated = int(np.count_nonzero(every[1:] == every[:-1])) if every.size > 1 else 0
    if not repeated:
        return 0, []
    seen: set[str] = set()
    found: list[str] = []
    for item in read_items(path, fmt, id_field):  # second pass only when there are repeats
        if item.row is None:
            continue
        if item.item_id in seen and item.item_id not in found:
            found.append(item.item_id)
            if len(found) >= examples:
                break
        seen.add(item.item_id)
    return repeated, found


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
    header = _csv_header(Path(path), None) if Path(path).stat().st_size else None
    count = sum(1 for _ in _csv_records(Path(path), len(header) if header else None))
    return max(count - 1, 0)  # the header


# --- JSON Lines -------------------------------------------------------------------------------


def _read_jsonl(
    path: Path,
    id_field: str | None,
    start_seq: int,
    skip: Callable[[int], bool] | None,
    stop_seq: int | None,
    max_bytes: int | None = None,
) -> Iterator[InputItem]:
    with open(path, "rb") as f:
        for seq, (line, raw) in _window(_jsonl_lines(f), start_seq, skip, stop_seq):
            if max_bytes is not None and len(raw) > max_bytes:
                yield InputItem(seq, str(line), line, None, _too_big(line, len(raw), max_bytes))
                continue
            yield _jsonl_item(seq, line, raw, id_field)


def _jsonl_lines(f) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) of every line that holds something (a BOM on the first is dropped)."""
    for line, raw in enumerate(f, start=1):
        if line == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        if not raw.isspace():
            yield line, raw


def _window(records: Iterable[T], start_seq: int, skip: Callable[[int], bool] | None,
            stop_seq: int | None) -> Iterator[tuple[int, T]]:
    """(seq, record) of the records in this run's window: from ``start_seq``, before ``stop_seq``,
    without those ``skip`` names (done in an earlier run)."""
    for seq, record in enumerate(records):
        if seq < start_seq:
            continue
        if stop_seq is not None and seq >= stop_seq:
            return
        if skip is not None and skip(seq):
            continue
        yield seq, record


def _too_big(line: int, size: int, limit: int) -> str:
    return f"line {line}: item is {size:,} bytes, over the {limit:,}-byte limit (--max-item-bytes)"


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


class _Lines:
    """The physical lines of a CSV file from a byte offset, decoded one at a time, with the
    position reached (so a bad record can be skipped by seeking back)."""

    def __init__(self, f: IO[bytes], pos: int, line: int) -> None:
        f.seek(pos)
        self._f = f
        self.pos = pos
        self.line = line  # number of the next physical line

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        raw = self._f.readline()
        if not raw:
            raise StopIteration
        if self.pos == 0 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
            self.pos += len(_BOM)
        self.pos += len(raw)
        self.line += 1
        # surrogateescape: a bad byte sequence spoils only its own record (reported as an
        # error item) instead of aborting the read.
        return raw.decode("utf-8", "surrogateescape")


def _valid_utf8(fields: list[str]) -> bool:
    for value in fields:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def _csv_records(path: Path, width: int | None = None,
                 max_bytes: int | None = None) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(start line, fields or None, error) for every non-blank record, header included.

    A record that fails to parse over several lines (an unclosed quote swallows what follows),
    or spans several lines with the wrong number of fields (``width``), is reported at its first
    line and reading goes on at the line after it, so one broken quote costs one row."""
    with open(path, "rb") as f:
        lines = _Lines(f, 0, 1)
        reader = csv.reader(lines, **_CSV_OPTIONS)
        while True:
            start, start_pos = lines.line, lines.pos
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, None, f"line {start}: malformed CSV: {exc}"
                if lines.line - start > 1:
                    lines, reader = _resync(f, start_pos, start)
                continue
            if not fields:
                continue
            if width is not None and len(fields) != width and lines.line - start > 1:
                yield start, None, f"line {start}: malformed CSV: unbalanced quote (expected {width} fields)"
                lines, reader = _resync(f, start_pos, start)
                continue
            if max_bytes is not None and lines.pos - start_pos > max_bytes:
                yield start, None, _too_big(start, lines.pos - start_pos, max_bytes)
                continue
            if not _valid_utf8(fields):
                yield start, None, f"line {start}: invalid UTF-8"
                continue
            yield start, fields, None


def _resync(f: IO[bytes], start_pos: int, start: int) -> tuple[_Lines, Any]:
    """A new reader from the line after the one at ``start_pos``."""
    f.seek(start_pos)
    first = f.readline()
    lines = _Lines(f, start_pos + len(first), start + 1)
    return lines, csv.reader(lines, **_CSV_OPTIONS)


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
    max_bytes: int | None = None,
) -> Iterator[InputItem]:
    if header is None:
        return
    width = len(header)
    records = _csv_records(path, width, max_bytes)
    next(records, None)  # the header, checked by _csv_header
    for seq, (line, fields, error) in _window(records, start_seq, skip, stop_seq):
        if fields is None:
            yield InputItem(seq, str(line), line, None, error)
        elif len(fields) != width:
            yield InputItem(
                seq, str(line), line, None,
                f"line {line}: expected {width} fields, got {len(fields)}",
            )
        else:
            yield _with_id(seq, line, dict(zip(header, fields)), id_field)
