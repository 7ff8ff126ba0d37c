"""What every transport shares: the response type, the protocol, the error shortener."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    async def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None,
                      timeout: float) -> HttpResponse: ...

    async def close(self) -> None: ...


def short_error(exc: BaseException) -> str:
    """First line of an exception's text, bounded, for a failure reason."""
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
