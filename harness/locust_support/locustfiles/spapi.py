"""Amazon SP-API: catalog, pricing and fees operations, each with its own rate limit (and entry).

    locust -f "$(harness locustfile spapi)" --host http://127.0.0.1:8080/spapi
    SPAPI_ACCESS_TOKEN=... locust -f "$(harness locustfile spapi)" --host https://sellingpartnerapi-na.amazon.com

The LWA access token comes from SPAPI_ACCESS_TOKEN (a dummy one against a loopback mock).
Each operation is its own stats entry, so its 429s (its own token bucket) show on their own.
"""

import random

from locust import task

from harness.locust_support.plugin import HarnessShape, PacedUser, api_key, check  # noqa: F401 - HarnessShape: --shape

MARKETPLACE = "ATVPDKIKX0DER"
ASINS = [f"B0{n:08d}" for n in range(1, 201)]


class SPAPIUser(PacedUser):
    target = "spapi"

    def on_start(self) -> None:
        self.headers = {"x-amz-access-token": api_key(self.environment, "SPAPI_ACCESS_TOKEN", "Atza|mock")}
        super().on_start()

    def _call(self, method: str, path: str, endpoint: str, **kwargs) -> None:
        with self.client.request(method, path, headers=self.headers, name=endpoint, catch_response=True,
                                 **kwargs) as resp:
            check(resp, endpoint)

    @task(4)
    def get_catalog_item(self) -> None:
        self._call("GET", f"/catalog/2022-04-01/items/{random.choice(ASINS)}?marketplaceIds={MARKETPLACE}"
                   "&includedData=summaries", "getCatalogItem")

    @task(2)
    def search_catalog_items(self) -> None:
        self._call("GET", f"/catalog/2022-04-01/items?marketplaceIds={MARKETPLACE}&keywords=mock", "searchCatalogItems")

    @task(1)
    def get_item_offers(self) -> None:
        self._call("GET", f"/products/pricing/v0/items/{random.choice(ASINS)}/offers?MarketplaceId={MARKETPLACE}"
                   "&ItemCondition=New", "getItemOffers")

    @task(1)
    def get_pricing(self) -> None:
        self._call("GET", f"/products/pricing/v0/price?MarketplaceId={MARKETPLACE}&ItemType=Asin"
                   f"&Asins={random.choice(ASINS)}", "getPricing")

    @task(1)
    def get_fees_estimate(self) -> None:
        body = {"FeesEstimateRequest": {"MarketplaceId": MARKETPLACE, "IdType": "ASIN", "IdValue": "B000MOCK00",
                                        "PriceToEstimateFees": {"ListingPrice": {"CurrencyCode": "USD", "Amount": 20}},
                                        "Identifier": "locust"}}
        self._call("POST", f"/products/fees/v0/items/{random.choice(ASINS)}/feesEstimate",
                   "getMyFeesEstimateForASIN", json=body)
