"""SP-API bodies in the real operations' shapes (Catalog Items 2022-04-01, Product Pricing v0,
Product Fees v0), deterministic per ASIN, with no filler: sizes follow from the content
(``includedData``, page size, offer count), as on the real API.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any, Mapping

BRANDS = ("Samsung", "Anker", "Logitech", "Philips", "Bosch", "Lego", "Hasbro", "Sony", "Braun", "Tefal")
NOUNS = ("Wireless Earbuds", "USB-C Charger 65W", "Ergonomic Mouse", "Electric Toothbrush", "Cordless Drill",
         "Building Set", "Board Game", "Noise Cancelling Headphones", "Hair Clipper", "Frying Pan 28 cm")
CATEGORIES = ("electronics", "home", "toys", "beauty", "diy")


def _rng(asin: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.blake2b(asin.encode(), digest_size=8).digest(), "big"))


def catalog_item(asin: str, marketplace: str, included: list[str]) -> dict[str, Any]:
    """One Item of getCatalogItem / searchCatalogItems with the sections ``includedData`` asks for."""
    r = _rng(asin)
    brand, noun = r.choice(BRANDS), r.choice(NOUNS)
    name = f"{brand} {noun}, {r.choice(('Black', 'White', 'Grey', 'Blue'))}, Model {asin[-4:]}"
    item: dict[str, Any] = {"asin": asin}
    mp = {"marketplaceId": marketplace}
    if "attributes" in included:
        item["attributes"] = {
            "item_name": [{"value": name, "language_tag": "en_US", **mp}],
            "brand": [{"value": brand, "language_tag": "en_US", **mp}],
            "bullet_point": [{"value": f"{noun} by {brand}: feature {i} of the product, described in one sentence.",
                              "language_tag": "en_US", **mp} for i in range(1, 6)],
            "item_weight": [{"unit": "kilograms", "value": round(r.uniform(0.1, 3), 2), **mp}],
            "list_price": [{"currency": "USD", "value": round(r.uniform(9, 299), 2), **mp}],
            "manufacturer": [{"value": f"{brand} Inc.", "language_tag": "en_US", **mp}],
            "model_number": [{"value": f"{brand[:3].upper()}-{asin[-6:]}", **mp}],
            "product_description": [{"value": f"The {brand} {noun} is made for everyday use. It comes with a "
                                              "two-year warranty, a quick start guide and everything needed to "
                                              "set it up in minutes; see the bullet points for its main features.",
                                     "language_tag": "en_US", **mp}],
            "item_type_keyword": [{"value": noun.lower().replace(" ", "-"), **mp}],
            "color": [{"value": "Black", "language_tag": "en_US", **mp}],
            "country_of_origin": [{"value": r.choice(("CN", "DE", "US", "VN")), **mp}],
            "included_components": [{"value": c, "language_tag": "en_US", **mp}
                                    for c in ("Main unit", "USB-C cable", "Quick start guide")],
            "number_of_items": [{"value": 1, **mp}],
            "part_number": [{"value": asin[-8:], **mp}],
        }
    if "dimensions" in included:
        dims = {k: {"unit": "inches", "value": round(r.uniform(1, 20), 2)} for k in ("height", "length", "width")}
        item["dimensions"] = [{**mp, "item": {**dims, "weight": {"unit": "pounds", "value": round(r.uniform(0.2, 6), 2)}},
                               "package": dims}]
    if "identifiers" in included:
        item["identifiers"] = [{**mp, "identifiers": [
            {"identifierType": "EAN", "identifier": f"{r.randrange(10**12, 10**13)}"},
            {"identifierType": "UPC", "identifier": f"{r.randrange(10**11, 10**12)}"}]}]
    if "images" in included:
        item["images"] = [{**mp, "images": [
            {"variant": v, "link": f"https://m.media-amazon.com/images/I/{asin}{v}.jpg", "height": 500, "width": 500}
            for v in ("MAIN", "PT01", "PT02", "PT03")]}]
    if "productTypes" in included:
        item["productTypes"] = [{**mp, "productType": noun.split()[0].upper()}]
    if "salesRanks" in included:
        item["salesRanks"] = [{**mp, "classificationRanks": [
            {"classificationId": str(r.randrange(10**6, 10**7)), "title": noun, "link": f"https://www.amazon.com/gp/bestsellers/{r.choice(CATEGORIES)}",
             "rank": r.randrange(1, 5000)}],
            "displayGroupRanks": [{"websiteDisplayGroup": f"{r.choice(CATEGORIES)}_display_on_website",
                                   "title": r.choice(CATEGORIES).title(), "link": "https://www.amazon.com/gp/bestsellers",
                                   "rank": r.randrange(1, 200000)}]}]
    if "summaries" in included:
        item["summaries"] = [{**mp, "adultProduct": False, "autographed": False, "brand": brand,
                              "browseClassification": {"displayName": noun, "classificationId": str(r.randrange(10**6, 10**7))},
                              "color": "Black", "itemClassification": "BASE_PRODUCT", "itemName": name,
                              "manufacturer": f"{brand} Inc.", "memorabilia": False, "modelNumber": f"{brand[:3].upper()}-{asin[-6:]}",
                              "packageQuantity": 1, "partNumber": asin[-8:], "tradeInEligible": False,
                              "websiteDisplayGroup": "home_display_on_website", "websiteDisplayGroupName": "Home"}]
    return item


def included_data(query: Mapping[str, str]) -> list[str]:
    return [d for d in query.get("includedData", "summaries").split(",") if d]


def search(query: Mapping[str, str], marketplace: str) -> dict[str, Any]:
    """searchCatalogItems: one item per identifier, or a page of keyword matches."""
    included = included_data(query)
    identifiers = [i for i in query.get("identifiers", "").split(",") if i]
    if identifiers:
        asins = [i if query.get("identifiersType") == "ASIN" else _asin_for(i) for i in identifiers]
        return {"numberOfResults": len(asins), "pagination": {},
                "refinements": {"brands": [], "classifications": []},
                "items": [catalog_item(a, marketplace, included) for a in asins]}
    keywords = query.get("keywords", "")
    size = int(query.get("pageSize", "10"))
    r = _rng(keywords + query.get("pageToken", ""))
    total = r.randrange(size * 5, 5000)
    asins = [_asin_for(f"{keywords}:{query.get('pageToken', '')}:{i}") for i in range(size)]
    brands = sorted({catalog_item(a, marketplace, ["summaries"])["summaries"][0]["brand"] for a in asins})
    return {"numberOfResults": total,
            "pagination": {"nextToken": f"{r.getrandbits(96):024x}"},
            "refinements": {"brands": [{"numberOfResults": r.randrange(1, total), "brandName": b} for b in brands],
                            "classifications": [{"numberOfResults": r.randrange(1, total), "displayName": c.title(),
                                                 "classificationId": str(r.randrange(10**6, 10**7))}
                                                for c in CATEGORIES[:3]]},
            "items": [catalog_item(a, marketplace, included) for a in asins]}


def _asin_for(key: str) -> str:
    h = hashlib.blake2b(key.encode(), digest_size=8).hexdigest().upper()
    return "B0" + h[:8]


def _money(amount: float) -> dict[str, Any]:
    return {"CurrencyCode": "USD", "Amount": round(amount, 2)}


def item_offers(asin: str, marketplace: str, condition: str) -> dict[str, Any]:
    """getItemOffers: the summary (lowest prices, buy box) and up to 20 offers."""
    r = _rng(asin + condition)
    base = r.uniform(10, 300)
    n = r.randrange(4, 13)
    offers = []
    for i in range(n):
        price = base * (1 + 0.03 * i)
        offers.append({"SellerId": f"A{r.getrandbits(52):013X}", "SubCondition": "new", "IsFulfilledByAmazon": i % 2 == 0,
                       "IsBuyBoxWinner": i == 0, "IsFeaturedMerchant": True,
                       "SellerFeedbackRating": {"FeedbackCount": r.randrange(10, 90000), "SellerPositiveFeedbackRating": 90 + r.randrange(10)},
                       "ShippingTime": {"minimumHours": 24, "maximumHours": 48, "availabilityType": "NOW"},
                       "ListingPrice": _money(price), "Shipping": _money(0 if i % 2 == 0 else 4.99),
                       "ShipsFrom": {"Country": "US", "State": "WA"},
                       "PrimeInformation": {"IsPrime": i % 2 == 0, "IsNationalPrime": i % 2 == 0}})
    return {"payload": {
        "ASIN": asin, "status": "Success", "ItemCondition": condition, "marketplaceId": marketplace,
        "Identifier": {"MarketplaceId": marketplace, "ASIN": asin, "ItemCondition": condition},
        "Summary": {"TotalOfferCount": n,
                    "NumberOfOffers": [{"condition": "new", "fulfillmentChannel": c, "OfferCount": n // 2 + (c == "Amazon")}
                                       for c in ("Amazon", "Merchant")],
                    "LowestPrices": [{"condition": "new", "fulfillmentChannel": c, "LandedPrice": _money(base),
                                      "ListingPrice": _money(base), "Shipping": _money(0)} for c in ("Amazon", "Merchant")],
                    "BuyBoxPrices": [{"condition": "New", "LandedPrice": _money(base), "ListingPrice": _money(base),
                                      "Shipping": _money(0)}],
                    "ListPrice": _money(base * 1.2),
                    "SalesRankings": [{"ProductCategoryId": "home_display_on_website", "Rank": r.randrange(1, 99999)}],
                    "BuyBoxEligibleOffers": [{"condition": "new", "fulfillmentChannel": "Amazon", "OfferCount": n // 2}],
                    "OffersAvailableTime": "2025-01-01T00:00:00Z"},
        "Offers": offers}}


def pricing(asins: list[str], marketplace: str, competitive: bool) -> dict[str, Any]:
    out = []
    for asin in asins:
        r = _rng(asin)
        price = r.uniform(10, 300)
        product: dict[str, Any] = {"Identifiers": {"MarketplaceASIN": {"MarketplaceId": marketplace, "ASIN": asin}},
                                   "SalesRankings": [{"ProductCategoryId": "home_display_on_website", "Rank": r.randrange(1, 99999)}]}
        if competitive:
            product["CompetitivePricing"] = {
                "CompetitivePrices": [{"CompetitivePriceId": "1", "condition": "New", "belongsToRequester": False,
                                       "Price": {"LandedPrice": _money(price), "ListingPrice": _money(price),
                                                 "Shipping": _money(0)}}],
                "NumberOfOfferListings": [{"condition": c, "Count": r.randrange(1, 20)} for c in ("New", "Used", "Any")]}
        else:
            product["Offers"] = [{"BuyingPrice": {"LandedPrice": _money(price), "ListingPrice": _money(price),
                                                  "Shipping": _money(0)},
                                  "RegularPrice": _money(price * 1.1), "FulfillmentChannel": "AMAZON",
                                  "ItemCondition": "New", "ItemSubCondition": "New", "SellerSKU": f"SKU-{asin[-6:]}"}]
        out.append({"status": "Success", "ASIN": asin, "Product": product})
    return {"payload": out}


def fees(asin: str, marketplace: str) -> dict[str, Any]:
    r = _rng(asin)
    price = r.uniform(10, 300)
    referral, fba = round(price * 0.15, 2), round(r.uniform(3, 9), 2)
    return {"payload": {"FeesEstimateResult": {
        "Status": "Success",
        "FeesEstimateIdentifier": {"MarketplaceId": marketplace, "SellerId": "A3MOCKSELLER", "IdType": "ASIN",
                                   "IdValue": asin, "IsAmazonFulfilled": True, "SellerInputIdentifier": asin,
                                   "PriceToEstimateFees": {"ListingPrice": _money(price), "Shipping": _money(0)}},
        "FeesEstimate": {"TimeOfFeesEstimation": "2025-01-01T00:00:00Z", "TotalFeesEstimate": _money(referral + fba),
                         "FeeDetailList": [
                             {"FeeType": "ReferralFee", "FeeAmount": _money(referral), "FinalFee": _money(referral),
                              "FeePromotion": _money(0)},
                             {"FeeType": "FBAFees", "FeeAmount": _money(fba), "FinalFee": _money(fba),
                              "FeePromotion": _money(0)}]}}}}
