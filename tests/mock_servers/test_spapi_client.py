"""python-amazon-sp-api, unchanged but for its endpoint settings (the client's ``endpoint`` and
its token client's host), against the SP-API mock: catalog and pricing calls, its errors for
what the real API refuses, and its throttling exception on 429.
"""

from __future__ import annotations

import orjson
import pytest
from sp_api.api import CatalogItems, Products
from sp_api.auth import AccessTokenClient
from sp_api.base import (Marketplaces, SellingApiBadRequestException, SellingApiNotFoundException,
                         SellingApiRequestThrottledException)

CREDENTIALS = {"refresh_token": "Atzr|mock", "lwa_app_id": "amzn1.application-oa2-client.mock",
               "lwa_client_secret": "mock-secret"}
FAST = ["spapi.latency.median=0.005", "spapi.latency.p99=0.01"]


def _clients(mock):
    host = mock.base_url.split("://", 1)[1]

    class MockTokenClient(AccessTokenClient):
        scheme = "http://"
        path = "/spapi/auth/o2/token"

    MockTokenClient.host = host

    def client(cls, **kwargs):
        c = cls(marketplace=Marketplaces.US, credentials=CREDENTIALS, auth_token_client_class=MockTokenClient, **kwargs)
        c.endpoint = mock.url("spapi")  # the one setting that differs from production
        return c

    return client


def test_catalog_and_pricing_calls(mock_server):
    mock = mock_server(["spapi"], time_scale=0.01, sets=FAST, seed=6)
    client = _clients(mock)
    catalog = client(CatalogItems, version="2022-04-01")
    item = catalog.get_catalog_item("B0088PUEPK", includedData="summaries,attributes,salesRanks")
    assert item.payload["asin"] == "B0088PUEPK"
    assert item.payload["summaries"][0]["marketplaceId"] == "ATVPDKIKX0DER"
    assert "padding" not in item.payload
    found = catalog.search_catalog_items(keywords="television", pageSize=5)
    assert len(found.payload["items"]) == 5 and found.payload["numberOfResults"] > 5
    assert len({i["asin"] for i in found.payload["items"]}) == 5  # realistic: several different ASINs
    assert found.next_token or found.payload["pagination"]["nextToken"]
    products = client(Products)
    offers = products.get_item_offers("B0088PUEPK", item_condition="New")
    assert offers.payload["ASIN"] == "B0088PUEPK" and offers.payload["Offers"]
    prices = products.get_product_pricing_for_asins(["B0088PUEPK", "B00U26V4VQ"])
    assert [p["ASIN"] for p in prices.payload] == ["B0088PUEPK", "B00U26V4VQ"]
    with pytest.raises(SellingApiNotFoundException) as info:
        catalog.get_catalog_item("xx")
    assert info.value.error[0]["code"] == "NOT_FOUND"


def test_throttling_raises_the_clients_exception(mock_server):
    mock = mock_server(["spapi"], time_scale=1.0, sets=FAST, seed=6)
    products = _clients(mock)(Products)
    products.get_item_offers("B0088PUEPK", item_condition="New")  # burst 1 at 0.5/s: the next call is throttled
    with pytest.raises(SellingApiRequestThrottledException) as info:
        products.get_item_offers("B0088PUEPK", item_condition="New")
    assert info.value.code == 429
    assert info.value.error[0]["code"] == "QuotaExceeded"


def _offers_request(asin: str, condition: str = "New") -> dict:
    return {"uri": f"/products/pricing/v0/items/{asin}/offers", "method": "GET",
            "MarketplaceId": "ATVPDKIKX0DER", "ItemCondition": condition, "CustomerType": "Consumer"}


def test_item_offers_batch_in_the_models_shape(mock_server):
    """get_item_offers_batch: one response per request, in order, each with status, headers,
    body.payload (or body.errors) and the request echoed; a batch over 20 is refused whole."""
    mock = mock_server(["spapi"], time_scale=0.01, sets=[*FAST, "spapi.endpoints.5.rate=100", "spapi.endpoints.5.burst=5"],
                       seed=6)
    products = _clients(mock)(Products)
    asins = ["B0088PUEPK", "B00U26V4VQ", "xx"]
    got = products.get_item_offers_batch([_offers_request(a) for a in asins[:2]] + [_offers_request("xx", "Used")])
    responses = got.payload["responses"]
    assert [r["request"]["Asin"] for r in responses] == asins
    ok, second, bad = responses
    assert ok["status"] == {"statusCode": 200, "reasonPhrase": "OK"} and "x-amzn-RequestId" in ok["headers"]
    assert ok["request"] == {"MarketplaceId": "ATVPDKIKX0DER", "Asin": "B0088PUEPK", "ItemCondition": "New",
                             "CustomerType": "Consumer"}
    payload = ok["body"]["payload"]
    assert payload["ASIN"] == "B0088PUEPK" and payload["status"] == "Success" and payload["Offers"]
    assert payload["Summary"]["BuyBoxPrices"] and second["body"]["payload"]["ASIN"] == "B00U26V4VQ"
    assert bad["status"]["statusCode"] == 400 and bad["body"]["errors"][0]["code"] == "InvalidInput"
    full = products.get_item_offers_batch([_offers_request(f"B0{i:08d}") for i in range(20)])
    assert len(full.payload["responses"]) == 20
    assert abs(len(orjson.dumps(full.payload)) - 98_000) <= 9_800  # the profile's response_bytes, within 10%
    with pytest.raises(SellingApiBadRequestException) as info:
        products.get_item_offers_batch([_offers_request(f"B0{i:08d}") for i in range(21)])
    assert info.value.error[0]["code"] == "InvalidInput" and "20" in info.value.error[0]["message"]
    with pytest.raises(SellingApiBadRequestException) as info:  # ItemCondition is required by the model
        products.get_item_offers_batch([{"uri": "/products/pricing/v0/items/B0088PUEPK/offers", "method": "GET",
                                         "MarketplaceId": "ATVPDKIKX0DER"}])
    assert "ItemCondition" in info.value.error[0]["message"]
    with pytest.raises(SellingApiBadRequestException):
        products.get_item_offers_batch([])
