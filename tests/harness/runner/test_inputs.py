"""Streaming CSV/JSONL readers: numbering, ids, error items, and flat memory on 1M rows."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import orjson
import pytest

from harness.runner.inputs import InputItem, count_items, detect_format, read_items


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# --- detect_format ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.csv", "csv"), ("a.CSV", "csv"), ("a.jsonl", "jsonl"), ("a.ndjson", "jsonl"),
     ("a.jsonlines", "jsonl")],
)
def test_detect_format_by_extension(name: str, expected: str) -> None:
    assert detect_format(Path(name)) == expected


def test_detect_format_declared_wins() -> None:
    assert detect_format(Path("data.txt"), "CSV") == "csv"
    assert detect_format(Path("data.csv"), "ndjson") == "jsonl"


def test_detect_format_errors_are_clear() -> None:
    with pytest.raises(ValueError, match=r"\.json.*cannot be streamed"):
        detect_format(Path("data.json"))
    with pytest.raises(ValueError, match="extension '.txt'"):
        detect_format(Path("data.txt"))
    with pytest.raises(ValueError, match="unknown input format 'xml'"):
        detect_format(Path("data.csv"), "xml")


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_quoted_newlines_keep_physical_start_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.csv",
        'sku,text\n'
        'A1,"two\nlines"\n'
        'A2,plain\n'
        '\n'
        'A3,"three\nphysical\nlines"\n'
        'A4,last\n',
    )
    items = list(read_items(path, id_field="sku"))
    assert [(i.seq, i.item_id, i.line) for i in items] == [
        (0, "A1", 2), (1, "A2", 4), (2, "A3", 6), (3, "A4", 9),
    ]
    assert items[0].row == {"sku": "A1", "text": "two\nlines"}
    assert items[2].row == {"sku": "A3", "text": "three\nphysical\nlines"}
    assert all(i.error is None for i in items)
    assert count_items(path) == 4


def test_csv_without_id_field_uses_line_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "a,b\r\n1,2\r\n3,4\r\n")
    items = list(read_items(path))
    assert [(i.item_id, i.row) for i in items] == [
        ("2", {"a": "1", "b": "2"}), ("3", {"a": "3", "b": "4"}),
    ]


def test_csv_bad_rows_become_error_items_and_reading_goes_on(tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.csv",
        "id,name\n"          # 1
        "1,ok\n"              # 2
        "2,too,many\n"        # 3
        "3\n"                 # 4
        '4,"bad"quote\n'      # 5
        ",empty id\n"         # 6
        "7,fine\n",           # 7
    )
    items = list(read_items(path, id_field="id"))
    assert [i.seq for i in items] == [0, 1, 2, 3, 4, 5]
    assert items[0].error is None and items[0].row == {"id": "1", "name": "ok"}
    assert items[1].row is None and items[1].error == "line 3: expected 2 fields, got 3"
    assert items[1].item_id == "3"
    assert items[2].error == "line 4: expected 2 fields, got 1"
    assert items[3].row is None and items[3].error.startswith("line 5: malformed CSV")
    assert items[4].error == "line 6: missing id field 'id'"
    assert (items[5].item_id, items[5].line, items[5].error) == ("7", 7, None)
    assert count_items(path) == 6


def test_csv_invalid_utf8_spoils_only_its_record(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", b"\xef\xbb\xbfid,v\n1,caf\xc3\xa9\n2,bad\xff\n3,ok\n")
    items = list(read_items(path, id_field="id"))
    assert items[0].row == {"id": "1", "v": "café"}  # BOM stripped from the header
    assert items[1].row is None and items[1].error == "line 3: invalid UTF-8"
    assert items[2].row == {"id": "3", "v": "ok"}


def test_csv_missing_id_column_fails_before_any_item(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "a,b\n1,2\n")
    with pytest.raises(ValueError, match="id column 'sku' is not in the header"):
        read_items(path, id_field="sku")  # at the call, not at the first item
    dupes = write(tmp_path / "dupes.csv", "a,b,a\n1,2,3\n")
    with pytest.raises(ValueError, match="duplicate column names in the header: a"):
        read_items(dupes)


def test_csv_empty_file_has_no_items(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "")
    assert list(read_items(path)) == []
    assert count_items(path) == 0


def test_csv_unterminated_quote_fails_its_row_and_the_rest_is_read(tmp_path: Path) -> None:
    """Issue 14.7: a broken quote used to swallow the rest of the file ("of 2")."""
    path = write(tmp_path / "in.csv", 'id,v\n1,a\n2,"never closed\n3,x\n4,"ok, quoted"\n5,"multi\nline"\n')
    items = list(read_items(path, id_field="id"))
    assert count_items(path) == len(items) == 5
    assert items[1].line == 3 and items[1].error.startswith("line 3: malformed CSV")
    assert [(i.item_id, i.row) for i in items if i.error is None] == [
        ("1", {"id": "1", "v": "a"}), ("3", {"id": "3", "v": "x"}), ("4", {"id": "4", "v": "ok, quoted"}),
        ("5", {"id": "5", "v": "multi\nline"})]
    assert items[4].line == 6


def test_csv_stray_quote_closing_on_a_later_row_costs_one_row(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", 'id,v\n1,"broken\n2,b\n3,"x"\n4,d\n')
    items = list(read_items(path, id_field="id"))
    assert [i.item_id for i in items if i.error is None] == ["2", "3", "4"]
    assert items[0].error.startswith("line 2: malformed CSV")


def test_oversized_records_are_error_items(tmp_path: Path) -> None:
    big = "x" * 5000
    jl = write(tmp_path / "in.jsonl", f'{{"id": "a"}}\n{{"id": "b", "t": "{big}"}}\n{{"id": "c"}}\n')
    items = list(read_items(jl, id_field="id", max_bytes=1000))
    assert [i.error is None for i in items] == [True, False, True]
    assert "line 2: item is 5," in items[1].error and "--max-item-bytes" in items[1].error
    csvp = write(tmp_path / "in.csv", f"id,t\na,x\nb,{big}\nc,y\n")
    items = list(read_items(csvp, id_field="id", max_bytes=1000))
    assert [i.error is None for i in items] == [True, False, True]


def test_duplicate_ids_are_counted(tmp_path: Path) -> None:
    from harness.runner.inputs import duplicate_ids

    path = write(tmp_path / "in.jsonl", "".join(f'{{"id": "{i % 7}"}}\n' for i in range(10)))
    assert duplicate_ids(path, None, "id") == (3, ["0", "1", "2"])
    assert duplicate_ids(path, None, None) == (0, [])


# --- JSONL --------------------------------------------------------------------------------------


def test_jsonl_blank_invalid_and_non_object_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.jsonl",
        '{"id": "a", "q": 1}\n'   # 1
        '\n'                       # 2 blank: not an item
        '   \t\n'                  # 3 blank
        '{"id": "b", \n'           # 4 invalid
        '[1, 2]\n'                 # 5 not an object
        '{"q": 3}\n'               # 6 no id
        '{"id": 7}\n'              # 7 integer id
        '{"id": {"x": 1}}\n'       # 8 id of the wrong type
        '{"id": "c"}',             # 9 no final newline
    )
    items = list(read_items(path, id_field="id"))
    assert [(i.seq, i.line, i.item_id) for i in items] == [
        (0, 1, "a"), (1, 4, "4"), (2, 5, "5"), (3, 6, "6"), (4, 7, "7"), (5, 8, "8"), (6, 9, "c"),
    ]
    assert items[0].row == {"id": "a", "q": 1} and items[0].error is None
    assert items[1].row is None and items[1].error.startswith("line 4: invalid JSON: ")
    assert items[2].row is None and items[2].error == "line 5: expected a JSON object, got array"
    assert items[3].error == "line 6: missing id field 'id'"
    assert items[4].error is None
    assert items[5].error.startswith("line 8: id field 'id' must be a string or an integer")
    assert count_items(path) == 7


def test_jsonl_duplicate_ids_are_allowed(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"id": "x"}\n{"id": "x"}\n')
    assert [(i.seq, i.item_id) for i in read_items(path, id_field="id")] == [(0, "x"), (1, "x")]


def test_jsonl_invalid_utf8_is_an_error_item(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", b'{"v": "\xff"}\n{"v": 2}\n')
    items = list(read_items(path))
    assert items[0].error.startswith("line 1: invalid JSON") and items[1].row == {"v": 2}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_start_stop_and_skip_keep_file_numbering(tmp_path: Path, suffix: str) -> None:
    if suffix == ".csv":
        path = write(tmp_path / "in.csv", "n\n" + "".join(f"{i}\n" for i in range(10)))
    else:
        path = write(tmp_path / "in.jsonl", "".join(f'{{"n": {i}}}\n' for i in range(10)))
    asked: list[int] = []

    def skip(seq: int) -> bool:
        asked.append(seq)
        return seq % 2 == 0

    items = list(read_items(path, start_seq=3, stop_seq=8, skip=skip))
    assert [i.seq for i in items] == [3, 5, 7]
    assert [str(i.row["n"]) for i in items] == ["3", "5", "7"]
    assert asked == [3, 4, 5, 6, 7]


def test_items_are_frozen() -> None:
    item = InputItem(0, "a", 1, {})
    with pytest.raises(AttributeError):
        item.seq = 1  # type: ignore[misc]


# --- memory ------------------------------------------------------------------------------------


def _peak_while_iterating(path: Path, expected: int) -> int:
    tracemalloc.start()
    try:
        n = 0
        for item in read_items(path, id_field="id"):
            n += 1
            assert item.error is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == expected
    return peak


def test_one_million_jsonl_rows_stream_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    n = 1_000_000
    with open(path, "wb") as f:
        for start in range(0, n, 10_000):
            f.write(b"".join(
                orjson.dumps({"id": f"u{i}", "name": f"user {i}", "n": i}) + b"\n"
                for i in range(start, start + 10_000)
            ))
    assert count_items(path) == n
    peak = _peak_while_iterating(path, n)
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while streaming"


def test_csv_rows_stream_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    n = 250_000
    with open(path, "w", encoding="utf-8") as f:
        f.write("id,text\n")
        for start in range(0, n, 10_000):
            f.write("".join(f'u{i},"line\n{i}"\n' for i in range(start, start + 10_000)))
    assert count_items(path) == n
    peak = _peak_while_iterating(path, n)
    assert peak < 5 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while streaming"
