"""The checkpoint: a SQLite journal (WAL) of finished items, safe against ``kill -9``.

One row per input position (``seq``): its status (done or failed), result, reason, attempts
and calls. A result and its done mark are one row, so they commit together, and every
:meth:`Checkpoint.record` commits at once. With ``journal_mode=WAL`` and ``synchronous=NORMAL``
a commit is durable against the process being killed (the WAL lives in the OS page cache) at no
fsync per item; a power loss may lose the last commits, never corrupt the file.

Only what :meth:`Checkpoint.record` and :meth:`Checkpoint.set_meta` are given is stored:
never request headers or API keys. The file is created readable by its owner only.

A checkpoint is used by one process at a time (on POSIX an advisory lock on ``<path>.lock``,
released by the OS when the process dies, however it dies).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

import orjson

from harness.errors import CheckpointError

try:
    import fcntl
except ImportError:  # not POSIX: no cross-process lock
    fcntl = None  # type: ignore[assignment]

__all__ = ["Checkpoint", "CheckpointError", "CONNECTION_FAILED"]

# the reason of an item whose every attempt found no connection (the caller writes it so)
CONNECTION_FAILED = "connection_error after "

SCHEMA_VERSION = "1"
_PAGE = 2000  # rows per query when streaming, so no read transaction stays open for long

_SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE items (
    seq      INTEGER PRIMARY KEY,
    item_id  TEXT    NOT NULL,
    status   TEXT    NOT NULL CHECK (status IN ('done', 'failed')),
    result   BLOB,
    reason   TEXT,
    attempts INTEGER NOT NULL,
    calls    INTEGER NOT NULL
);
CREATE TABLE output_position (
    id       INTEGER PRIMARY KEY CHECK (id = 0),
    next_seq INTEGER NOT NULL,
    offset   INTEGER NOT NULL
);
INSERT INTO output_position (id, next_seq, offset) VALUES (0, 0, 0);
"""

# A done row is final: recording it again changes nothing. A failed row may be replaced
# (e.g. by a later retry of failed items), still as the one row of its seq.
_UPSERT = """
INSERT INTO items (seq, item_id, status, result, reason, attempts, calls)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (seq) DO UPDATE SET
    item_id = excluded.item_id, status = excluded.status, result = excluded.result,
    reason = excluded.reason, attempts = excluded.attempts, calls = excluded.calls
WHERE items.status <> 'done'
"""


class Checkpoint:
    """The journal of one run. ``fingerprint`` identifies the scenario and input it belongs to."""

    def __init__(self, path: Path, *, fingerprint: str, resume: bool) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        exists = self.path.exists()
        if exists and not resume:
            raise CheckpointError(
                f"checkpoint {self.path} exists; use --resume to continue it or remove it"
            )
        if resume and not exists:
            raise CheckpointError(
                f"checkpoint {self.path} does not exist; there is nothing to resume "
                "(run without --resume to start)"
            )
        self._lock_file = self._acquire_lock()
        self._lock = threading.Lock()
        try:
            self._db = self._connect(create=not exists)
            if exists:
                self._check_existing()
            else:
                self._create()
            self._counts = self._count_rows()
        except BaseException:
            db = getattr(self, "_db", None)
            if db is not None:
                db.close()
            self._release()
            raise

    @classmethod
    def open_existing(cls, path: Path) -> "Checkpoint":
        """Open a finished or interrupted run's checkpoint to read it (``harness failed``),
        whatever scenario it belongs to."""
        path = Path(path)
        if not path.exists():
            raise CheckpointError(f"checkpoint {path} does not exist")
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            row = db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
            db.close()
        except sqlite3.DatabaseError as exc:
            raise CheckpointError(f"checkpoint {path} is not a harness checkpoint ({exc})") from None
        if row is None:
            raise CheckpointError(f"checkpoint {path} has no fingerprint; it was never completed")
        return cls(path, fingerprint=row[0], resume=True)

    # --- opening ----------------------------------------------------------------------------

    def _acquire_lock(self) -> int | None:
        if fcntl is None:
            return None
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CheckpointError(
                f"checkpoint {self.path} is in use by another process"
            ) from None
        return fd

    def _connect(self, *, create: bool) -> sqlite3.Connection:
        if create:
            # Owner-only from the first byte; SQLite gives the -wal/-shm files the same mode.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise CheckpointError(f"checkpoint {self.path} is not usable: {exc}") from exc
        if str(mode).lower() != "wal":
            db.close()
            raise CheckpointError(f"checkpoint {self.path}: cannot use WAL mode (got {mode})")
        return db

    def _create(self) -> None:
        with self._transaction():
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("schema", SCHEMA_VERSION), ("fingerprint", self.fingerprint)],
            )

    def _check_existing(self) -> None:
        try:
            rows = dict(self._db.execute(
                "SELECT key, value FROM meta WHERE key IN ('schema', 'fingerprint')"
            ).fetchall())
        except sqlite3.DatabaseError as exc:
            raise CheckpointError(
                f"checkpoint {self.path} is not a harness checkpoint or was never completed "
                f"({exc}); remove it to start again"
            ) from exc
        if rows.get("schema") != SCHEMA_VERSION:
            raise CheckpointError(
                f"checkpoint {self.path} has schema {rows.get('schema')!r}, this harness "
                f"writes {SCHEMA_VERSION!r}; remove it to start again"
            )
        stored = rows.get("fingerprint")
        if stored != self.fingerprint:
            raise CheckpointError(
                f"checkpoint {self.path} belongs to another scenario or input: it was made for "
                f"fingerprint {stored!r}, this run has {self.fingerprint!r}; "
                "remove it or use a different checkpoint path"
            )

    def _count_rows(self) -> dict[str, int]:
        counts = {"done": 0, "failed": 0}
        for status, n in self._db.execute("SELECT status, count(*) FROM items GROUP BY status"):
            counts[status] = n
        return counts

    # --- writing ----------------------------------------------------------------------------

    def _transaction(self) -> "_Transaction":
        return _Transaction(self._db)

    def batch(self) -> "_Batch":
        """Group commit: ``with checkpoint.batch():`` makes every :meth:`record`,
        :meth:`set_output_position` and :meth:`set_meta` inside the block one transaction,
        committed when the block ends (rolled back, counts included, if it raises).

        Nothing recorded inside is durable before the block ends, so a caller that must lose
        no more than the items in flight to a kill waits for the commit before it counts its
        items finished (the engine does: a worker takes no new item before its last one's
        batch has committed). Blocks do not nest."""
        return _Batch(self)

    def record(
        self,
        seq: int,
        item_id: str,
        status: Literal["done", "failed"],
        result: dict[str, Any] | None,
        reason: str | None,
        attempts: int,
        calls: int,
    ) -> bool:
        """Record a finished item and commit. Returns False (nothing changed) if ``seq`` was
        already done; a failed seq recorded again is replaced. Either way one row per seq."""
        if status not in ("done", "failed"):
            raise ValueError(f"status must be 'done' or 'failed', not {status!r}")
        blob = None if result is None else orjson.dumps(result)
        with self._lock:
            previous = self._db.execute(
                "SELECT status FROM items WHERE seq = ?", (seq,)
            ).fetchone()
            if previous is not None and previous[0] == "done":
                return False
            self._db.execute(_UPSERT, (seq, item_id, status, blob, reason, attempts, calls))
            if previous is not None:
                self._counts[previous[0]] -= 1
            self._counts[status] += 1
            return True

    def record_many(
        self, records: Iterable[tuple[int, str, str, dict[str, Any] | None, str | None, int, int]]
    ) -> int:
        """:meth:`record` of each ``(seq, item_id, status, result, reason, attempts, calls)``, in
        order, with a couple of statements for the lot instead of two per item; one commit (or
        part of the enclosing :meth:`batch`). Returns how many rows were recorded or replaced."""
        rows = []
        for seq, item_id, status, result, reason, attempts, calls in records:
            if status not in ("done", "failed"):
                raise ValueError(f"status must be 'done' or 'failed', not {status!r}")
            rows.append((seq, item_id, status, None if result is None else orjson.dumps(result),
                         reason, attempts, calls))
        if not rows:
            return 0
        with self._lock:
            db = self._db
            current: dict[int, str] = {}
            seqs = sorted({r[0] for r in rows})
            for i in range(0, len(seqs), 500):  # well under SQLite's limit on bound variables
                chunk = seqs[i:i + 500]
                current.update(db.execute(
                    f"SELECT seq, status FROM items WHERE seq IN ({','.join('?' * len(chunk))})", chunk
                ))
            todo = []
            counts = self._counts
            saved = dict(counts)
            for row in rows:
                previous = current.get(row[0])
                if previous == "done":
                    continue
                if previous is not None:
                    counts[previous] -= 1
                counts[row[2]] += 1
                current[row[0]] = row[2]
                todo.append(row)
            if not todo:
                return 0
            try:
                if db.in_transaction:
                    db.executemany(_UPSERT, todo)
                else:
                    with self._transaction():
                        db.executemany(_UPSERT, todo)
            except BaseException:
                self._counts = saved
                raise
            return len(todo)

    def set_meta(self, key: str, value: str) -> None:
        """Store a run-level value (never a secret); ``fingerprint`` and ``schema`` are reserved."""
        if key in ("fingerprint", "schema"):
            raise ValueError(f"meta key {key!r} is reserved")
        with self._lock:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_figures(self, figures: dict[str, Any]) -> None:
        """Store the run's per-request figures (:class:`harness.runner.figures.FigureBook`, for
        ``harness calibrate``): bounded samples and counts, never a key or a body."""
        self.set_meta("figures", orjson.dumps(figures).decode())

    def get_figures(self) -> dict[str, Any] | None:
        text = self.get_meta("figures")
        return None if text is None else orjson.loads(text)

    def output_position(self) -> tuple[int, int]:
        """(next seq to write, byte offset of the output file after the rows written)."""
        with self._lock:
            row = self._db.execute(
                "SELECT next_seq, offset FROM output_position WHERE id = 0"
            ).fetchone()
        return int(row[0]), int(row[1])

    def set_output_position(self, next_seq: int, offset: int) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE output_position SET next_seq = ?, offset = ? WHERE id = 0",
                (next_seq, offset),
            )

    def reopen_failed(self, reason_prefix: str) -> int:
        """Make failed items whose reason starts with ``reason_prefix`` unfinished again, so a
        resume runs them (items failed because the target was down). If one of them is already
        in the output, the output position goes back to the start and the writer writes every
        row again from the journal. One transaction; returns how many were reopened."""
        like = reason_prefix.replace("%", r"\%").replace("_", r"\_") + "%"
        with self._lock, self._transaction():
            row = self._db.execute(
                "SELECT count(*), min(seq) FROM items WHERE status = 'failed' AND reason LIKE ? ESCAPE '\\'",
                (like,),
            ).fetchone()
            n, first = int(row[0]), row[1]
            if not n:
                return 0
            self._db.execute("DELETE FROM items WHERE status = 'failed' AND reason LIKE ? ESCAPE '\\'", (like,))
            next_seq = self._db.execute("SELECT next_seq FROM output_position WHERE id = 0").fetchone()[0]
            if first < next_seq:
                self._db.execute("UPDATE output_position SET next_seq = 0, offset = 0 WHERE id = 0")
        self._counts["failed"] -= n
        return n

    # --- reading ----------------------------------------------------------------------------

    def is_finished(self, seq: int) -> bool:
        with self._lock:
            return self._db.execute(
                "SELECT 1 FROM items WHERE seq = ?", (seq,)
            ).fetchone() is not None

    def counts(self) -> dict[str, int]:
        """{"done": n, "failed": m} (kept in memory, no query)."""
        return dict(self._counts)

    def last_finished_seq(self) -> int | None:
        """The highest finished seq, or None when nothing is finished."""
        with self._lock:
            return self._db.execute("SELECT max(seq) FROM items").fetchone()[0]

    def finished_seqs(self, start: int = 0) -> Iterator[int]:
        """Finished (done or failed) seqs >= ``start``, ascending, streamed page by page."""
        after = start - 1
        while True:
            with self._lock:
                page = [s for (s,) in self._db.execute(
                    "SELECT seq FROM items WHERE seq > ? ORDER BY seq LIMIT ?", (after, _PAGE)
                )]
            yield from page
            if len(page) < _PAGE:
                return
            after = page[-1]

    def finished_filter(self, start: int = 0) -> "FinishedFilter":
        """A ``skip`` predicate for :func:`harness.runner.inputs.read_items`: a merge-join with
        :meth:`finished_seqs`, for calls in increasing seq order."""
        return FinishedFilter(self.finished_seqs(start))

    def results(
        self, start_seq: int, end_seq: int
    ) -> Iterator[tuple[int, str, str, dict[str, Any] | None, str | None]]:
        """(seq, item_id, status, result, reason) for finished seqs in [start_seq, end_seq)."""
        after = start_seq - 1
        while True:
            with self._lock:
                page = self._db.execute(
                    "SELECT seq, item_id, status, result, reason FROM items "
                    "WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?",
                    (after, end_seq, _PAGE),
                ).fetchall()
            for seq, item_id, status, blob, reason in page:
                yield seq, item_id, status, (None if blob is None else orjson.loads(blob)), reason
            if len(page) < _PAGE:
                return
            after = page[-1][0]

    def failed(self) -> Iterator[tuple[int, str, str, int]]:
        """(seq, item_id, reason, attempts) of failed items, in seq order."""
        after = -1
        while True:
            with self._lock:
                page = self._db.execute(
                    "SELECT seq, item_id, reason, attempts FROM items "
                    "WHERE status = 'failed' AND seq > ? ORDER BY seq LIMIT ?",
                    (after, _PAGE),
                ).fetchall()
            for seq, item_id, reason, attempts in page:
                yield seq, item_id, reason or "", attempts
            if len(page) < _PAGE:
                return
            after = page[-1][0]

    # --- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database and release the lock (idempotent)."""
        with self._lock:
            db, self._db = getattr(self, "_db", None), None
            if db is not None:
                db.close()
        self._release()

    def _release(self) -> None:
        fd, self._lock_file = getattr(self, "_lock_file", None), None
        if fd is not None and fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> "Checkpoint":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Checkpoint {str(self.path)!r} done={self._counts['done']} failed={self._counts['failed']}>"


class FinishedFilter:
    """True for seqs that are finished; asks must come in increasing order."""

    __slots__ = ("_seqs", "_head")

    def __init__(self, seqs: Iterator[int]) -> None:
        self._seqs = seqs
        self._head = next(seqs, None)

    def __call__(self, seq: int) -> bool:
        while self._head is not None and self._head < seq:
            self._head = next(self._seqs, None)
        return self._head == seq


class _Batch:
    """:meth:`Checkpoint.batch`: one transaction around many writes."""

    __slots__ = ("_ckpt", "_counts")

    def __init__(self, ckpt: Checkpoint) -> None:
        self._ckpt = ckpt
        self._counts: dict[str, int] | None = None

    def __enter__(self) -> None:
        ckpt = self._ckpt
        with ckpt._lock:
            if ckpt._db.in_transaction:
                raise RuntimeError("checkpoint batches do not nest")
            ckpt._db.execute("BEGIN IMMEDIATE")
        self._counts = dict(ckpt._counts)

    def __exit__(self, exc_type: object, *rest: object) -> None:
        ckpt = self._ckpt
        assert self._counts is not None
        with ckpt._lock:
            if exc_type is None:
                try:
                    ckpt._db.execute("COMMIT")
                    return
                except BaseException:
                    if ckpt._db.in_transaction:
                        ckpt._db.execute("ROLLBACK")
                    ckpt._counts = self._counts
                    raise
            if ckpt._db.in_transaction:
                ckpt._db.execute("ROLLBACK")
        ckpt._counts = self._counts


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error (the connection is in autocommit)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
