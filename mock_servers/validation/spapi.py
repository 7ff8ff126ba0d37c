"""What the Selling Partner API refuses on the catalog and pricing operations the mock serves.

Errors are ``{"errors":[{"code","message","details"}]}``: 400 ``InvalidInput`` for a bad or
missing parameter, 404 ``NOT_FOUND`` for an item that does not exist (an ASIN is ten capital
letters or digits; anything else names no item).
"""

from __future__ import annotations

import re
from typing import Mapping

from . import Invalid

ASIN = re.compile(r"^[0-9A-Z]{10}$")
# developer-docs.amazon.com/sp-api/docs/marketplace-ids
MARKETPLACES = frozenset({
    "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8", "A2Q3Y263D00KWC",  # US CA MX BR
    "A1F83G8C2ARO7P", "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS",  # UK DE FR IT ES
    "A1805IZSGTT6HS", "A2NODRKZP88ZB9", "A1C3SOZRARQ6R3", "A33AVAJ2PDY3EV", "AMEN7PMS3EDWL",  # NL SE PL TR BE
    "A28R8C7NBKEWEA", "A2VIGQ35RCS4UG", "A17E79C6D8DWNP", "ARBP9OOSHTCHU", "AE08WJ6YKNBMC",  # IE AE SA EG ZA
    "A21TJRUUN4KGV", "A1VC38T7YXB528", "A39IBJ37TRP1C6", "A19VAU5U5O7RUS",  # IN JP AU SG
})
BAD_MARKETPLACE = "Requested MarketplaceId is invalid, unsupported, or does not exist."
ITEM_CONDITIONS = ("New", "Used", "Collectible", "Refurbished", "Club")
IDENTIFIER_TYPES = ("ASIN", "EAN", "GTIN", "ISBN", "JAN", "MINSAN", "SKU", "UPC")


def _input(message: str) -> Invalid:
    return Invalid(400, message, code="InvalidInput")


def _marketplaces(query: Mapping[str, str], name: str) -> tuple[list[str], Invalid | None]:
    raw = query.get(name, "")
    ids = [m for m in raw.split(",") if m]
    if not ids:
        return ids, _input(f"Missing required '{name}'." if name == "marketplaceIds"
                           else f"Missing required parameter {name}.")
    if any(m not in MARKETPLACES for m in ids):
        return ids, _input(BAD_MARKETPLACE)
    return ids, None


def get_catalog_item(asin: str, query: Mapping[str, str]) -> Invalid | None:
    ids, bad = _marketplaces(query, "marketplaceIds")
    if bad is not None:
        return bad
    if not ASIN.match(asin):
        return Invalid(404, f"Requested item, {asin}, not found in marketplace(s) {','.join(ids)}.", code="NOT_FOUND")
    return None


def search_catalog_items(query: Mapping[str, str]) -> Invalid | None:
    _, bad = _marketplaces(query, "marketplaceIds")
    if bad is not None:
        return bad
    identifiers = [i for i in query.get("identifiers", "").split(",") if i]
    keywords = query.get("keywords", "")
    if identifiers and keywords:
        return _input("Cannot use 'identifiers' and 'keywords' in the same request.")
    if not identifiers and not keywords:
        return _input("Either 'identifiers' or 'keywords' must be provided.")
    if identifiers:
        if query.get("identifiersType") not in IDENTIFIER_TYPES:
            return _input("'identifiersType' is required when 'identifiers' is provided.")
        if len(identifiers) > 20:
            return _input(f"Number of 'identifiers' must be at most 20, but was {len(identifiers)}.")
    size = query.get("pageSize", "10")
    if not size.isdigit() or not 1 <= int(size) <= 20:
        return _input(f"Invalid 'pageSize' provided: {size}. It must be between 1 and 20.")
    return None


def get_item_offers(asin: str, query: Mapping[str, str]) -> Invalid | None:
    _, bad = _marketplaces(query, "MarketplaceId")
    if bad is not None:
        return bad
    if query.get("ItemCondition") not in ITEM_CONDITIONS:
        return _input("Missing required parameter ItemCondition." if "ItemCondition" not in query
                      else f"Invalid 'ItemCondition' provided: {query['ItemCondition']}.")
    if not ASIN.match(asin):
        return _input(f"Invalid ASIN {asin!r}.")
    return None


def get_pricing(query: Mapping[str, str]) -> Invalid | None:
    _, bad = _marketplaces(query, "MarketplaceId")
    if bad is not None:
        return bad
    kind = query.get("ItemType")
    if kind not in ("Asin", "Sku"):
        return _input("Missing required parameter ItemType." if kind is None else f"Invalid 'ItemType': {kind}.")
    name = "Asins" if kind == "Asin" else "Skus"
    items = [a for a in query.get(name, "").split(",") if a]
    if not items:
        return _input(f"Missing required parameter {name}.")
    if len(items) > 20:
        return _input(f"Number of '{name}' must be at most 20, but was {len(items)}.")
    return None


def check(operation: str, match: Mapping[str, str], query: Mapping[str, str]) -> Invalid | None:
    """The strict check of one operation (None for operations without one)."""
    if operation == "getCatalogItem":
        return get_catalog_item(match.get("asin", ""), query)
    if operation == "searchCatalogItems":
        return search_catalog_items(query)
    if operation == "getItemOffers":
        return get_item_offers(match.get("Asin", ""), query)
    if operation in ("getPricing", "getCompetitivePricing"):
        return get_pricing(query)
    return None
