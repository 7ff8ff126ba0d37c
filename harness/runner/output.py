"""The output file: one row per item, in input order, written as results arrive.

Rows wait in a buffer until the prefix from the next seq to write is complete, then are written,
flushed, and their end recorded in the checkpoint (:meth:`Checkpoint.set_output_position`). On
open the file is cut back to the recorded position, so rows written after it (a kill between
the write and the record) are written again once, never twice.

Contract with the engine: :meth:`Checkpoint.record` an item *before* :meth:`OrderedWriter.add`
of it. The writer may then forget buffered rows (beyond ``max_buffer``) and read them back from
the checkpoint, and on resume it writes already-finished items from there
(:meth:`OrderedWriter.skip_finished`).

Columns. Every row has ``id`` (the item id), ``status`` (done/failed) and ``error`` (the reason
of a failed item, empty/null otherwise), then the result's fields:

- ``columns`` given: exactly those, in that order; a missing field is empty (CSV) or null (JSONL).
- ``columns`` None, JSONL: every field of each result, in the result's own order.
- ``columns`` None, CSV: the sorted keys of the first result in seq order. The header waits
  for it (up to ``max_buffer`` rows of failures, then it is written without result columns);
  keys of later results not in the header are left out and listed in ``unknown_keys``.

A result field named ``id``, ``status`` or ``error`` is written as ``result_id`` etc. CSV cells:
None is empty, lists and dicts are JSON. On resume the CSV columns are those of the first run
(kept in the checkpoint's meta ``output_columns``).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Iterable, Literal

import orjson

from harness.errors import OutputError, OutputWriteError
from harness.runner.checkpoint import Checkpoint

try:
    import fcntl
except ImportError:  # not POSIX: no cross-process lock
    fcntl = None  # type: ignore[assignment]

__all__ = ["OrderedWriter", "OutputError", "OutputWriteError", "lock_output", "FIXED_COLUMNS"]

FIXED_COLUMNS = ("id", "status", "error")
_COLUMNS_META = "output_columns"
_PAGE = 1000  # rows read back from the checkpoint per query

Row = tuple[int, str, str, "dict[str, Any] | None", "str | None"]


def lock_output(path: Path) -> int:
    """Open (creating) the output file and take an exclusive advisory lock on it, released by the
    OS when the process dies; returns the descriptor for :class:`OrderedWriter`."""
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(f"output {path} is being written by another run; give each run its own --output") \
                from None
    return fd


def _field_name(key: str) -> str:
    return f"result_{key}" if key in FIXED_COLUMNS else key


class OrderedWriter:
    """Writes rows in seq order to a CSV or JSONL file, resumably."""

    def __init__(
        self,
        path: Path,
        fmt: Literal["csv", "jsonl"],
        columns: list[str] | None,
        checkpoint: Checkpoint,
        *,
        max_buffer: int = 10_000,
        fd: int | None = None,
    ) -> None:
        """``fd``: the descriptor :func:`lock_output` returned (the writer owns it from now on)."""
        if fmt not in ("csv", "jsonl"):
            raise ValueError(f"output format must be 'csv' or 'jsonl', not {fmt!r}")
        self.path = Path(path)
        self.fmt = fmt
        self.max_buffer = max_buffer
        self._checkpoint = checkpoint
        self._buffer: dict[int, Row] = {}
        self._held: list[Row] = []  # ready rows waiting for the CSV header to be decided
        self._spilled_to = -1  # rows up to this seq may be in the checkpoint only
        self.unknown_keys: set[str] = set()

        self.next_seq, offset = checkpoint.output_position()
        self._written_seq = self.next_seq  # next seq whose row is not in the file yet
        self._fields = self._initial_fields(columns, offset)
        self._fd = self._open(offset, fd)
        self._offset = offset
        self._text = io.StringIO()
        self._csv = csv.writer(self._text, lineterminator="\n")

    # --- opening ----------------------------------------------------------------------------

    def _initial_fields(self, columns: list[str] | None, offset: int) -> list[str] | None:
        """The result fields after id/status/error, or None while not decided (CSV only)."""
        if columns is not None:
            fields = [_field_name(c) for c in columns if c not in FIXED_COLUMNS]
        else:
            fields = None
        if self.fmt != "csv":
            return fields
        stored = self._checkpoint.get_meta(_COLUMNS_META)
        if stored is not None and offset > 0:
            kept = orjson.loads(stored)
            if fields is not None and fields != kept:
                raise OutputError(
                    f"{self.path} was written with columns {kept}, this run asks for {fields}"
                )
            return kept
        return fields

    def _open(self, offset: int, fd: int | None) -> int:
        # unbuffered: a failed write (ENOSPC) leaves nothing pending, and is cut back at once
        if fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        size = os.fstat(fd).st_size
        if size < offset:
            os.close(fd)
            raise OutputError(
                f"{self.path} has {size} bytes but the checkpoint recorded {offset} written; "
                "the output file was changed or replaced since the last run"
            )
        os.ftruncate(fd, offset)
        os.lseek(fd, offset, os.SEEK_SET)
        return fd

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            try:  # back to the last whole row (the recorded position)
                os.ftruncate(self._fd, self._offset)
                os.lseek(self._fd, self._offset, os.SEEK_SET)
            except OSError:
                pass
            raise OutputWriteError(exc.errno, f"{exc.strerror or exc} writing {self.path}", str(self.path)) from exc

    # --- adding -----------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Rows held in memory, not yet written."""
        return len(self._buffer) + len(self._held)

    def add(
        self, seq: int, item_id: str, status: str, result: dict[str, Any] | None,
        reason: str | None,
    ) -> int:
        """Take one finished item; returns how many rows were written now."""
        if seq < self.next_seq or seq in self._buffer:
            return 0
        if seq != self.next_seq:
            self._buffer[seq] = (seq, item_id, status, result, reason)
            if len(self._buffer) > self.max_buffer:
                self._spill()
            return 0
        return self._drain((seq, item_id, status, result, reason))

    def add_many(self, rows: Iterable[Row]) -> int:
        """Take several finished items, ``(seq, item_id, status, result, reason)`` each, in any
        order: the same as :meth:`add` of each, with one write (and one position record) for
        all. Returns how many rows were written now."""
        buffer, next_seq = self._buffer, self.next_seq
        for row in rows:
            seq = row[0]
            if seq >= next_seq and seq not in buffer:
                buffer[seq] = row
        written = self._drain(None) if next_seq in buffer else 0
        if len(buffer) > self.max_buffer:
            self._spill()
        return written

    def skip_finished(self) -> None:
        """On resume: items finished in the checkpoint beyond ``next_seq`` are written from it
        when the prefix reaches them; the engine need not (and should not) send them again."""
        last = self._checkpoint.last_finished_seq()
        if last is not None and last >= self.next_seq:
            self._spilled_to = max(self._spilled_to, last)
            self._drain(None)

    def _spill(self) -> None:
        self._spilled_to = max(self._spilled_to, max(self._buffer))
        self._buffer.clear()

    def _drain(self, first: Row | None) -> int:
        """Move the complete prefix from ``next_seq`` to the file."""
        ready: list[Row] = []
        if first is not None:
            ready.append(first)
            self.next_seq += 1
        while True:
            row = self._buffer.pop(self.next_seq, None)
            if row is not None:
                ready.append(row)
                self.next_seq += 1
            elif self.next_seq <= self._spilled_to:
                got = self._read_back(ready)
                if not got:
                    break
            else:
                break
        return self._write(ready, force=False)

    def _read_back(self, ready: list[Row]) -> int:
        """Append the contiguous rows from ``next_seq`` found in the checkpoint."""
        got = 0
        end = min(self.next_seq + _PAGE, self._spilled_to + 1)
        for row in self._checkpoint.results(self.next_seq, end):
            if row[0] != self.next_seq:
                break
            self._buffer.pop(self.next_seq, None)
            ready.append(row)
            self.next_seq += 1
            got += 1
        return got

    # --- writing ----------------------------------------------------------------------------

    def _write(self, ready: list[Row], *, force: bool) -> int:
        if self._fields is None and self.fmt == "csv":  # header not decided yet
            first = next((r for r in ready if r[3] is not None), None)
            self._held.extend(ready)
            if first is None and not force and len(self._held) <= self.max_buffer:
                return 0
            self._fields = [] if first is None else sorted(_field_name(k) for k in first[3])
            ready, self._held = self._held, []
        if not ready:
            return 0
        if self.fmt == "csv" and self._offset == 0:
            self._checkpoint.set_meta(_COLUMNS_META, orjson.dumps(self._fields).decode())
        data = self._encode(ready)
        self._write_all(data)
        self._offset += len(data)
        self._written_seq = ready[-1][0] + 1
        self._checkpoint.set_output_position(self._written_seq, self._offset)
        return len(ready)

    def _encode(self, rows: list[Row]) -> bytes:
        if self.fmt == "jsonl":
            return b"".join(orjson.dumps(self._object(r)) + b"\n" for r in rows)
        text, writer, fields = self._text, self._csv, self._fields
        assert fields is not None
        text.seek(0)
        text.truncate()
        if self._offset == 0:
            writer.writerow([*FIXED_COLUMNS, *fields])
        known = set(fields)
        for _seq, item_id, status, result, reason in rows:
            values: dict[str, Any] = {}
            if result:
                for key, value in result.items():
                    name = _field_name(key)
                    if name in known:
                        values[name] = value
                    else:
                        self.unknown_keys.add(name)
            writer.writerow([item_id, status, reason or "", *(
                _cell(values.get(name)) for name in fields
            )])
        return text.getvalue().encode("utf-8")

    def _object(self, row: Row) -> dict[str, Any]:
        _seq, item_id, status, result, reason = row
        obj: dict[str, Any] = {"id": item_id, "status": status, "error": reason}
        if self._fields is None:
            if result:
                for key, value in result.items():
                    obj[_field_name(key)] = value
        else:
            renamed = {_field_name(k): v for k, v in result.items()} if result else {}
            for name in self._fields:
                obj[name] = renamed.get(name)
        return obj

    # --- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Write any ready rows held for the CSV header, flush and close (idempotent).
        Rows still waiting for an earlier seq stay unwritten (they are in the checkpoint)."""
        if self._fd < 0:
            return
        try:
            if self._held:
                self._write([], force=True)
        finally:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "OrderedWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<OrderedWriter {str(self.path)!r} {self.fmt} next_seq={self.next_seq} "
            f"pending={self.pending}>"
        )


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value
