"""Strict request validation: what the real APIs refuse, with their status, type, code and param.

Each provider module returns an :class:`Invalid` (or ``None`` for a request the real API takes);
the provider turns it into its own error body. Every case is listed, with its source, in
docs/provider-fidelity.md ("Strict validation"). A profile with ``strict: false`` skips these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Invalid:
    """One refused request: HTTP status, message, and the provider's type/code/param fields."""

    status: int
    message: str
    param: str | None = None
    code: str | None = None
    type: str = "invalid_request_error"


def json_type(value: Any) -> str:
    """OpenAI's wording for a JSON value's type ("a string", "an integer", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    names = {dict: "an object", list: "an array", str: "a string", int: "an integer", float: "a number"}
    return names.get(type(value), "an object")
