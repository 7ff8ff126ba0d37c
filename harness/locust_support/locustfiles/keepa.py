"""Keepa product lookups against a token balance that refills every minute.

    locust -f "$(harness locustfile keepa)" --host http://127.0.0.1:8080/keepa
    KEEPA_API_KEY=... locust -f "$(harness locustfile keepa)" --host https://api.keepa.com

The key comes from KEEPA_API_KEY and travels in the query, so every request is named
("product"): the key never reaches Locust's stats, CSVs, HTML report or the metrics.
"""

import random

from locust import task

from harness.locust_support.plugin import HarnessShape, PacedUser, api_key, check  # noqa: F401 - HarnessShape: --shape

ASINS = [f"B0{n:08d}" for n in range(1, 201)]


class KeepaUser(PacedUser):
    target = "keepa"

    def on_start(self) -> None:
        self.key = api_key(self.environment, "KEEPA_API_KEY")
        super().on_start()

    @task
    def product(self) -> None:
        path = f"/product?key={self.key}&domain=1&asin={random.choice(ASINS)}"
        with self.client.get(path, name="product", catch_response=True) as resp:
            check(resp, "product")
