"""Response bodies of a configured size (the seeds' ~35 KB JSON, PDF-sized downloads)."""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

import orjson


def padded_json(body: dict[str, Any], size: int) -> bytes:
    """``body`` as JSON, with a ``padding`` field added so the result is ``size`` bytes
    (or as small as ``body`` allows)."""
    raw = orjson.dumps(body)
    if len(raw) >= size:
        return raw
    extra = size - len(raw) - len(b',"padding":""')
    if extra < 0:
        return raw
    return raw[:-1] + b',"padding":"' + _filler(extra) + b'"}'


@lru_cache(maxsize=64)
def _filler(n: int) -> bytes:
    return (b"lorem ipsum dolor sit amet " * (n // 27 + 1))[:n]


@lru_cache(maxsize=16)
def pdf_bytes(size: int, seed: int = 7) -> bytes:
    """A PDF-looking body of ``size`` bytes (header, binary-ish filler, trailer)."""
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    tail = b"\n%%EOF\n"
    n = max(0, size - len(head) - len(tail))
    rng = random.Random(seed)
    return head + rng.randbytes(n) + tail
