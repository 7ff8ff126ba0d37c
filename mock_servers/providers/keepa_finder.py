"""Keepa's Product Finder (``/query``): the ASINs matching a selection, one page at a time.

Request (keepa.com/#!discuss/t/product-finder/5473): ``/query?key=&domain=&selection=<queryJSON>``
(GET, the JSON URL-encoded) or POST with the queryJSON as the body (or a ``selection`` form field),
``stats=1`` for ``searchInsights`` (not modelled: the mock refuses it by name rather than invent
the object's fields). ``perPage`` is at least 50 (the default); ``page`` and
``perPage`` together reach at most the 10,000th result. The answer has ``asinList`` and
``totalResults`` (an estimate of all matches), never product objects.

Token cost: 10 + 1 per 100 ASINs returned (a page of 50 costs 11; ``stats=1`` would add 30 + 1
per 1,000,000 matches). Results are deterministic per selection (its filters, not its page), so pages
of one selection never overlap and the same query gives the same ASINs.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import Any, Mapping

import orjson

BASE_COST = 10
ASINS_PER_TOKEN = 100
MIN_PER_PAGE = 50
MAX_RESULTS = 10_000
MAX_TOTAL = 250_000            # the largest totalResults the mock draws for a selection
_PAGING = ("page", "perPage", "sort")
_ASIN_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class FinderQuery:
    """A validated selection: its filters (what picks the results), page and page size."""

    filters: dict[str, Any]
    page: int
    per_page: int


class FinderError(ValueError):
    """A selection the real API refuses (400 REQUEST_REJECTED)."""


def parse(selection: str | bytes | None, stats: str | None) -> FinderQuery:
    """The query in ``selection`` (the queryJSON), or :class:`FinderError` naming what is wrong."""
    if not selection or not selection.strip():
        raise FinderError("Missing parameter: selection (the Product Finder query JSON).")
    if stats not in (None, "", "0"):
        raise FinderError("stats=1 (searchInsights) is not modelled by the mock; leave it out to rehearse the "
                          "Product Finder (it would cost 30 more tokens + 1 per 1,000,000 matches).")
    try:
        body = orjson.loads(selection)
    except ValueError as exc:
        raise FinderError(f"The selection is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise FinderError("The selection must be a JSON object.")
    page = _int(body, "page", 0, 0)
    per_page = _int(body, "perPage", MIN_PER_PAGE, MIN_PER_PAGE)
    if (page + 1) * per_page > MAX_RESULTS:
        raise FinderError(f"page and perPage reach result {(page + 1) * per_page:,}; at most {MAX_RESULTS:,} results "
                          "can be retrieved for one selection.")
    filters = {k: v for k, v in body.items() if k not in _PAGING}
    return FinderQuery(filters, page, per_page)


def _int(body: Mapping[str, Any], name: str, default: int, minimum: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise FinderError(f"Invalid value for {name}: {value!r} (an integer, at least {minimum}).")
    return value


def results(query: FinderQuery, domain: int) -> tuple[list[str], int]:
    """(asinList of the page, totalResults) for ``query`` on ``domain``."""
    seed = hashlib.blake2b(orjson.dumps([domain, query.filters], option=orjson.OPT_SORT_KEYS), digest_size=8).digest()
    r = random.Random(int.from_bytes(seed, "big"))
    # few filters match many products, each filter narrows it down: a broad spread, as real selections have
    total = int(MAX_TOTAL * r.random() ** (1 + len(query.filters)))
    start = query.page * query.per_page
    count = max(0, min(query.per_page, total - start, MAX_RESULTS - start))
    return [_asin(seed, i) for i in range(start, start + count)], total


def _asin(seed: bytes, i: int) -> str:
    n = int.from_bytes(hashlib.blake2b(seed + i.to_bytes(4, "big"), digest_size=8).digest(), "big")
    chars = []
    for _ in range(8):
        n, k = divmod(n, len(_ASIN_CHARS))
        chars.append(_ASIN_CHARS[k])
    return "B0" + "".join(chars)


def cost(n_asins: int, base: int = BASE_COST) -> int:
    """Tokens for an answer of ``n_asins`` ASINs (``base`` is the profile's ``query`` cost)."""
    return base + math.ceil(n_asins / ASINS_PER_TOKEN)
