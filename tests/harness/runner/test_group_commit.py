"""Group commit: Checkpoint.batch/record_many and OrderedWriter.add_many behave as the one-at-a-time
calls they replace, and a batch that fails leaves nothing behind."""

import sqlite3

import orjson
import pytest

from harness.runner.checkpoint import Checkpoint
from harness.runner.output import OrderedWriter


def _ckpt(tmp_path, resume=False):
    return Checkpoint(tmp_path / "c.sqlite", fingerprint="fp", resume=resume)


def test_record_many_is_record_of_each(tmp_path):
    recs = [(0, "a", "failed", None, "boom", 2, 1), (1, "b", "done", {"x": 1}, None, 1, 1),
            (0, "a", "done", {"y": 2}, None, 3, 1), (1, "b", "failed", None, "late", 1, 1),
            (2, "c", "failed", None, "e", 1, 1)]
    with _ckpt(tmp_path) as many:
        assert many.record_many(recs) == 4  # the failed after done is ignored, as record() does
        got = list(many.results(0, 10)), many.counts()
    (tmp_path / "c.sqlite").rename(tmp_path / "many.sqlite")
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"c.sqlite{suffix}").unlink(missing_ok=True)
    with _ckpt(tmp_path) as one:
        for r in recs:
            one.record(*r)
        assert (list(one.results(0, 10)), one.counts()) == got
    assert got[1] == {"done": 2, "failed": 1}


def test_record_many_rejects_bad_status_before_writing(tmp_path):
    with _ckpt(tmp_path) as c:
        with pytest.raises(ValueError):
            c.record_many([(0, "a", "done", None, None, 1, 1), (1, "b", "maybe", None, None, 1, 1)])
        assert c.counts() == {"done": 0, "failed": 0} and not c.is_finished(0)


def test_batch_commits_once_and_rolls_back_on_error(tmp_path):
    path = tmp_path / "c.sqlite"
    with _ckpt(tmp_path) as c:
        with c.batch():
            c.record_many([(0, "a", "done", {"k": 1}, None, 1, 1)])
            c.record(1, "b", "done", None, None, 1, 1)
            c.set_output_position(2, 99)
            # not visible to another connection before the commit
            other = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            assert other.execute("SELECT count(*) FROM items").fetchone()[0] == 0
            other.close()
        other = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        assert other.execute("SELECT count(*) FROM items").fetchone()[0] == 2
        other.close()
        with pytest.raises(RuntimeError):
            with c.batch():
                c.record_many([(2, "c", "done", None, None, 1, 1)])
                c.set_output_position(3, 150)
                raise RuntimeError("disk full")
        assert c.counts() == {"done": 2, "failed": 0}
        assert not c.is_finished(2) and c.output_position() == (2, 99)
        with pytest.raises(RuntimeError):
            with c.batch():
                with c.batch():
                    pass


def test_add_many_writes_the_same_file_as_add(tmp_path):
    rows = [(i, f"id{i}", "done", {"v": i}, None) for i in range(50)]
    order = [5, 3, 0, 1, 2, 9, 4, 8, 6, 7] + list(range(10, 50))[::-1]
    outputs = []
    for mode in ("add", "many"):
        d = tmp_path / mode
        d.mkdir()
        with Checkpoint(d / "c.sqlite", fingerprint="fp", resume=False) as c, \
                OrderedWriter(d / "out.jsonl", "jsonl", None, c, max_buffer=8) as w:
            recs = [rows[i] + (1, 1) for i in order]
            if mode == "add":
                for r in recs:
                    c.record(*r)
                    w.add(*r[:5])
            else:
                for k in range(0, len(recs), 7):
                    with c.batch():
                        c.record_many(recs[k:k + 7])
                        w.add_many([r[:5] for r in recs[k:k + 7]])
            position = c.output_position()
        outputs.append(((d / "out.jsonl").read_bytes(), position))
    assert outputs[0] == outputs[1]
    lines = outputs[1][0].splitlines()
    assert [orjson.loads(x)["id"] for x in lines] == [f"id{i}" for i in range(50)]
