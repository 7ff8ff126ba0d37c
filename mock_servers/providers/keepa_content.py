"""Keepa product objects shaped like the real ones (keepacom/api_backend ``Product.java``):
``csv`` holds one slot per price-history type (36; ``null`` where a product has no such
history, ``[keepaTime, value, ...]`` or ``[time, value, shipping, ...]`` for the shipping
series), ``stats`` when asked, ``offers``/``liveOffersOrder`` and the buy-box history when
asked. Deterministic per ASIN; sizes follow from the content (history length, offers).

Token costs (Keepa "Product Request"): 1 per product; with ``offers`` 6 per page of 10
offers per product instead; ``buybox`` +2; ``rating`` +1 (at most).
"""

from __future__ import annotations

import hashlib
import math
import random
import time
import zlib
from functools import lru_cache
from typing import Any, Mapping

import orjson

CSV_SLOTS = 36
SHIPPING_SLOTS = frozenset({7, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 32})
PRICE_SLOTS = (0, 1, 2, 10, 18)  # AMAZON, NEW, USED, NEW_FBA, BUY_BOX_SHIPPING
COUNT_SLOTS = (11, 12, 16, 17)   # COUNT_NEW, COUNT_USED, RATING, COUNT_REVIEWS
KEEPA_EPOCH_MIN = 21564000       # Keepa time is minutes since 2011-01-01
POINTS = 145                      # history points of a price series (~a year of changes)


def keepa_now() -> int:
    return int(time.time() / 60) - KEEPA_EPOCH_MIN


def _rng(asin: str, salt: str = "") -> random.Random:
    return random.Random(int.from_bytes(hashlib.blake2b((asin + salt).encode(), digest_size=8).digest(), "big"))


def _series(r: random.Random, start: int, now: int, base: int, points: int, shipping: bool) -> list[int]:
    out: list[int] = []
    t = start
    step = max(1, (now - start) // points)
    value = base
    for _ in range(points):
        t += r.randrange(step // 2 + 1, step * 3 // 2 + 2)
        value = max(1, int(value * (1 + r.uniform(-0.06, 0.06))))
        out += [t, value, 0] if shipping else [t, value]
    return out


def cost(query: Mapping[str, str], n_products: int) -> int:
    """Tokens a /product request costs."""
    offers = query.get("offers")
    per = 6 * math.ceil(int(offers) / 10) if offers and offers.isdigit() and int(offers) > 0 else 1
    if query.get("buybox") == "1":
        per += 2
    if query.get("rating") == "1":
        per += 1
    return per * n_products


_SHAPE = ("history", "stats", "offers", "buybox", "rating", "days")


def product_json(asin: str, domain: int, query: Mapping[str, str]) -> bytes:
    """:func:`product` as JSON, made once per ASIN, request shape and Keepa hour."""
    return _cached(asin, domain, tuple(query.get(k) for k in _SHAPE), keepa_now() // 60)


@lru_cache(maxsize=4096)
def _cached(asin: str, domain: int, shape: tuple[str | None, ...], _hour: int) -> bytes:
    return orjson.dumps(product(asin, domain, {k: v for k, v in zip(_SHAPE, shape) if v is not None}))


def gzip_fast(raw: bytes) -> bytes:
    """gzip at level 1: nearly level 6's size for this JSON at a seventh of the CPU."""
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    return c.compress(raw) + c.flush()


def product(asin: str, domain: int, query: Mapping[str, str]) -> dict[str, Any]:
    r = _rng(asin)
    now = keepa_now()
    start = now - r.randrange(200_000, 2_000_000)
    base = r.randrange(999, 29_999)
    days = query.get("days")
    points = POINTS if not (days and days.isdigit()) else max(2, min(POINTS, int(days) // 4))
    history = query.get("history", "1") != "0"
    csv: list[list[int] | None] = [None] * CSV_SLOTS
    if history:
        for slot in PRICE_SLOTS:
            if slot == 18 and query.get("buybox") != "1":
                continue
            csv[slot] = _series(r, start, now, base, points, slot in SHIPPING_SLOTS)
        csv[3] = _series(r, start, now, r.randrange(500, 90_000), points * 2, False)  # SALES rank
        csv[4] = _series(r, start, now, int(base * 1.2), 4, False)                    # LISTPRICE
        for slot in COUNT_SLOTS:
            csv[slot] = _series(r, start, now, {16: 44, 17: 800}.get(slot, 12), points // 3, False)
    brand = r.choice(("Samsung", "Anker", "Logitech", "Philips", "Bosch", "Lego", "Sony"))
    p: dict[str, Any] = {
        "csv": csv, "asin": asin, "domainId": domain, "productType": 0, "title":
            f"{brand} product {asin}, {r.choice(('Black', 'White', 'Grey'))}, model {asin[-4:]}",
        "trackingSince": start, "listedSince": start - 1440, "lastUpdate": now - r.randrange(0, 600),
        "lastRatingUpdate": now - r.randrange(0, 6000), "lastPriceChange": now - r.randrange(0, 6000),
        "lastEbayUpdate": 0, "lastStockUpdate": now - 60, "imagesCSV": ",".join(f"{asin}-{i}.jpg" for i in range(5)),
        "rootCategory": 172282, "categories": [r.randrange(10**6, 10**7) for _ in range(3)],
        "categoryTree": [{"catId": 172282, "name": "Electronics"}, {"catId": r.randrange(10**6, 10**7), "name": "Accessories"}],
        "parentAsin": None, "variationCSV": None, "eanList": [str(r.randrange(10**12, 10**13))],
        "upcList": [str(r.randrange(10**11, 10**12))], "manufacturer": f"{brand} Inc.", "brand": brand,
        "productGroup": "Electronics", "partNumber": asin[-8:], "model": f"{brand[:3].upper()}-{asin[-6:]}",
        "color": "Black", "size": None, "edition": None, "format": None, "packageHeight": r.randrange(20, 400),
        "packageLength": r.randrange(20, 400), "packageWidth": r.randrange(20, 400), "packageWeight": r.randrange(50, 5000),
        "packageQuantity": 1, "itemHeight": r.randrange(20, 400), "itemLength": r.randrange(20, 400),
        "itemWidth": r.randrange(20, 400), "itemWeight": r.randrange(50, 5000), "availabilityAmazon": 0,
        "availabilityAmazonDelay": [0, 0], "isAdultProduct": False, "isEligibleForTradeIn": False,
        "isEligibleForSuperSaverShipping": True, "offers": None, "buyBoxSellerIdHistory": None,
        "isRedirectASIN": False, "isSNS": False, "author": None, "binding": "Electronics", "numberOfItems": 1,
        "numberOfPages": -1, "publicationDate": -1, "releaseDate": -1, "languages": None,
        "features": [f"{brand} feature {i}: a sentence about what the product does well." for i in range(5)],
        "description": f"The {brand} product {asin} is built for everyday use and comes with a two-year warranty.",
        "salesRankReference": 172282, "salesRanks": {"172282": csv[3][:20] if csv[3] else []},
        "frequentlyBoughtTogether": [f"B0{r.randrange(10**7, 10**8)}" for _ in range(2)], "coupon": None,
        "hazardousMaterials": None, "liveOffersOrder": None, "fbaFees": {"pickAndPackFee": r.randrange(300, 900)},
    }
    if query.get("stats"):
        p["stats"] = _stats(csv, now)
    offers = query.get("offers")
    if offers and offers.isdigit() and int(offers) > 0:
        n = min(int(offers), r.randrange(3, 25))
        p["offers"] = [_offer(r, i, now, base) for i in range(n)]
        p["liveOffersOrder"] = list(range(n))
    if query.get("buybox") == "1":
        p["buyBoxSellerIdHistory"] = [str(x) for t in range(4) for x in (now - 1000 * (4 - t), "ATVPDKIKX0DER")]
    return p


def _current(series: list[int] | None, shipping: bool) -> int:
    if not series:
        return -1
    return series[-3] if shipping else series[-1]


def _stats(csv: list[list[int] | None], now: int) -> dict[str, Any]:
    cur = [_current(s, i in SHIPPING_SLOTS) for i, s in enumerate(csv)]
    vals = [(s[1::3] if i in SHIPPING_SLOTS else s[1::2]) if s else [] for i, s in enumerate(csv)]
    avg = [int(sum(v) / len(v)) if v else -1 for v in vals]
    low = [[csv[i][0], min(v)] if v else None for i, v in enumerate(vals)]
    high = [[csv[i][0], max(v)] if v else None for i, v in enumerate(vals)]
    return {"current": cur, "avg": avg, "avg30": avg, "avg90": avg, "avg180": avg, "atIntervalStart": avg,
            "min": low, "max": high, "minInInterval": low, "maxInInterval": high,
            "outOfStockPercentageInInterval": [0] * CSV_SLOTS, "outOfStockPercentage30": [0] * CSV_SLOTS,
            "outOfStockPercentage90": [0] * CSV_SLOTS, "lastOffersUpdate": now - 30, "totalOfferCount": 8,
            "buyBoxPrice": cur[18] if cur[18] > 0 else cur[1], "buyBoxShipping": 0, "buyBoxIsAmazon": False,
            "buyBoxIsFBA": True, "salesRankDrops30": 12, "salesRankDrops90": 40, "salesRankDrops180": 75}


def _offer(r: random.Random, i: int, now: int, base: int) -> dict[str, Any]:
    price = int(base * (1 + 0.03 * i))
    return {"offerId": i, "lastSeen": now - r.randrange(0, 600), "sellerId": f"A{r.getrandbits(52):013X}",
            "offerCSV": [now - 5000, price, 0, now - 100, price, 0], "condition": 1, "conditionComment": None,
            "isPrime": i % 2 == 0, "isMAP": False, "isShippable": True, "isAddonItem": False, "isPreorder": False,
            "isWarehouseDeal": False, "isScam": False, "isAmazon": i == 0, "isFBA": i % 2 == 0,
            "shipsFromChina": False, "minOrderQty": 1, "stockCSV": [now - 60, r.randrange(1, 50)]}
