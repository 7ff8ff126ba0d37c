"""The run folder of a distributed run: its plan, the chunk inputs, and each chunk's own
checkpoint and output, merged in input order at the end.

Every worker reads and writes the folder at the same path (one machine, or a shared volume in
docker-compose / NFS), so a chunk redelivered to another process resumes from its journal.
"""

from __future__ import annotations

import csv
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import orjson

from harness.runner.inputs import _csv_records, detect_format

PLAN = "plan.json"


@dataclass
class RunPlan:
    """What every chunk task needs to run its part (written once by the coordinator)."""

    run_id: str
    scenario: str                 # absolute path of the scenario YAML
    input: str                    # the whole input (for the record; chunks read their own files)
    output: str                   # the merged output
    input_format: str             # "csv" or "jsonl"
    output_format: str            # "csv" or "jsonl"
    chunks: int
    chunk_size: int
    items: int
    workers_per_chunk: int        # requests in flight in each chunk's engine
    time_scale: float = 1.0
    transport: str = "fast"
    target_kind: str = "mock"
    mock_base: str | None = None  # the mock the coordinator started (None: the scenario's URLs)
    redis_url: str = ""           # the shared limiter's Redis (the broker's, by default)
    degraded: bool = False        # each process takes limit/processes while Redis is down
    processes: int = 1
    lease_seconds: float = 10.0   # a chunk's lease TTL: how soon a vanished worker's chunk moves on
    sizes: list[int] = field(default_factory=list)

    def save(self, folder: Path) -> None:
        tmp = folder / (PLAN + ".tmp")
        tmp.write_bytes(orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2))
        os.replace(tmp, folder / PLAN)

    @classmethod
    def load(cls, folder: Path) -> "RunPlan":
        return cls(**orjson.loads((Path(folder) / PLAN).read_bytes()))


def chunk_input(folder: Path, index: int, fmt: str) -> Path:
    return Path(folder) / "chunks" / f"{index:05d}.input.{fmt}"


def chunk_output(folder: Path, index: int, fmt: str) -> Path:
    return Path(folder) / "chunks" / f"{index:05d}.output.{fmt}"


def chunk_checkpoint(folder: Path, index: int) -> Path:
    return Path(folder) / "chunks" / f"{index:05d}.checkpoint.sqlite"


def chunk_done_marker(folder: Path, index: int) -> Path:
    return Path(folder) / "chunks" / f"{index:05d}.done"


def split_input(path: Path, fmt: str | None, folder: Path, chunk_size: int) -> tuple[str, list[int]]:
    """Write the input as chunk files of ``chunk_size`` items (streamed); returns the format
    and each chunk's item count. JSONL lines are copied as they are; CSV records are written
    again under the header (a record the CSV reader cannot parse becomes a one-field row, so
    it still fails as one item in its place)."""
    fmt = detect_format(path, fmt)
    out_dir = Path(folder) / "chunks"
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes: list[int] = []
    if fmt == "jsonl":
        _split(_jsonl_lines(path), lambda i: open(chunk_input(folder, i, fmt), "wb"),
               lambda f, raw: f.write(raw if raw.endswith(b"\n") else raw + b"\n"), chunk_size, sizes)
    else:
        records = _csv_records(path)
        first = next(records, None)
        header = first[1] if first is not None and first[1] is not None else None
        if header is None:
            return fmt, []

        def opener(i: int):
            f = open(chunk_input(folder, i, fmt), "w", encoding="utf-8", errors="surrogateescape", newline="")
            f.writer = csv.writer(f)  # type: ignore[attr-defined]
            f.writer.writerow(header)  # type: ignore[attr-defined]
            return f

        def write(f, rec) -> None:
            line, fields, _error = rec
            f.writer.writerow(fields if fields is not None else [f"<malformed CSV record at line {line}>"])

        _split(records, opener, write, chunk_size, sizes)
    return fmt, sizes


def _jsonl_lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        for n, raw in enumerate(f):
            if n == 0 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.isspace():
                yield raw


def _split(records, opener, write, chunk_size: int, sizes: list[int]) -> None:
    current = None
    try:
        for rec in records:
            if current is None:
                current = opener(len(sizes))
                sizes.append(0)
            write(current, rec)
            sizes[-1] += 1
            if sizes[-1] == chunk_size:
                current.close()
                current = None
    finally:
        if current is not None:
            current.close()


def merge_outputs(folder: Path, plan: RunPlan) -> int:
    """Concatenate the chunks' outputs, in chunk order, into the run's output; returns the
    rows written. Written to a temporary file first, so a kill leaves the old output whole."""
    out = Path(plan.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".merging")
    rows = 0
    header: bytes | None = None
    with open(tmp, "wb") as dst:
        for i in range(plan.chunks):
            src = chunk_output(folder, i, plan.output_format)
            if not src.exists():
                raise FileNotFoundError(f"chunk {i} has no output ({src}); the run is not finished")
            with open(src, "rb") as f:
                if plan.output_format == "csv":
                    first = f.readline()
                    if header is None:
                        header = first
                        dst.write(first)
                    elif first != header:
                        raise ValueError(f"chunk {i}'s CSV columns differ from chunk 0's; give output.columns "
                                         "in the scenario so every chunk writes the same ones")
                for line in f:
                    dst.write(line)
                    rows += 1
    os.replace(tmp, out)
    return rows


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
