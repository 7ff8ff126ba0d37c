"""Locust's FastHttpUser sending what the runner benchmark sends: the yardstick for
:mod:`tests.benchmarks.test_runner_throughput` (one POST with a small JSON body and the API key)."""

from locust import FastHttpUser, task

BODY = b'{"user_id":"u0000001","income":40001,"spend":{"groceries":101,"travel":1}}'
HEADERS = {"x-api-key": "mock-key-not-a-secret", "Content-Type": "application/json"}


class RestUser(FastHttpUser):
    @task
    def recommend(self) -> None:
        self.client.post("/cardgenius/v1/recommendations", data=BODY, headers=HEADERS)
