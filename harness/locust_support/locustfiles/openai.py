"""OpenAI chat completions, plain or streaming (--stream: TTFT and tokens/s entries).

    locust -f "$(harness locustfile openai)" --host http://127.0.0.1:8080/openai      # the mock
    OPENAI_API_KEY=... locust -f "$(harness locustfile openai)" --host https://api.openai.com

The key comes from OPENAI_API_KEY (a dummy one against a loopback mock). Options: --model,
--max-tokens, --stream, the shapes (--shape step ...), --pacing, --prometheus-port; see README,
"Ramp tests with Locust".
"""

from locust import task

from harness.locust_support.plugin import HarnessShape, PacedUser, api_key, check, option  # noqa: F401 - HarnessShape: --shape
from harness.locust_support.llm import openai_event, streamed_call

PATH = "/v1/chat/completions"
ENDPOINT = "chat.completions"


class OpenAIUser(PacedUser):
    target = "openai"

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {api_key(self.environment, 'OPENAI_API_KEY', 'sk-mock')}"}
        super().on_start()

    @task
    def chat(self) -> None:
        env = self.environment
        body = {
            "model": option(env, "model") or "gpt-4o-mini",
            "max_completion_tokens": int(option(env, "max_tokens", 64)),
            "messages": [{"role": "user", "content": "Write one sentence about load testing."}],
        }
        if option(env, "stream", False):
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
            streamed_call(self, PATH, ENDPOINT, body, self.headers, openai_event)
            return
        with self.client.post(PATH, json=body, headers=self.headers, name=ENDPOINT, catch_response=True) as resp:
            check(resp, ENDPOINT)
