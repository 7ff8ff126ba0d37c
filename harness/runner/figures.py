"""Per-request figures a run keeps for calibration, bounded whatever the run's length.

One :class:`CallFigures` per (target, endpoint, model): exact counts by HTTP status (or
transport outcome) and exact sums of bytes and tokens, a uniform reservoir (Algorithm R) of
successful calls ``(latency, input tokens, output tokens, bytes out, bytes in)`` and a small
reservoir of the rate-limit headers seen (``*ratelimit*``, ``retry-after*``: numbers and
durations, never a key or a body). Latencies are stored in real (profile) seconds: the wall
time divided by the run's time scale. A ``--mode batch`` run keeps its results in slots of mode
``batch``: an answer's latency is its batch's turnaround (submitted to ended), and the slot keeps
each batch's turnaround and size.

Hand-written rather than an HDR histogram per figure: ``HdrHistogram.record_value`` costs
~6 us in Python, several of them per request would be a tenth of the runner's CPU budget,
and a reservoir keeps the joint (latency, output tokens) pairs the LLM fit needs.
"""

from __future__ import annotations

import random
import time
from typing import Any, Iterable, Mapping

__all__ = ["CallFigures", "FigureBook", "RESERVOIR", "HEADER_SAMPLES"]

RESERVOIR = 4096          # successful calls kept per slot: p99 from ~40 calls above it
HEADER_SAMPLES = 256      # rate-limit header snapshots kept per slot
BATCH_SAMPLES = 1024      # batch turnarounds kept per batch-mode slot
_HEADER_EVERY = 32        # after the first HEADER_SAMPLES responses, look at one in this many
FORMAT = 1


def _keep_header(name: str) -> bool:
    n = name.lower()
    return "ratelimit" in n or n.startswith("retry-after") or n == "date"


class CallFigures:
    """The figures of one (target, endpoint, model). ``add`` is the hot path: O(1)."""

    __slots__ = ("target", "endpoint", "model", "kind", "profile", "time_scale", "calls", "ok", "status",
                 "bytes_out", "bytes_in", "tokens_in", "tokens_out", "reservoir", "headers", "_seen_headers",
                 "_random", "mode", "batches")

    def __init__(self, target: str, endpoint: str, model: str | None, *, kind: str = "", profile: str = "",
                 time_scale: float = 1.0, rng: random.Random | None = None, mode: str = "online") -> None:
        self.mode = mode          # online | batch
        self.batches: list[tuple[float, int]] = []  # batch mode: (turnaround real seconds, requests)
        self.target = target
        self.endpoint = endpoint
        self.model = model
        self.kind = kind
        self.profile = profile
        self.time_scale = time_scale
        self.calls = 0            # responses and transport errors, retries included
        self.ok = 0               # successful calls (those the reservoir samples)
        self.status: dict[str, int] = {}
        self.bytes_out = 0
        self.bytes_in = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.reservoir: list[tuple[float, int, int, int, int]] = []
        self.headers: list[tuple[float, int, dict[str, str]]] = []  # (epoch, status, headers)
        self._seen_headers = 0
        self._random = (rng or random.Random()).random

    def add(self, seconds: float, status: str, bytes_out: int, bytes_in: int, tokens_in: int = 0,
            tokens_out: int = 0, ok: bool = True) -> None:
        """One call: wall ``seconds``, ``status`` ("200", "429", "timeout", ...), body bytes each way
        and, for a success, its token usage."""
        self.calls += 1
        st = self.status
        st[status] = st.get(status, 0) + 1
        self.bytes_out += bytes_out
        self.bytes_in += bytes_in
        if not ok:
            return
        self.tokens_in += tokens_in
        self.tokens_out += tokens_out
        n = self.ok = self.ok + 1
        row = (seconds / self.time_scale, tokens_in, tokens_out, bytes_out, bytes_in)
        res = self.reservoir
        if n <= RESERVOIR:
            res.append(row)
        else:
            j = int(self._random() * n)
            if j < RESERVOIR:
                res[j] = row

    def add_batch(self, seconds: float, requests: int) -> None:
        """One batch ended: its wall turnaround ``seconds`` and the ``requests`` it held."""
        row = (seconds / self.time_scale, requests)
        if len(self.batches) < BATCH_SAMPLES:
            self.batches.append(row)
        else:
            self.batches[int(self._random() * BATCH_SAMPLES)] = row

    @property
    def key(self) -> tuple:
        return (self.target, self.endpoint, self.model) if self.mode == "online" else \
            (self.target, self.endpoint, self.model, self.mode)

    def wants_headers(self) -> bool:
        """True for the responses whose headers are worth keeping (the first ones, then 1 in 32)."""
        self._seen_headers += 1
        return self._seen_headers <= HEADER_SAMPLES or self._seen_headers % _HEADER_EVERY == 0

    def add_headers(self, status: int, headers: Mapping[str, str]) -> None:
        kept = {str(k).lower(): str(v) for k, v in headers.items() if _keep_header(str(k))}
        if len(kept) <= ("date" in kept):
            return
        row = (time.time(), status, kept)
        if len(self.headers) < HEADER_SAMPLES:
            self.headers.append(row)
        else:
            self.headers[int(self._random() * HEADER_SAMPLES)] = row

    # -- storage -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target, "endpoint": self.endpoint, "model": self.model, "kind": self.kind,
            "profile": self.profile, "time_scale": self.time_scale, "calls": self.calls, "ok": self.ok,
            "status": dict(self.status), "bytes_out": self.bytes_out, "bytes_in": self.bytes_in,
            "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
            "reservoir": [list(r) for r in self.reservoir],
            "headers": [[t, s, h] for t, s, h in self.headers],
            "seen_headers": self._seen_headers,
            **({"mode": self.mode, "batches": [list(b) for b in self.batches]} if self.mode != "online" else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], rng: random.Random | None = None) -> "CallFigures":
        f = cls(d["target"], d["endpoint"], d.get("model"), kind=d.get("kind", ""), profile=d.get("profile", ""),
                time_scale=float(d.get("time_scale", 1.0)), rng=rng, mode=d.get("mode", "online"))
        f.batches = [(float(t), int(n)) for t, n in d.get("batches", [])]
        f.calls, f.ok = int(d["calls"]), int(d["ok"])
        f.status = {str(k): int(v) for k, v in d["status"].items()}
        f.bytes_out, f.bytes_in = int(d["bytes_out"]), int(d["bytes_in"])
        f.tokens_in, f.tokens_out = int(d["tokens_in"]), int(d["tokens_out"])
        f.reservoir = [tuple(r) for r in d["reservoir"]]  # type: ignore[misc]
        f.headers = [(float(t), int(s), dict(h)) for t, s, h in d["headers"]]
        f._seen_headers = int(d.get("seen_headers", len(f.headers)))
        return f

    def merge(self, other: "CallFigures", rng: random.Random) -> None:
        """Add another run's figures of the same slot: counts add, reservoirs are subsampled in
        proportion to the calls each stands for, so the result is still a uniform sample."""
        total = self.ok + other.ok
        if total > 0 and len(self.reservoir) + len(other.reservoir) > RESERVOIR:
            take_self = round(RESERVOIR * self.ok / total)
            a = rng.sample(self.reservoir, min(take_self, len(self.reservoir)))
            b = rng.sample(other.reservoir, min(RESERVOIR - len(a), len(other.reservoir)))
            self.reservoir = a + b
        else:
            self.reservoir = self.reservoir + other.reservoir
        batches = self.batches + other.batches
        self.batches = batches if len(batches) <= BATCH_SAMPLES else rng.sample(batches, BATCH_SAMPLES)
        hdrs = self.headers + other.headers
        self.headers = hdrs if len(hdrs) <= HEADER_SAMPLES else rng.sample(hdrs, HEADER_SAMPLES)
        self.calls += other.calls
        self.ok = total
        for k, v in other.status.items():
            self.status[k] = self.status.get(k, 0) + v
        self.bytes_out += other.bytes_out
        self.bytes_in += other.bytes_in
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self._seen_headers += other._seen_headers

    def __repr__(self) -> str:
        return (f"<CallFigures {self.target}/{self.endpoint}{'/' + self.model if self.model else ''} "
                f"calls={self.calls} ok={self.ok} kept={len(self.reservoir)}>")


class FigureBook:
    """Every slot of a run, created on first use."""

    def __init__(self, time_scale: float = 1.0, seed: int | None = None) -> None:
        self.time_scale = time_scale
        self.slots: dict[tuple, CallFigures] = {}
        self._rng = random.Random(seed)

    def slot(self, target: str, endpoint: str, model: str | None, kind: str = "",
             profile: str = "", mode: str = "online") -> CallFigures:
        key = (target, endpoint, model) if mode == "online" else (target, endpoint, model, mode)
        fig = self.slots.get(key)
        if fig is None:
            fig = self.slots[key] = CallFigures(target, endpoint, model, kind=kind, profile=profile,
                                                time_scale=self.time_scale, rng=self._rng, mode=mode)
        return fig

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "time_scale": self.time_scale,
                "slots": [f.to_dict() for f in self.slots.values()]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], seed: int | None = None) -> "FigureBook":
        book = cls(float(d.get("time_scale", 1.0)), seed)
        for s in d.get("slots", []):
            f = CallFigures.from_dict(s, book._rng)
            book.slots[f.key] = f
        return book

    def merge(self, other: "FigureBook") -> None:
        for key, fig in other.slots.items():
            mine = self.slots.get(key)
            if mine is None:
                self.slots[key] = fig
            else:
                mine.merge(fig, self._rng)

    def resume_from(self, stored: Mapping[str, Any] | None) -> None:
        """Continue an interrupted run's figures (``--resume``): its slots become the start."""
        if not stored:
            return
        old = FigureBook.from_dict(stored)
        for key, fig in old.slots.items():
            fig.time_scale = self.time_scale  # new calls are converted with this run's scale
            fig._random = self._rng.random
            self.slots[key] = fig

    def __iter__(self) -> Iterable[CallFigures]:  # type: ignore[override]
        return iter(self.slots.values())
