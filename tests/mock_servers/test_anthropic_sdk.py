"""The official ``anthropic`` SDK against the Anthropic mock, changing nothing but ``base_url`` and the key.

Plain and streamed messages, the SDK's error classes with Anthropic's bodies and
``anthropic-ratelimit-*`` headers, 529 overload, and the SDK's retries honouring ``retry-after``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import datetime, timezone
from typing import Any

import anthropic
import httpx
import pytest

HTTP = httpx.Client(timeout=5)  # one client for raw calls: a new one per call costs ~40 ms
MODEL = "claude-haiku-4-5"
MESSAGES = [{"role": "user", "content": "Summarise this PDF in one sentence."}]
# a fast model, whatever the time scale: ~20 ms calls of ~10 tokens
FAST = [
    f"anthropic.models.{MODEL}.latency.median=0.02",
    f"anthropic.models.{MODEL}.latency.p99=0.05",
    f"anthropic.models.{MODEL}.latency.tokens_per_second=2000",
    "anthropic.output_tokens.median=10",
    "anthropic.output_tokens.p99=30",
]
HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}


def _client(mock, **kwargs: Any) -> anthropic.Anthropic:
    kwargs.setdefault("api_key", "sk-ant-test")
    return anthropic.Anthropic(base_url=mock.url("anthropic"), **kwargs)


def _create(client: anthropic.Anthropic, **kwargs: Any):
    kwargs.setdefault("model", MODEL)
    kwargs.setdefault("max_tokens", 200)
    kwargs.setdefault("messages", MESSAGES)
    return client.messages.create(**kwargs)


def _patch(mock, changes: dict[str, Any]) -> None:
    r = HTTP.patch(f"{mock.base_url}/admin/profiles/anthropic", json=changes, timeout=5)
    assert r.status_code == 200, r.text


def _rfc3339(text: str) -> datetime:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _post_raw(mock, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HTTP.post(f"{mock.url('anthropic')}/v1/messages", content=content, timeout=5,
                      headers={"content-type": "application/json", **(HEADERS if headers is None else headers)})


def _assert_error_body(body: dict[str, Any], kind: str) -> str:
    assert body["type"] == "error"
    assert body["error"]["type"] == kind
    assert body["request_id"].startswith("req_")
    return body["error"]["message"]


# -- plain and streamed messages ------------------------------------------------------------

def test_plain_message(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=FAST, seed=1)
    raw = _client(mock, max_retries=0).messages.with_raw_response.create(
        model=MODEL, max_tokens=200, messages=MESSAGES)
    msg = raw.parse()
    assert msg.type == "message" and msg.role == "assistant" and msg.model == MODEL
    assert msg.id.startswith("msg_")
    assert msg.stop_reason == "end_turn"
    assert len(msg.content) == 1 and msg.content[0].type == "text"
    text = msg.content[0].text
    assert text
    assert msg.usage.input_tokens > 0
    assert msg.usage.output_tokens == len(text.split())  # the mock's tokens are words
    h = raw.headers
    assert h["anthropic-ratelimit-requests-limit"] == "50"
    assert h["anthropic-ratelimit-requests-remaining"] == "49"
    for dim in ("requests", "input-tokens", "output-tokens", "tokens"):
        assert f"anthropic-ratelimit-{dim}-limit" in h
        _rfc3339(h[f"anthropic-ratelimit-{dim}-reset"])
    assert h["request-id"].startswith("req_")


def test_max_tokens_stops_the_message(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=FAST, seed=1)
    msg = _create(_client(mock, max_retries=0), max_tokens=1)
    assert msg.stop_reason == "max_tokens"
    assert msg.usage.output_tokens == 1


def test_streaming_text_and_final_usage(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=FAST, seed=2)
    client = _client(mock, max_retries=0)
    with client.messages.stream(model=MODEL, max_tokens=200, messages=MESSAGES) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) >= 2
    text = "".join(pieces)
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == len(text.split())
    assert final.usage.input_tokens == _create(client).usage.input_tokens


def test_stream_event_sequence_on_the_wire(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=FAST, seed=3)
    r = _post_raw(mock, {"model": MODEL, "max_tokens": 200, "messages": MESSAGES, "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    names = []
    for block in filter(None, r.text.split("\n\n")):
        event_line, data_line = block.split("\n")
        name = event_line.removeprefix("event: ")
        assert json.loads(data_line.removeprefix("data: "))["type"] == name
        names.append(name)
    assert names[0] == "message_start"
    assert names[1] == "content_block_start"
    assert "ping" in names
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names) == {"message_start", "content_block_start", "ping", "content_block_delta",
                          "content_block_stop", "message_delta", "message_stop"}


async def test_async_client_stream(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=FAST, seed=4)
    async with anthropic.AsyncAnthropic(base_url=mock.url("anthropic"), api_key="sk-ant", max_retries=0) as client:
        async with client.messages.stream(model=MODEL, max_tokens=200, messages=MESSAGES) as stream:
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
    assert text and final.usage.output_tokens == len(text.split())


def test_models_list(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, seed=1)
    ids = [m.id for m in _client(mock, max_retries=0).models.list()]
    assert {"claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-1"} <= set(ids)


# -- rate limits ----------------------------------------------------------------------------

def test_rate_limit_error_carries_anthropic_headers(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=[*FAST, "anthropic.limits.requests_per_minute=1"], seed=1)
    client = _client(mock, max_retries=0)
    _create(client)
    before = datetime.now(timezone.utc)
    with pytest.raises(anthropic.RateLimitError) as info:
        _create(client)
    err = info.value
    assert err.status_code == 429
    message = _assert_error_body(err.body, "rate_limit_error")
    assert message.startswith("This request would exceed the rate limit for your organization")
    assert "of 1 requests per minute" in message
    h = err.response.headers
    assert h["anthropic-ratelimit-requests-limit"] == "1"
    assert h["anthropic-ratelimit-requests-remaining"] == "0"
    reset = _rfc3339(h["anthropic-ratelimit-requests-reset"])
    # one request per 0.6 wall-clock seconds at this scale: full again within that
    assert 0 < (reset - before).total_seconds() <= 0.7
    retry_after = float(h["retry-after"])
    assert 0 < retry_after <= 0.6
    for dim in ("input-tokens", "output-tokens", "tokens"):
        assert int(h[f"anthropic-ratelimit-{dim}-remaining"]) <= int(h[f"anthropic-ratelimit-{dim}-limit"])


def test_output_tokens_are_charged_max_tokens_at_admission(mock_server):
    # time_scale 1: no noticeable refill during the test
    mock = mock_server(["anthropic"], time_scale=1.0,
                       sets=[*FAST, f"anthropic.models.{MODEL}.limits.output_tokens_per_minute=1000",
                             "anthropic.remaining_tokens_rounding=1"], seed=1)  # exact: the test reads the bucket

    client = _client(mock, max_retries=0)
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=600, messages=MESSAGES)
    used = raw.parse().usage.output_tokens
    assert used < 600
    # the unused part of max_tokens came back at the end of the call
    remaining = int(client.messages.with_raw_response.create(
        model=MODEL, max_tokens=1, messages=MESSAGES).headers["anthropic-ratelimit-output-tokens-remaining"])
    assert 1000 - used - 1 - 2 <= remaining <= 1000 - used - 1 + 2
    with pytest.raises(anthropic.RateLimitError) as info:
        _create(client, max_tokens=remaining + 10)
    assert "output tokens per minute" in info.value.body["error"]["message"]
    assert re.fullmatch(r"\d+", info.value.response.headers["retry-after"])  # whole seconds, unscaled


def test_sdk_retries_wait_as_the_headers_say_and_succeed(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=[*FAST, "anthropic.limits.requests_per_minute=1"], seed=1)
    events: list[tuple[float, str, Any]] = []
    hooks = {
        "request": [lambda req: events.append((time.monotonic(), "request", None))],
        "response": [lambda resp: events.append((time.monotonic(), "response", resp))],
    }
    client = _client(mock, max_retries=2, http_client=anthropic.DefaultHttpxClient(event_hooks=hooks))
    _create(client)
    started = time.monotonic()
    msg = _create(client)
    elapsed = time.monotonic() - started
    assert msg.content[0].text
    statuses = [e[2].status_code for e in events if e[1] == "response"]
    assert statuses == [200, 429, 200]
    i = next(i for i, e in enumerate(events) if e[1] == "response" and e[2].status_code == 429)
    announced = float(events[i][2].headers["retry-after"])
    assert announced > 0.2
    assert events[i + 1][1] == "request"
    assert events[i + 1][0] - events[i][0] >= announced - 0.02
    assert announced - 0.02 <= elapsed < announced + 1.0


# -- faults ---------------------------------------------------------------------------------

def test_error_529_fault_is_overloaded_error(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=[*FAST, "anthropic.faults.error_529=1.0"], seed=1)
    with pytest.raises(anthropic.OverloadedError) as info:
        _create(_client(mock, max_retries=0))
    err = info.value
    assert isinstance(err, anthropic.APIStatusError)
    assert err.status_code == 529
    assert _assert_error_body(err.body, "overloaded_error") == "Overloaded"


def test_capacity_overload_is_529_too(mock_server):
    sets = [f"anthropic.models.{MODEL}.latency.median=0.3", f"anthropic.models.{MODEL}.latency.p99=0.3",
            "anthropic.capacity.max_in_flight=1", "anthropic.capacity.max_queue=0"]
    mock = mock_server(["anthropic"], time_scale=1.0, sets=[*FAST, *sets], seed=1)

    async def burst() -> list[httpx.Response]:
        body = {"model": MODEL, "max_tokens": 5, "messages": MESSAGES}
        async with httpx.AsyncClient(timeout=5) as c:
            return await asyncio.gather(*(c.post(f"{mock.url('anthropic')}/v1/messages", json=body, headers=HEADERS)
                                          for _ in range(3)))

    responses = asyncio.run(burst())
    assert sorted(r.status_code for r in responses) == [200, 529, 529]
    for r in responses:
        if r.status_code == 529:
            _assert_error_body(r.json(), "overloaded_error")


def test_error_500_fault_is_internal_server_error(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=[*FAST, "anthropic.faults.error_500=1.0"], seed=1)
    with pytest.raises(anthropic.InternalServerError) as info:
        _create(_client(mock, max_retries=0))
    assert info.value.status_code == 500
    _assert_error_body(info.value.body, "api_error")


def test_stream_error_fault_raises_mid_stream(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01,
                       sets=[*FAST, "anthropic.output_tokens.median=20", "anthropic.faults.stream_error=1.0"], seed=1)
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as info:
        with _client(mock, max_retries=0).messages.stream(model=MODEL, max_tokens=200, messages=MESSAGES) as stream:
            for text in stream.text_stream:
                received.append(text)
    assert received, "the error came after some text, not instead of the stream"
    assert info.value.body["error"]["type"] == "overloaded_error"


# -- bad requests and auth ------------------------------------------------------------------

def test_unknown_model_is_404(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=FAST, seed=1)
    with pytest.raises(anthropic.NotFoundError) as info:
        _create(_client(mock, max_retries=0), model="claude-9-imaginary")
    assert info.value.status_code == 404
    assert _assert_error_body(info.value.body, "not_found_error") == "model: claude-9-imaginary"


def test_missing_anthropic_version_is_400(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=FAST, seed=1)
    r = _post_raw(mock, {"model": MODEL, "max_tokens": 10, "messages": MESSAGES}, headers={"x-api-key": "k"})
    assert r.status_code == 400
    assert _assert_error_body(r.json(), "invalid_request_error") == "anthropic-version: header is required"


def test_missing_max_tokens_is_400(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=FAST, seed=1)
    r = _post_raw(mock, {"model": MODEL, "messages": MESSAGES})
    assert r.status_code == 400
    assert _assert_error_body(r.json(), "invalid_request_error") == "max_tokens: Field required"


def test_invalid_json_is_400_in_anthropic_format(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=FAST, seed=1)
    for content in (b'{"model": "claude-haiku-4-5", "max_tokens": 1', b"\xff", b"[1, 2]"):
        r = _post_raw(mock, content)
        assert r.status_code == 400, content
        _assert_error_body(r.json(), "invalid_request_error")
    message = _post_raw(mock, b"{nope").json()["error"]["message"]
    assert message.startswith("The request body is not valid JSON: ")


def test_invalid_key_is_authentication_error(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=FAST, seed=1)
    with pytest.raises(anthropic.AuthenticationError) as info:
        _create(_client(mock, api_key="invalid-ant-key", max_retries=0))
    assert info.value.status_code == 401
    assert _assert_error_body(info.value.body, "authentication_error") == "invalid x-api-key"


def test_missing_key_is_401(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=FAST, seed=1)
    r = _post_raw(mock, {"model": MODEL, "max_tokens": 10, "messages": MESSAGES},
                  headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 401
    assert _assert_error_body(r.json(), "authentication_error") == "x-api-key header is required"


def test_unknown_path_is_anthropic_404(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, seed=1)
    r = HTTP.get(f"{mock.url('anthropic')}/v1/complete-me", headers=HEADERS, timeout=5)
    assert r.status_code == 404
    _assert_error_body(r.json(), "not_found_error")
