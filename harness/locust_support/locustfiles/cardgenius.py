"""CardGenius, seed 003's partner REST API: one recommendation per user (~0.5 KB up, ~35 KB down).

    locust -f "$(harness locustfile cardgenius)" --host http://127.0.0.1:8080/cardgenius
    CARDGENIUS_API_KEY=... locust -f "$(harness locustfile cardgenius)" --host https://PARTNER-BASE-URL

Past its capacity the partner queues, then answers 503: a step ramp finds the knee.
"""

import itertools

from locust import task

from harness.locust_support.plugin import HarnessShape, PacedUser, api_key, check  # noqa: F401 - HarnessShape: --shape

PATH = "/v1/recommendations"
ENDPOINT = "recommend"
_ids = itertools.count(1)


class CardGeniusUser(PacedUser):
    target = "cardgenius"

    def on_start(self) -> None:
        self.headers = {"x-api-key": api_key(self.environment, "CARDGENIUS_API_KEY")}
        super().on_start()

    @task
    def recommend(self) -> None:
        n = next(_ids)
        body = {"user_id": f"u{n:07d}", "income": 40000 + n % 50000,
                "spend": {"groceries": 100 + n % 400, "travel": n % 300, "dining": n % 200}}
        with self.client.post(PATH, json=body, headers=self.headers, name=ENDPOINT, catch_response=True) as resp:
            check(resp, ENDPOINT)
