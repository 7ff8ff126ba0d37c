"""The official ``openai`` SDK against the OpenAI mock, changing nothing but ``base_url`` and the key.

Plain and streamed completions, models, the SDK's error classes with OpenAI's own bodies and
headers, and the SDK's built-in retries honouring the ``retry-after`` headers the mock sends.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from typing import Any

import httpx
import openai
import pytest

from mock_servers.text import estimate_message_tokens

HTTP = httpx.Client(timeout=5)  # one client for raw calls: a new one per call costs ~40 ms
MODEL = "gpt-5-nano"
MESSAGES = [{"role": "user", "content": "Describe this product in one sentence."}]
# a fast model, whatever the time scale: ~20 ms calls of ~10 tokens
FAST = [
    "openai.latency.median=0.02",
    "openai.latency.p99=0.05",
    "openai.latency.tokens_per_second=2000",
    "openai.output_tokens.median=10",
    "openai.output_tokens.p99=30",
]
GO_DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$")


def _client(mock, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("api_key", "sk-mock-test")
    return openai.OpenAI(base_url=f"{mock.url('openai')}/v1", **kwargs)


def _patch(mock, changes: dict[str, Any]) -> None:
    r = HTTP.patch(f"{mock.base_url}/admin/profiles/openai", json=changes, timeout=5)
    assert r.status_code == 200, r.text


def _create(client: openai.OpenAI, **kwargs: Any):
    kwargs.setdefault("model", MODEL)
    kwargs.setdefault("messages", MESSAGES)
    return client.chat.completions.create(**kwargs)


# -- plain and streamed completions ---------------------------------------------------------

def test_plain_completion_has_content_and_consistent_usage(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=1)
    client = _client(mock, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    resp = raw.parse()
    assert resp.object == "chat.completion"
    assert resp.model == MODEL
    assert resp.id.startswith("chatcmpl-")
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content
    assert choice.finish_reason == "stop"
    usage = resp.usage
    assert usage is not None
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    # the mock's output tokens are words: the text and the count agree
    # reasoning tokens are billed as completion tokens but not shown
    reasoning = usage.completion_tokens_details.reasoning_tokens
    assert 0 < reasoning < usage.completion_tokens
    assert len(choice.message.content.split()) == usage.completion_tokens - reasoning
    # headers a client paces by, on a success
    assert raw.headers["x-ratelimit-limit-requests"] == "500"
    assert raw.headers["x-ratelimit-remaining-requests"] == "499"
    assert GO_DURATION.match(raw.headers["x-ratelimit-reset-requests"])
    assert int(raw.headers["x-ratelimit-remaining-tokens"]) < int(raw.headers["x-ratelimit-limit-tokens"])
    assert re.fullmatch(r"req_[0-9a-f]+", raw.headers["x-request-id"])
    assert raw.headers["openai-version"] == "2020-10-01"


def test_max_tokens_cuts_the_answer_with_finish_reason_length(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=1)
    resp = _create(_client(mock, max_retries=0), max_completion_tokens=1)
    assert resp.choices[0].finish_reason == "length"
    assert resp.usage.completion_tokens == 1
    assert len(resp.choices[0].message.content.split()) == 1


def test_longer_prompt_counts_more_prompt_tokens(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=1)
    client = _client(mock, max_retries=0)
    short = _create(client, messages=[{"role": "user", "content": "hi"}])
    long = _create(client, messages=[{"role": "user", "content": "word " * 400}])
    assert long.usage.prompt_tokens >= short.usage.prompt_tokens + 400  # ~4 characters per token


def test_streaming_with_include_usage(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=2)
    client = _client(mock, max_retries=0)
    chunks = list(_create(client, stream=True, stream_options={"include_usage": True}))
    assert len(chunks) >= 4
    assert len({c.id for c in chunks}) == 1
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    *content_chunks, last = chunks
    assert last.choices == []
    assert last.usage is not None
    assert all(c.usage is None for c in content_chunks)
    finishes = [c.choices[0].finish_reason for c in content_chunks]
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    text = "".join(c.choices[0].delta.content or "" for c in content_chunks)
    assert text
    assert last.usage.completion_tokens - last.usage.completion_tokens_details.reasoning_tokens == len(text.split())
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert last.usage.prompt_tokens == _create(client).usage.prompt_tokens


def test_streaming_without_include_usage_sends_no_usage(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=2)
    chunks = list(_create(_client(mock, max_retries=0), stream=True))
    assert chunks and all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_wire_format(mock_server):
    """OpenAI's SSE framing: ``data:`` lines only, ``"usage":null`` on every chunk but the
    last (with include_usage), then ``data: [DONE]``."""
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=3)
    body = {"model": MODEL, "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    r = HTTP.post(f"{mock.url('openai')}/v1/chat/completions", json=body,
                   headers={"Authorization": "Bearer sk-x"}, timeout=5)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [e for e in r.text.split("\n\n") if e]
    assert all(e.startswith("data: ") and "\n" not in e for e in events)
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(e[6:]) for e in events[:-1]]
    assert all("usage" in p for p in payloads)
    assert all(p["usage"] is None for p in payloads[:-1])
    assert payloads[-1]["choices"] == [] and payloads[-1]["usage"]["total_tokens"] > 0
    assert len({p["created"] for p in payloads}) == 1


async def test_async_client_concurrent_calls_and_stream(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=4)
    async with openai.AsyncOpenAI(base_url=f"{mock.url('openai')}/v1", api_key="sk-x", max_retries=0) as client:
        results = await asyncio.gather(*(client.chat.completions.create(model=MODEL, messages=MESSAGES)
                                         for _ in range(8)))
        assert len({r.id for r in results}) == 8
        assert all(r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens for r in results)
        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                      stream_options={"include_usage": True})
        parts, usage = [], None
        async for chunk in stream:
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
            usage = chunk.usage or usage
        assert usage is not None
        assert usage.completion_tokens - usage.completion_tokens_details.reasoning_tokens == len("".join(parts).split())


# -- models ---------------------------------------------------------------------------------

def test_models_list_and_retrieve(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, seed=1)
    client = _client(mock, max_retries=0)
    ids = [m.id for m in client.models.list()]
    assert {"gpt-5-nano", "gpt-4o", "gpt-4.1-mini"} <= set(ids)
    model = client.models.retrieve("gpt-4.1-mini")
    assert model.id == "gpt-4.1-mini" and model.object == "model" and model.owned_by


def test_unknown_model_is_not_found_with_model_not_found_code(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, seed=1)
    client = _client(mock, max_retries=0)
    with pytest.raises(openai.NotFoundError) as info:
        _create(client, model="gpt-17-ultra")
    err = info.value
    assert err.status_code == 404
    assert err.code == "model_not_found"
    assert err.body["type"] == "invalid_request_error"
    assert "`gpt-17-ultra`" in err.body["message"]
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("gpt-17-ultra")
    assert info.value.code == "model_not_found"


# -- rate limits ----------------------------------------------------------------------------

def test_rate_limit_error_past_the_rpm_limit(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=[*FAST, "openai.limits.requests_per_minute=1"], seed=1)
    client = _client(mock, max_retries=0)
    began = time.monotonic()
    _create(client)
    with pytest.raises(openai.RateLimitError) as info:
        _create(client)
    span = time.monotonic() - began  # the most the bucket can have refilled between the two
    err = info.value
    assert err.status_code == 429
    assert err.body["type"] == "requests"
    assert err.body["code"] == "rate_limit_exceeded"
    assert err.body["param"] is None
    assert err.body["message"].startswith(f"Rate limit reached for {MODEL} in organization ")
    assert "on requests per min (RPM): Limit 1, Used 1, Requested 1." in err.body["message"]
    h = err.response.headers
    assert h["x-ratelimit-limit-requests"] == "1"
    assert h["x-ratelimit-remaining-requests"] == "0"
    assert GO_DURATION.match(h["x-ratelimit-reset-requests"])
    assert GO_DURATION.match(h["x-ratelimit-reset-tokens"])
    assert "x-ratelimit-limit-tokens" in h and "x-ratelimit-remaining-tokens" in h
    retry_after, retry_after_ms = float(h["retry-after"]), int(h["retry-after-ms"])
    # the bucket holds 1 request and refills 1 per 60 profile s = 0.6 wall s at scale 0.01: the
    # first call emptied it, so the second must wait 0.6 s less what refilled since (< span);
    # the headers round up to the ms (retry-after to 3 decimals at a compressed scale)
    refill = 60 * 0.01
    assert refill - span - 0.001 <= retry_after <= refill + 0.001, (retry_after, span)
    assert abs(retry_after_ms / 1000 - retry_after) <= 0.001 + 1e-9
    m = re.search(r"Please try again in (\d+)ms\.", err.body["message"])
    assert m and abs(int(m.group(1)) - retry_after_ms) <= 2


def test_rate_limit_error_on_tokens_per_minute(mock_server):
    # time_scale 1: the bucket does not refill noticeably during the test
    mock = mock_server(["openai"], time_scale=1.0, sets=[*FAST, "openai.limits.tokens_per_minute=1000"], seed=1)
    client = _client(mock, max_retries=0)
    began = time.monotonic()
    _create(client, max_completion_tokens=600)  # charged prompt + max_tokens at admission
    with pytest.raises(openai.RateLimitError) as info:
        _create(client, max_completion_tokens=600)
    span = time.monotonic() - began  # the most the bucket can have refilled between the two
    err = info.value
    assert err.body["type"] == "tokens"
    assert err.body["code"] == "rate_limit_exceeded"
    assert err.body["message"].startswith(f"Rate limit reached for {MODEL}")
    assert "on tokens per min (TPM): Limit 1000, Used " in err.body["message"]
    h = err.response.headers
    assert h["x-ratelimit-limit-tokens"] == "1000"
    assert int(h["x-ratelimit-remaining-tokens"]) < 600
    # the mock's bucket math: each call costs prompt + max_completion_tokens = 16 + 600 = 616
    # (OpenAI's admission rule, named in the message); the full 1000-token bucket keeps 384 after
    # the first, so the second lacks 232 tokens, refilled at 1000/60 tokens/s: 13.92 s, less the
    # refill during the < `span` s between the two (time scale 1: wall seconds)
    cost = estimate_message_tokens(MESSAGES) + 600
    assert f"Requested {cost}." in err.body["message"]
    rate = 1000 / 60
    wait = (2 * cost - 1000) / rate
    wait_ms = int(h["retry-after-ms"])
    assert wait - span - 0.001 <= wait_ms / 1000 <= wait + 0.001, (wait_ms, wait, span)
    # unscaled: retry-after in whole seconds rounded up, as the real API sends it (14 unless the
    # two calls were more than 0.92 s apart)
    assert re.fullmatch(r"\d+", h["retry-after"])
    assert int(h["retry-after"]) == math.ceil(wait_ms / 1000)
    assert math.ceil(wait - span) <= int(h["retry-after"]) <= math.ceil(wait) == 14


def test_request_larger_than_tpm_is_a_429_request_too_large(mock_server):
    mock = mock_server(["openai"], time_scale=1.0, sets=[*FAST, "openai.limits.tokens_per_minute=1000"], seed=1)
    with pytest.raises(openai.RateLimitError) as info:
        _create(_client(mock, max_retries=0), max_completion_tokens=5000)
    assert info.value.body["type"] == "tokens"
    assert info.value.body["message"].startswith(f"Request too large for {MODEL}")


def test_sdk_retries_wait_as_the_headers_say_and_succeed(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=[*FAST, "openai.limits.requests_per_minute=1"], seed=1)
    events: list[tuple[float, str, Any]] = []
    hooks = {
        "request": [lambda req: events.append((time.monotonic(), "request", None))],
        "response": [lambda resp: events.append((time.monotonic(), "response", resp))],
    }
    client = _client(mock, max_retries=2, http_client=openai.DefaultHttpxClient(event_hooks=hooks))
    _create(client)
    started = time.monotonic()
    resp = _create(client)  # refused at first: the bucket holds one request per 0.6 s
    elapsed = time.monotonic() - started
    assert resp.choices[0].message.content
    statuses = [e[2].status_code for e in events if e[1] == "response"]
    # one 429, then a success: the SDK waited long enough the first time
    assert statuses == [200, 429, 200]
    i = next(i for i, e in enumerate(events) if e[1] == "response" and e[2].status_code == 429)
    announced = int(events[i][2].headers["retry-after-ms"]) / 1000
    assert announced > 0.2  # a wait worth measuring, unlike a default backoff's
    retried_at = events[i + 1][0]
    assert events[i + 1][1] == "request"
    assert retried_at - events[i][0] >= announced - 0.02
    assert announced - 0.02 <= elapsed < announced + 1.0


# -- faults ---------------------------------------------------------------------------------

def test_insufficient_quota_is_a_rate_limit_error_with_its_own_code(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=[*FAST, "openai.faults.insufficient_quota=1.0"], seed=1)
    with pytest.raises(openai.RateLimitError) as info:
        _create(_client(mock, max_retries=0))
    err = info.value
    assert err.code == "insufficient_quota"
    assert err.body["type"] == "insufficient_quota"
    assert err.body["message"].startswith("You exceeded your current quota")
    assert "retry-after" not in err.response.headers  # a quota error is not a wait


def test_error_500_fault_without_retries_is_internal_server_error(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=1)
    _patch(mock, {"faults.error_500": 1.0})
    with pytest.raises(openai.InternalServerError) as info:
        _create(_client(mock, max_retries=0))
    assert info.value.status_code == 500
    assert info.value.body["type"] == "server_error"
    _patch(mock, {"faults.error_500": 0.0, "faults.error_503": 1.0})
    with pytest.raises(openai.InternalServerError) as info:
        _create(_client(mock, max_retries=0))
    assert info.value.status_code == 503


def test_sdk_retries_a_500_and_gives_up_after_max_retries(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=[*FAST, "openai.faults.error_500=1.0"], seed=1)
    statuses: list[int] = []
    hooks = {"response": [lambda resp: statuses.append(resp.status_code)]}
    client = _client(mock, max_retries=1, http_client=openai.DefaultHttpxClient(event_hooks=hooks))
    with pytest.raises(openai.InternalServerError):
        _create(client)
    assert statuses == [500, 500]


def test_stream_error_fault_raises_api_error_mid_stream(mock_server):
    mock = mock_server(["openai"], time_scale=0.01,
                       sets=[*FAST, "openai.output_tokens.median=20", "openai.faults.stream_error=1.0"], seed=1)
    received: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in _create(_client(mock, max_retries=0), stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert received, "the error came after some content, not instead of the stream"
    assert "server had an error" in info.value.message


# -- auth and bad requests ------------------------------------------------------------------

def test_invalid_key_is_authentication_error(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=1)
    with pytest.raises(openai.AuthenticationError) as info:
        _create(_client(mock, api_key="invalid-key-1234567890", max_retries=0))
    err = info.value
    assert err.status_code == 401
    assert err.code == "invalid_api_key"
    assert err.body["message"].startswith("Incorrect API key provided: ")
    assert "invalid-key-1234567890" not in err.body["message"]  # masked


def test_missing_key_is_401_in_openai_format(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=1)
    r = HTTP.post(f"{mock.url('openai')}/v1/chat/completions", json={"model": MODEL, "messages": MESSAGES}, timeout=5)
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["message"].startswith("You didn't provide an API key.")
    assert err["type"] == "invalid_request_error"
    assert set(err) == {"message", "type", "param", "code"}


def _post_raw(mock, content: bytes) -> httpx.Response:
    return HTTP.post(f"{mock.url('openai')}/v1/chat/completions", content=content, timeout=5,
                      headers={"Authorization": "Bearer sk-x", "Content-Type": "application/json"})


def test_invalid_json_is_400_with_openai_body(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=1)
    for content in (b'{"model": "gpt-5-nano", "messages": [', b"\xff\xfe", b""):
        r = _post_raw(mock, content)
        assert r.status_code == 400, content
        assert r.json() == {"error": {
            "message": r.json()["error"]["message"], "type": "invalid_request_error", "param": None, "code": None}}
        assert r.json()["error"]["message"].startswith("We could not parse the JSON body of your request.")


def test_missing_or_bad_messages_is_400_naming_the_parameter(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=1)
    r = _post_raw(mock, json.dumps({"model": MODEL}).encode())
    assert r.status_code == 400
    assert r.json()["error"] == {"message": "Missing required parameter: 'messages'.", "type": "invalid_request_error",
                                 "param": "messages", "code": "missing_required_parameter"}
    r = _post_raw(mock, json.dumps({"model": MODEL, "messages": "hi"}).encode())
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_type"
    r = _post_raw(mock, json.dumps({"model": MODEL, "messages": [42]}).encode())
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages[0]"
    r = _post_raw(mock, json.dumps({"messages": MESSAGES}).encode())
    assert r.status_code == 400 and r.json()["error"]["message"] == "you must provide a model parameter"


def test_sdk_raises_bad_request_for_invalid_max_tokens(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=1)
    with pytest.raises(openai.BadRequestError) as info:
        _create(_client(mock, max_retries=0), max_tokens=0)
    assert info.value.body["param"] == "max_tokens"
    assert info.value.code == "integer_below_min_value"


def test_unknown_path_is_openai_404_without_the_mock_prefix(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, seed=1)
    r = HTTP.get(f"{mock.url('openai')}/v1/chat/completions", headers={"Authorization": "Bearer sk-x"}, timeout=5)
    assert r.status_code == 404
    assert r.json() == {"error": {"message": "Invalid URL (GET /v1/chat/completions)",
                                  "type": "invalid_request_error", "param": None, "code": None}}
