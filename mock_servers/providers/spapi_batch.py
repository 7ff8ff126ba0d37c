"""getItemOffersBatch (Product Pricing v0): up to 20 getItemOffers requests in one call.

The request and response follow productPricingV0.json (amzn/selling-partner-api-models):
``{"requests": [ItemOffersRequest]}`` with 1..20 items, each with ``uri``
(``/products/pricing/v0/items/{Asin}/offers``), ``method``, ``MarketplaceId`` and
``ItemCondition``; the answer is ``{"responses": [ItemOffersResponse]}``, one per request in
order, each with ``status`` (statusCode, reasonPhrase), ``headers``, ``body`` (``payload`` or
``errors``) and ``request`` (MarketplaceId, Asin, ItemCondition, CustomerType). A malformed batch
is refused as a whole (400 InvalidInput); a request naming a bad ASIN, marketplace or condition
gets its own 400 inside a 200 batch. The models are pydantic, as the schema's enums and bounds
are exactly what pydantic checks.
"""

from __future__ import annotations

import re
import uuid
from email.utils import formatdate
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..validation import Invalid
from ..validation import spapi as strict
from . import spapi_content as content

MAX_REQUESTS = 20
US = "ATVPDKIKX0DER"  # the default marketplace, as in the provider
URI = re.compile(r"^/products/pricing/v0/items/([^/]+)/offers$")


class ItemOffersRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    uri: str
    method: Literal["GET", "PUT", "PATCH", "DELETE", "POST"]
    MarketplaceId: str
    ItemCondition: Literal[strict.ITEM_CONDITIONS]  # type: ignore[valid-type]
    CustomerType: Optional[Literal["Consumer", "Business"]] = None
    headers: Optional[dict[str, str]] = None


class GetItemOffersBatchRequest(BaseModel):
    requests: list[ItemOffersRequest] = Field(min_length=1, max_length=MAX_REQUESTS)


def check(body: Any) -> Invalid | None:
    """The whole batch refused (400 InvalidInput), or None."""
    try:
        GetItemOffersBatchRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        n = len(body["requests"]) if isinstance(body, dict) and isinstance(body.get("requests"), list) else 0
        if first["loc"] == ("requests",) and first["type"] == "too_long":
            return Invalid(400, f"1 validation error detected: Value at 'requests' failed to satisfy constraint: "
                                f"Member must have length less than or equal to {MAX_REQUESTS} (was {n}).",
                           code="InvalidInput")
        return Invalid(400, f"1 validation error detected: Value at '{where}' failed to satisfy constraint: "
                            f"{first['msg']}.", code="InvalidInput")
    return None


def responses(body: Any, checked: bool = True) -> dict[str, Any]:
    """One ItemOffersResponse per request, in order (``checked=False``: no per-request refusals,
    for ``strict: false`` profiles)."""
    reqs = body.get("requests") if isinstance(body, dict) else None
    return {"responses": [_one(r if isinstance(r, dict) else {}, checked) for r in (reqs or [])]}


def _one(req: dict[str, Any], checked: bool) -> dict[str, Any]:
    m = URI.match(str(req.get("uri") or ""))
    asin = m.group(1) if m else ""
    market = req.get("MarketplaceId") or US
    condition = req.get("ItemCondition") or "New"
    echo = {"MarketplaceId": market, "Asin": asin, "ItemCondition": condition}
    if req.get("CustomerType"):
        echo["CustomerType"] = req["CustomerType"]
    headers = {"x-amzn-RequestId": str(uuid.uuid4()), "Date": formatdate(usegmt=True)}
    bad = None if not checked else (
        strict.get_item_offers(asin, {"MarketplaceId": market, "ItemCondition": condition}) if m
        else Invalid(400, f"Invalid uri {req.get('uri')!r}: expected /products/pricing/v0/items/{{Asin}}/offers.",
                     code="InvalidInput"))
    if bad is not None:
        return {"status": {"statusCode": bad.status, "reasonPhrase": "Bad Request" if bad.status == 400 else "Not Found"},
                "headers": headers, "request": echo,
                "body": {"errors": [{"code": bad.code, "message": bad.message, "details": ""}]}}
    return {"status": {"statusCode": 200, "reasonPhrase": "OK"}, "headers": headers, "request": echo,
            "body": content.item_offers(asin, market, condition)}
