"""The ordered output writer: input order, columns, bounded buffer, and no row twice after kill -9."""

from __future__ import annotations

import csv
import io
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.runner.checkpoint import Checkpoint
from harness.runner.output import OrderedWriter, OutputError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def cp(tmp_path: Path):
    checkpoint = Checkpoint(tmp_path / "run.ckpt", fingerprint="f", resume=False)
    yield checkpoint
    checkpoint.close()


def finish(cp: Checkpoint, writer: OrderedWriter, seq: int, result: dict | None = None,
           reason: str | None = None) -> int:
    """What the engine does per finished item: record, then add."""
    status = "failed" if reason else "done"
    item_id = f"i{seq}"
    cp.record(seq, item_id, status, result, reason, 1, 1)
    return writer.add(seq, item_id, status, result, reason)


def jsonl_rows(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


# --- order and columns --------------------------------------------------------------------------


def test_out_of_order_adds_are_written_in_seq_order(tmp_path: Path, cp: Checkpoint) -> None:
    out = tmp_path / "out.jsonl"
    writer = OrderedWriter(out, "jsonl", None, cp)
    assert finish(cp, writer, 2, {"v": 2}) == 0
    assert finish(cp, writer, 1, {"v": 1}) == 0
    assert writer.pending == 2 and out.read_bytes() == b""
    assert finish(cp, writer, 0, {"v": 0}) == 3
    assert finish(cp, writer, 4, {"v": 4}) == 0
    assert finish(cp, writer, 3, None, "HTTP 400: bad") == 2
    writer.close()
    assert jsonl_rows(out) == [
        {"id": "i0", "status": "done", "error": None, "v": 0},
        {"id": "i1", "status": "done", "error": None, "v": 1},
        {"id": "i2", "status": "done", "error": None, "v": 2},
        {"id": "i3", "status": "failed", "error": "HTTP 400: bad"},
        {"id": "i4", "status": "done", "error": None, "v": 4},
    ]
    assert cp.output_position() == (5, out.stat().st_size)


def test_adds_below_next_seq_and_repeats_are_ignored(tmp_path: Path, cp: Checkpoint) -> None:
    out = tmp_path / "out.jsonl"
    with OrderedWriter(out, "jsonl", None, cp) as writer:
        assert finish(cp, writer, 0, {"v": 0}) == 1
        assert writer.add(0, "i0", "done", {"v": "again"}, None) == 0
        assert writer.add(2, "i2", "done", {"v": 2}, None) == 0
        assert writer.add(2, "i2", "done", {"v": "dup"}, None) == 0
        assert writer.pending == 1
        assert finish(cp, writer, 1, {"v": 1}) == 2
    assert [r["v"] for r in jsonl_rows(out)] == [0, 1, 2]


def test_csv_with_given_columns(tmp_path: Path, cp: Checkpoint) -> None:
    out = tmp_path / "out.csv"
    with OrderedWriter(out, "csv", ["b", "a", "meta"], cp) as writer:
        finish(cp, writer, 0, {"a": 1, "b": "x,y", "meta": {"k": [1]}, "ignored": 5})
        finish(cp, writer, 1, None, "timeout after 3 attempts")
        finish(cp, writer, 2, {"a": "multi\nline"})
    assert csv_rows(out) == [
        ["id", "status", "error", "b", "a", "meta"],
        ["i0", "done", "", "x,y", "1", '{"k":[1]}'],
        ["i1", "failed", "timeout after 3 attempts", "", "", ""],
        ["i2", "done", "", "", "multi\nline", ""],
    ]


def test_jsonl_with_given_columns_has_exactly_those(tmp_path: Path, cp: Checkpoint) -> None:
    out = tmp_path / "out.jsonl"
    with OrderedWriter(out, "jsonl", ["b", "a"], cp) as writer:
        finish(cp, writer, 0, {"a": 1, "c": 3})
    assert jsonl_rows(out) == [{"id": "i0", "status": "done", "error": None, "b": None, "a": 1}]
    assert list(jsonl_rows(out)[0]) == ["id", "status", "error", "b", "a"]


def test_csv_inferred_header_waits_for_the_first_result(tmp_path: Path, cp: Checkpoint) -> None:
    out = tmp_path / "out.csv"
    writer = OrderedWriter(out, "csv", None, cp)
    assert finish(cp, writer, 0, None, "line 2: invalid JSON") == 0  # held: header unknown
    assert finish(cp, writer, 1, None, "HTTP 404") == 0
    assert out.read_bytes() == b""
    assert finish(cp, writer, 2, {"z": 1, "status": "ok", "a": 2}) == 3
    assert finish(cp, writer, 3, {"a": 3, "new": "x"}) == 1
    writer.close()
    assert csv_rows(out) == [
        ["id", "status", "error", "a", "result_status", "z"],
        ["i0", "failed", "line 2: invalid JSON", "", "", ""],
        ["i1", "failed", "HTTP 404", "", "", ""],
        ["i2", "done", "", "2", "ok", "1"],
        ["i3", "done", "", "3", "", ""],
    ]
    assert writer.unknown_keys == {"new"}


def test_csv_all_failures_get_a_header_at_close(tmp_path: Path, cp: Checkpoint) -> None:
    out = tmp_path / "out.csv"
    writer = OrderedWriter(out, "csv", None, cp)
    finish(cp, writer, 0, None, "bad")
    writer.close()
    assert csv_rows(out) == [["id", "status", "error"], ["i0", "failed", "bad"]]
    assert cp.output_position() == (1, out.stat().st_size)


# --- bounded buffer -----------------------------------------------------------------------------


def test_spilled_rows_are_read_back_from_the_checkpoint(
    tmp_path: Path, cp: Checkpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[tuple[int, int]] = []
    real_results = cp.results

    def spy(start: int, end: int):
        reads.append((start, end))
        return real_results(start, end)

    monkeypatch.setattr(cp, "results", spy)
    out = tmp_path / "out.jsonl"
    writer = OrderedWriter(out, "jsonl", None, cp, max_buffer=5)
    order = list(range(1, 60))
    random.Random(7).shuffle(order)
    for seq in order:
        assert finish(cp, writer, seq, {"v": seq}) == 0
        assert writer.pending <= 5
    assert reads == []  # nothing read back before the prefix moves
    assert finish(cp, writer, 0, {"v": 0}) == 60
    assert reads, "rows beyond max_buffer must come back from the checkpoint"
    writer.close()
    assert [r["v"] for r in jsonl_rows(out)] == list(range(60))


def test_spill_with_a_gap_waits_for_it(tmp_path: Path, cp: Checkpoint) -> None:
    out = tmp_path / "out.jsonl"
    writer = OrderedWriter(out, "jsonl", None, cp, max_buffer=2)
    for seq in (5, 4, 2, 1, 6):
        finish(cp, writer, seq, {"v": seq})
    assert finish(cp, writer, 0, {"v": 0}) == 3  # 0, 1, 2; 3 is missing
    assert finish(cp, writer, 3, {"v": 3}) == 4  # 3, then 4, 5, 6
    writer.close()
    assert [r["v"] for r in jsonl_rows(out)] == list(range(7))


# --- resume -------------------------------------------------------------------------------------


def test_resume_truncates_unrecorded_rows_and_skips_finished(tmp_path: Path) -> None:
    ck, out = tmp_path / "run.ckpt", tmp_path / "out.csv"
    with Checkpoint(ck, fingerprint="f", resume=False) as cp:
        writer = OrderedWriter(out, "csv", None, cp)
        for seq in (0, 1, 3, 4):
            finish(cp, writer, seq, {"v": seq})
        writer.close()
        recorded = cp.output_position()
    assert recorded == (2, out.stat().st_size)
    with open(out, "ab") as f:  # a kill after writing rows, before recording the position
        f.write(b"i2,done,,2\ni3,done,,3\n")
    with Checkpoint(ck, fingerprint="f", resume=True) as cp:
        writer = OrderedWriter(out, "csv", None, cp)
        assert out.stat().st_size == recorded[1]
        writer.skip_finished()
        assert not cp.finished_filter()(2) and cp.finished_filter()(3)
        assert finish(cp, writer, 2, {"v": 2}) == 3
        writer.close()
    assert csv_rows(out) == [["id", "status", "error", "v"]] + [
        [f"i{s}", "done", "", str(s)] for s in range(5)
    ]


def test_crash_between_write_and_position_writes_no_row_twice(tmp_path: Path) -> None:
    ck, out = tmp_path / "run.ckpt", tmp_path / "out.jsonl"
    cp = Checkpoint(ck, fingerprint="f", resume=False)
    writer = OrderedWriter(out, "jsonl", None, cp)
    finish(cp, writer, 0, {"v": 0})
    finish(cp, writer, 2, {"v": 2})

    def die(next_seq: int, offset: int) -> None:
        raise KeyboardInterrupt("killed")

    cp.set_output_position = die  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        finish(cp, writer, 1, {"v": 1})
    assert len(jsonl_rows(out)) == 3  # rows 1 and 2 reached the file, their position did not
    os.close(writer._fd)  # the process dies with its descriptor
    cp.close()

    with Checkpoint(ck, fingerprint="f", resume=True) as cp:
        with OrderedWriter(out, "jsonl", None, cp) as writer:
            assert len(jsonl_rows(out)) == 1
            writer.skip_finished()
            finish(cp, writer, 3, {"v": 3})
    assert [r["v"] for r in jsonl_rows(out)] == [0, 1, 2, 3]


def test_output_shorter_than_recorded_is_an_error(tmp_path: Path, cp: Checkpoint) -> None:
    out = tmp_path / "out.jsonl"
    with OrderedWriter(out, "jsonl", None, cp) as writer:
        finish(cp, writer, 0, {"v": 0})
    out.write_bytes(b"")
    with pytest.raises(OutputError, match="changed or replaced"):
        OrderedWriter(out, "jsonl", None, cp)


def test_csv_resume_with_other_columns_is_an_error(tmp_path: Path, cp: Checkpoint) -> None:
    out = tmp_path / "out.csv"
    with OrderedWriter(out, "csv", ["a"], cp) as writer:
        finish(cp, writer, 0, {"a": 1})
    with pytest.raises(OutputError, match=r"\['a'\].*\['b'\]"):
        OrderedWriter(out, "csv", ["b"], cp)
    with OrderedWriter(out, "csv", None, cp) as writer:  # columns come from the first run
        finish(cp, writer, 1, {"a": 2})
    assert csv_rows(out) == [["id", "status", "error", "a"], ["i0", "done", "", "1"],
                             ["i1", "done", "", "2"]]


# --- kill -9 ------------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import random, sys, time
    from pathlib import Path
    from harness.runner.checkpoint import Checkpoint
    from harness.runner.inputs import read_items
    from harness.runner.output import OrderedWriter

    work, fmt, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ck = work / "run.ckpt"
    cp = Checkpoint(ck, fingerprint="crash-test", resume=ck.exists())
    writer = OrderedWriter(work / f"out.{fmt}", fmt, None, cp, max_buffer=40)
    writer.skip_finished()
    record_position = cp.set_output_position

    def slow_position(next_seq, offset):  # widen the write-then-record window a kill can hit
        time.sleep(0.0005)
        record_position(next_seq, offset)

    cp.set_output_position = slow_position
    rng = random.Random(seed)
    items = read_items(work / "in.jsonl", id_field="id", skip=cp.finished_filter())

    def finish(item):
        n = item.row["n"]
        if n % 13 == 0:
            status, result, reason = "failed", None, f"permanent failure {n}"
        else:
            status, result, reason = "done", {"n": n, "sq": n * n, "text": "x" * (n % 50)}, None
        cp.record(item.seq, item.item_id, status, result, reason, 1, 1)
        writer.add(item.seq, item.item_id, status, result, reason)
        print(item.seq, flush=True)

    window = []
    for item in items:  # workers finish in a shuffled order, up to 64 in flight
        window.append(item)
        if len(window) >= 64:
            finish(window.pop(rng.randrange(len(window))))
    rng.shuffle(window)
    for item in window:
        finish(item)
    writer.close()
    cp.close()
    print("DONE", flush=True)
    """
)


def run_child(work: Path, fmt: str, seed: int, kill_after: int | None) -> bool:
    """Run the child; SIGKILL it after ``kill_after`` finished items. True if it completed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(work), fmt, str(seed)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
    )
    seen, done = 0, False
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == b"DONE":
            done = True
            break
        seen += 1
        if kill_after is not None and seen >= kill_after:
            proc.send_signal(signal.SIGKILL)
            break
    proc.stdout.close()
    err = proc.stderr.read() if proc.stderr else b""
    proc.wait(timeout=60)
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"child failed ({proc.returncode}): {err.decode()}")
    return done


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_then_resume_writes_every_row_once_in_order(
    tmp_path: Path, fmt: str, seed: int
) -> None:
    n = 1500
    (tmp_path / "in.jsonl").write_bytes(
        b"".join(orjson.dumps({"id": f"item-{i}", "n": i}) + b"\n" for i in range(n))
    )
    kill_points = [random.randrange(1, n // 3) for _ in range(3)]  # a new draw every run
    context = f"seed={seed} kill points={kill_points}"
    kills = 0
    for point in kill_points:
        if run_child(tmp_path, fmt, seed * 100 + kills, point):
            break
        kills += 1
    assert kills >= 1, f"the child was never killed; the test proved nothing ({context})"
    assert run_child(tmp_path, fmt, seed * 100 + 99, None), f"resume did not finish ({context})"

    out = tmp_path / f"out.{fmt}"
    if fmt == "jsonl":
        rows = jsonl_rows(out)
    else:
        header, *body = csv_rows(out)
        assert header == ["id", "status", "error", "n", "sq", "text"]
        rows = [dict(zip(header, r)) for r in body]
    assert [r["id"] for r in rows] == [f"item-{i}" for i in range(n)], context
    for i, row in enumerate(rows):
        if i % 13 == 0:
            assert (row["status"], row["error"]) == ("failed", f"permanent failure {i}")
        else:
            assert row["status"] == "done" and str(row["sq"]) == str(i * i)
    with Checkpoint(tmp_path / "run.ckpt", fingerprint="crash-test", resume=True) as cp:
        assert cp.counts() == {"done": n - len(range(0, n, 13)), "failed": len(range(0, n, 13))}
        assert cp.output_position() == (n, out.stat().st_size)
