"""Masking API keys in every form a key takes on the wire, before any text reaches a file.

A server may echo a key as sent (a header), percent-encoded (a query string, either hex case,
``+`` or ``%20`` for a space, encoded twice by a proxy), JSON-escaped (``/`` as ``\\/``, non-ASCII
as ``\\uXXXX``), HTML-escaped, or base64 (Basic auth, ``key:`` or ``user:key``). The forms of each
key are built once, into one regular expression, so masking a text costs one scan whatever the
number of keys and forms.
"""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["encoded_forms", "Masker", "MASK"]

MASK = "***"
_MIN_LEN = 4  # shorter "keys" would mask ordinary text


def _hex_lower(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def encoded_forms(secret: str, extra_basic: Iterable[str] = ()) -> set[str]:
    """Every form of ``secret`` to mask; ``extra_basic`` are the base64 parts of Basic
    ``Authorization`` values actually sent (``user:key`` is only aligned there)."""
    forms = {secret}
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret), quote(quote(secret, safe=""), safe="")):
        forms.add(encoded)
        forms.add(_hex_lower(encoded))
    for dumped in (json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
        forms.add(dumped)
        forms.add(dumped.replace("/", "\\/"))
    forms.add(html.escape(secret))
    raw = secret.encode("utf-8")
    for blob in (raw, raw + b":", b":" + raw):
        for enc in (base64.b64encode(blob), base64.urlsafe_b64encode(blob)):
            text = enc.decode()
            forms.add(text)
            forms.add(text.rstrip("="))
    forms.update(extra_basic)
    return {f for f in forms if len(f) >= _MIN_LEN}


class Masker:
    """Replaces every encoded form of the given secrets with ``***``; built once per run."""

    def __init__(self, secrets: Iterable[str], basic_values: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        basic = list(basic_values)
        for s in secrets:
            if s:
                forms |= encoded_forms(s, basic)
        self.forms = frozenset(forms)
        # longest first, so a form containing another is replaced whole
        self._pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))) \
            if forms else None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def __repr__(self) -> str:
        return f"Masker({len(self.forms)} forms)"


def basic_parts(headers: dict[str, str]) -> list[str]:
    """The base64 credentials of Basic ``Authorization`` values in ``headers``."""
    out = []
    for name, value in headers.items():
        if name.lower() in ("authorization", "proxy-authorization") and value[:6].lower() == "basic ":
            out.append(value[6:].strip())
    return out
