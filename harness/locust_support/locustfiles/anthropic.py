"""Anthropic Messages API, plain or streaming (--stream: TTFT and tokens/s entries).

    locust -f "$(harness locustfile anthropic)" --host http://127.0.0.1:8080/anthropic
    ANTHROPIC_API_KEY=... locust -f "$(harness locustfile anthropic)" --host https://api.anthropic.com

The key comes from ANTHROPIC_API_KEY (a dummy one against a loopback mock).
"""

from locust import task

from harness.locust_support.plugin import HarnessShape, PacedUser, api_key, check, option  # noqa: F401 - HarnessShape: --shape
from harness.locust_support.llm import anthropic_event, streamed_call

PATH = "/v1/messages"
ENDPOINT = "messages"


class AnthropicUser(PacedUser):
    target = "anthropic"

    def on_start(self) -> None:
        self.headers = {"x-api-key": api_key(self.environment, "ANTHROPIC_API_KEY", "sk-ant-mock"),
                        "anthropic-version": "2023-06-01"}
        super().on_start()

    @task
    def message(self) -> None:
        env = self.environment
        body = {
            "model": option(env, "model") or "claude-haiku-4-5",
            "max_tokens": int(option(env, "max_tokens", 64)),
            "messages": [{"role": "user", "content": "Write one sentence about load testing."}],
        }
        if option(env, "stream", False):
            body["stream"] = True
            streamed_call(self, PATH, ENDPOINT, body, self.headers, anthropic_event)
            return
        with self.client.post(PATH, json=body, headers=self.headers, name=ENDPOINT, catch_response=True) as resp:
            check(resp, ENDPOINT)
