"""Splitting the input into chunk files and merging the chunks' outputs in input order."""

from __future__ import annotations

from pathlib import Path

import orjson

from harness.runner.distributed import chunks as ch
from harness.runner.inputs import read_items


def test_jsonl_splits_into_chunks_of_the_size_given(tmp_path: Path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(orjson.dumps({"id": i}) + b"\n" + (b"\n" if i % 7 == 0 else b"") for i in range(10)))
    fmt, sizes = ch.split_input(src, None, tmp_path / "run", 4)
    assert (fmt, sizes) == ("jsonl", [4, 4, 2])
    ids = [item.row["id"] for i in range(3) for item in read_items(ch.chunk_input(tmp_path / "run", i, fmt), fmt, "id")]
    assert ids == list(range(10))  # blank lines dropped, every row once, in order


def test_csv_chunks_keep_the_header_and_quoted_fields(tmp_path: Path):
    src = tmp_path / "in.csv"
    src.write_text('asin,title\nA1,"two\nlines"\nA2,plain\nA3,"a, comma"\n')
    fmt, sizes = ch.split_input(src, None, tmp_path / "run", 2)
    assert (fmt, sizes) == ("csv", [2, 1])
    rows = [item.row for i in range(2) for item in read_items(ch.chunk_input(tmp_path / "run", i, fmt), fmt, "asin")]
    assert rows == [{"asin": "A1", "title": "two\nlines"}, {"asin": "A2", "title": "plain"},
                    {"asin": "A3", "title": "a, comma"}]


def _plan(tmp_path: Path, fmt: str, n: int) -> ch.RunPlan:
    return ch.RunPlan(run_id="r", scenario="s", input="i", output=str(tmp_path / f"out.{fmt}"), input_format=fmt,
                      output_format=fmt, chunks=n, chunk_size=1, items=n, workers_per_chunk=1)


def test_merge_concatenates_in_chunk_order(tmp_path: Path):
    plan = _plan(tmp_path, "csv", 3)
    for i in range(3):
        p = ch.chunk_output(tmp_path, i, "csv")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"id,status\nx{i},done\ny{i},done\n")
    assert ch.merge_outputs(tmp_path, plan) == 6
    assert Path(plan.output).read_text() == "id,status\nx0,done\ny0,done\nx1,done\ny1,done\nx2,done\ny2,done\n"


def test_merge_refuses_an_unfinished_run(tmp_path: Path):
    plan = _plan(tmp_path, "jsonl", 2)
    p = ch.chunk_output(tmp_path, 0, "jsonl")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text('{"id": 1}\n')
    try:
        ch.merge_outputs(tmp_path, plan)
    except FileNotFoundError as exc:
        assert "chunk 1" in str(exc)
    else:
        raise AssertionError("merged without chunk 1")
    assert not Path(plan.output).exists()
