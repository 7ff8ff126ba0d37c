"""The SQLite checkpoint: create/resume rules, one row per seq, streaming reads."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

import harness.runner.checkpoint as checkpoint_module
from harness.runner.checkpoint import Checkpoint, CheckpointError


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "run.ckpt"


def test_new_checkpoint_is_wal_owner_only_and_empty(path: Path) -> None:
    with Checkpoint(path, fingerprint="f1", resume=False) as cp:
        assert cp.counts() == {"done": 0, "failed": 0}
        assert cp.output_position() == (0, 0)
        assert list(cp.finished_seqs()) == [] and cp.last_finished_seq() is None
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_existing_file_without_resume_is_refused(path: Path) -> None:
    Checkpoint(path, fingerprint="f1", resume=False).close()
    with pytest.raises(CheckpointError, match="exists; use --resume to continue it or remove it"):
        Checkpoint(path, fingerprint="f1", resume=False)


def test_resume_of_missing_file_is_refused(path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        Checkpoint(path, fingerprint="f1", resume=True)
    assert not path.exists()


def test_resume_with_other_fingerprint_names_both(path: Path) -> None:
    Checkpoint(path, fingerprint="scenario-a", resume=False).close()
    with pytest.raises(CheckpointError, match="'scenario-a'.*'scenario-b'"):
        Checkpoint(path, fingerprint="scenario-b", resume=True)


def test_resume_of_a_file_that_is_not_a_checkpoint(path: Path) -> None:
    path.write_text("hello, not sqlite " * 100)
    with pytest.raises(CheckpointError, match="not"):
        Checkpoint(path, fingerprint="f", resume=True)


def test_second_open_while_in_use_is_refused(path: Path) -> None:
    first = Checkpoint(path, fingerprint="f", resume=False)
    with pytest.raises(CheckpointError, match="in use by another process"):
        Checkpoint(path, fingerprint="f", resume=True)
    first.close()
    Checkpoint(path, fingerprint="f", resume=True).close()


def test_records_survive_reopen(path: Path) -> None:
    with Checkpoint(path, fingerprint="f", resume=False) as cp:
        cp.record(0, "a", "done", {"x": 1, "nested": {"y": [1, 2]}}, None, 1, 2)
        cp.record(2, "c", "failed", None, "HTTP 400: bad request", 3, 3)
        cp.set_meta("run_id", "r-1")
        cp.set_output_position(1, 42)
    with Checkpoint(path, fingerprint="f", resume=True) as cp:
        assert cp.counts() == {"done": 1, "failed": 1}
        assert list(cp.finished_seqs()) == [0, 2]
        assert cp.is_finished(0) and not cp.is_finished(1) and cp.is_finished(2)
        assert list(cp.results(0, 10)) == [
            (0, "a", "done", {"x": 1, "nested": {"y": [1, 2]}}, None),
            (2, "c", "failed", None, "HTTP 400: bad request"),
        ]
        assert list(cp.failed()) == [(2, "c", "HTTP 400: bad request", 3)]
        assert cp.get_meta("run_id") == "r-1" and cp.get_meta("nope") is None
        assert cp.output_position() == (1, 42)


def test_record_twice_keeps_one_row_and_done_is_final(path: Path) -> None:
    with Checkpoint(path, fingerprint="f", resume=False) as cp:
        assert cp.record(5, "e", "done", {"v": "first"}, None, 1, 1) is True
        assert cp.record(5, "e", "done", {"v": "second"}, None, 1, 1) is False
        assert cp.record(5, "e", "failed", None, "late failure", 2, 2) is False
        assert cp.record(6, "f", "failed", None, "timeout", 4, 4) is True
        assert cp.record(6, "f", "done", {"v": "retried"}, None, 1, 1) is True
        assert cp.counts() == {"done": 2, "failed": 0}
        assert list(cp.results(0, 100)) == [
            (5, "e", "done", {"v": "first"}, None), (6, "f", "done", {"v": "retried"}, None),
        ]
    db = sqlite3.connect(path)
    assert db.execute("SELECT seq, count(*) FROM items GROUP BY seq").fetchall() == [(5, 1), (6, 1)]
    db.close()


def test_record_rejects_unknown_status(path: Path) -> None:
    with Checkpoint(path, fingerprint="f", resume=False) as cp:
        with pytest.raises(ValueError, match="status"):
            cp.record(0, "a", "skipped", None, None, 0, 0)  # type: ignore[arg-type]
        assert cp.counts() == {"done": 0, "failed": 0}


def test_reserved_meta_keys(path: Path) -> None:
    with Checkpoint(path, fingerprint="f", resume=False) as cp:
        with pytest.raises(ValueError, match="reserved"):
            cp.set_meta("fingerprint", "other")
        cp.set_meta("k", "1")
        cp.set_meta("k", "2")
        assert cp.get_meta("k") == "2"


def test_streaming_reads_cross_page_boundaries(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint_module, "_PAGE", 7)
    with Checkpoint(path, fingerprint="f", resume=False) as cp:
        seqs = [s for s in range(100) if s % 3]
        for s in seqs:
            cp.record(s, f"id{s}", "failed" if s % 5 == 0 else "done", {"s": s}, "r", 1, 1)
        assert list(cp.finished_seqs()) == seqs
        assert list(cp.finished_seqs(start=50)) == [s for s in seqs if s >= 50]
        assert [r[0] for r in cp.results(10, 40)] == [s for s in seqs if 10 <= s < 40]
        assert [r[0] for r in cp.failed()] == [s for s in seqs if s % 5 == 0]
        assert cp.last_finished_seq() == 98
        skip = cp.finished_filter()
        assert [s for s in range(100) if not skip(s)] == [s for s in range(100) if s % 3 == 0]


def test_only_recorded_values_are_stored(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-SECRET-KEY-123"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    with Checkpoint(path, fingerprint="f", resume=False) as cp:
        cp.record(0, "a", "done", {"answer": "ok"}, None, 1, 1)
    db = sqlite3.connect(path)
    columns = [row[1] for row in db.execute("PRAGMA table_info(items)")]
    db.close()
    assert columns == ["seq", "item_id", "status", "result", "reason", "attempts", "calls"]
    stored = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.is_file())
    assert b"answer" in stored
    assert secret.encode() not in stored
